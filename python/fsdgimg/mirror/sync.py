"""Mirroring: every tag of a repository, or every repository of a static tree, from a registry or
static tree to another registry or static tree.

Sources and destinations:

    docker://HOST/NAME[:TAG]    a repository of a registry (every tag, or those `--tag` globs match)
    static:DIR/NAME[:TAG]       a repository of a static tree
    static:DIR                  every repository of a static tree (as a source)
    docker://HOST[/PREFIX]      as a destination: repositories keep their names (under PREFIX)
    static:DIR                  as a destination: repositories keep their names

A destination naming a repository (docker://HOST/NAME, static:DIR/NAME) receives a one-repository
source under that name. An image whose tag already names the same digest at the destination is left
alone (one HEAD or one symlink read); others are copied through the writers, which move only the
blobs the destination lacks, straight from the source (nothing staged, nothing recompressed). Tags move
last: first the content of every image (blobs and manifests, addressed by digest), then every tag,
so that no tag of the mirror ever names something not wholly there.

A mirror verifies like its origin: unless `signatures=False` (`--no-signatures`), every image's
cosign signatures, attachments and, between static trees, OpenPGP lookaside signatures and recorded
signers travel with it (carry.py), before its tag moves, so no client sees the mirror's tag
without its signatures. cosign's companion tags (`sha256-<hex>.sig`) and the referrers fallback tag
are never synced as images of their own.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fsdgimg.errors import InputError, UsageError
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.image import Artifact, Image, Index, blob_descriptors, walk
from fsdgimg.oci.reference import DOMAIN, Reference, check_name
from fsdgimg.transports.location import parse

MAX_TAG_PAGES = 10000


# -- where ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    """A registry host or a static tree, and maybe a repository (or, for a destination, a prefix)."""
    kind: str                      # "docker" or "static"
    host: str | None = None        # docker
    root: Path | None = None       # static
    name: str | None = None
    tag: str | None = None

    def __str__(self) -> str:
        base = f"docker://{self.host}" if self.kind == "docker" else f"static:{self.root}"
        return base + (f"/{self.name}" if self.name else "") + (f":{self.tag}" if self.tag else "")

    def image(self, name: str, tag: str | None = None) -> str:
        base = f"docker://{self.host}" if self.kind == "docker" else f"static:{self.root}"
        return f"{base}/{name}" + (f":{tag}" if tag else "")


def parse_place(text: str, role: str) -> Place:
    if text.startswith("docker://"):
        rest = text[len("docker://"):].rstrip("/")
        host, _, path = rest.partition("/")
        if "@" in rest:
            Reference.parse(rest)  # credentials in the reference: its own clear line
            raise UsageError(f"{text}: sync copies tags; name a repository, not a digest")
        if not DOMAIN.match(host):
            raise InputError(f"{text!r}: invalid registry host")
        if not path:
            return Place("docker", host=host)
        ref = Reference.parse(f"{host}/{path}", need_registry=True)
        return Place("docker", host=host, name=ref.name, tag=ref.tag)
    if text.startswith("static:"):
        loc = parse(text)
        ref = loc.reference
        if ref is not None and ref.digest is not None:
            raise UsageError(f"{text}: sync copies tags; name a repository, not a digest")
        return Place("static", root=loc.path, name=ref.name if ref else None, tag=ref.tag if ref else None)
    raise UsageError(f"{text}: sync reads and writes docker://HOST/NAME and static:DIR[/NAME] locations ({role})")


# -- what -------------------------------------------------------------------------------------
@dataclass
class Item:
    source: str
    destination: str
    name: str          # destination repository
    tag: str
    digest: str = ""
    state: str = ""    # copied, unchanged, would copy, failed
    blobs_missing: int = 0
    bytes_missing: int = 0
    trust: dict = field(default_factory=dict)   # what of its signatures and attachments was (dry: would be) carried

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class SyncReport:
    source: str
    destination: str
    dry_run: bool
    images: list[Item] = field(default_factory=list)
    copied: int = 0
    unchanged: int = 0
    tags_moved: int = 0
    blobs_sent: int = 0
    blobs_mounted: int = 0
    bytes_sent: int = 0
    signatures: bool = True
    signatures_copied: int = 0       # cosign companion tags written
    attachments_copied: int = 0
    openpgp_signatures_copied: int = 0
    signers_recorded: int = 0
    signer_records: list[str] = field(default_factory=list)   # their file names in _web/signers/
    seconds: float = 0.0

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "images"}
        out["images"] = [i.to_json() for i in self.images]
        return out


def list_tags(client, name: str, page: int = 1000) -> list[str]:
    """Every tag of a registry repository: /v2/NAME/tags/list, following `Link: <...>; rel="next"`."""
    tags: list[str] = []
    url: str | None = f"/v2/{name}/tags/list?n={page}"
    seen = set()
    for _ in range(MAX_TAG_PAGES):
        if url is None:
            break
        if url in seen:
            raise InputError(f"registry {client.registry}: the tag list of {name} links back to itself")
        seen.add(url)
        resp = client.request("GET", url, what=f"list the tags of {name}", allow=(404,))
        try:
            if resp.status_code == 404:
                raise InputError(f"docker://{client.registry}/{name}: no such repository")
            body = resp.json()
        except ValueError:
            raise InputError(f"registry {client.registry}: the tag list of {name} is not JSON") from None
        finally:
            resp.close()
        page = body.get("tags") if isinstance(body, dict) else None
        if page is not None and not (isinstance(page, list) and all(isinstance(t, str) for t in page)):
            raise InputError(f"registry {client.registry}: the tag list of {name} is not a list of strings")
        tags += page or []
        url = _next_link(resp.headers.get("Link"))
        if url is not None and not client.same_origin(client.url(url)):
            raise InputError(f"registry {client.registry}: the tag list of {name} continues on another host")
    return list(dict.fromkeys(tags))


def _next_link(header: str | None) -> str | None:
    for part in (header or "").split(","):
        m = re.match(r'\s*<([^>]*)>\s*;(.*)', part)
        if m and re.search(r'rel="?next"?', m.group(2)):
            return m.group(1)
    return None


def _images(tags) -> list[str]:
    """Tags that name images: not cosign's `sha256-<hex>.sig` (and .att, .sbom) nor the referrers
    fallback `sha256-<hex>`, which travel with the image they are about (carry.py)."""
    from fsdgimg.mirror.carry import is_companion
    return [t for t in tags if not is_companion(t)]


def _matching(tags: list[str], globs: list[str]) -> list[str]:
    if not globs:
        return sorted(tags)
    return sorted(t for t in tags if any(fnmatch.fnmatchcase(t, g) for g in globs))


# -- the work ---------------------------------------------------------------------------------
class _Counting:
    """A blob source whose streams advance a progress bar (local files are linked, not counted)."""

    def __init__(self, inner, advance: Callable[[int], None]):
        self._inner = inner
        self._advance = advance

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def open(self, desc, what=None):
        reader = self._inner.open(desc, what)
        outer = self

        class _R:
            def read(self, n=-1):
                data = reader.read(n)
                outer._advance(len(data))
                return data

            def close(self):
                reader.close()

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                reader.close()
        return _R()


def _with_blobs(x: Artifact, wrap) -> Artifact:
    if isinstance(x, Index):
        return dataclasses.replace(x, children=[_with_blobs(c, wrap) for c in x.children], blobs=wrap(x.blobs))
    return dataclasses.replace(x, blobs=wrap(x.blobs))


class Syncer:
    def __init__(self, src: Place, dest: Place, *, tags: list[str] = (), dry_run: bool = False,
                 source_options=None, dest_options=None, static_options=None, progress: bool | None = None,
                 signatures: bool = True):
        self.src, self.dest = src, dest
        self.signatures = signatures
        self.globs = list(tags)
        self.dry_run = dry_run
        self.source_options = source_options
        self.dest_options = dest_options
        self.static_options = static_options
        self.progress = progress
        self._clients: dict[tuple[str, str, bool], object] = {}
        if dest.tag:
            raise UsageError(f"{dest}: a sync destination names no tag (tags keep their names)")
        if src.kind == "docker" and not src.name:
            raise UsageError(f"{src}: name the repository to sync (docker://HOST/NAME)")

    def close(self) -> None:
        for c in self._clients.values():
            c.close()

    def _client(self, host: str, name: str, push: bool):
        from fsdgimg.transports.registry.connect import connect
        key = (host, name, push)
        if key not in self._clients:
            self._clients[key] = connect(host, name, self.dest_options if push else self.source_options, push=push)
        return self._clients[key]

    # which images
    def plan(self) -> list[tuple[str, str, str]]:
        """(source repository, tag, destination repository) for every image to consider."""
        src, out = self.src, []
        if src.kind == "docker":
            tags = [src.tag] if src.tag else _matching(_images(list_tags(self._client(src.host, src.name, False),
                                                                         src.name)), self.globs)
            repos = [(src.name, tags)]
        else:
            from fsdgimg.transports.static.layout import Tree
            tree = Tree(src.root)
            if not tree.v2.is_dir():
                raise InputError(f"static:{src.root}: not a static tree (no v2/ directory)")
            names = [src.name] if src.name else tree.repositories()
            repos = []
            for n in names:
                have = list(tree.tags(n))
                if src.name and not (tree.v2 / n).is_dir():
                    raise InputError(f"static:{src.root}: no repository {n!r}")
                repos.append((n, [src.tag] if src.tag else _matching(_images(have), self.globs)))
        single = src.name is not None
        for name, tags in repos:
            if single and self.dest.name:
                target = self.dest.name
            elif self.dest.name:
                if self.dest.kind == "static":
                    raise UsageError(f"{self.dest}: a whole tree goes to static:DIR, without a repository")
                target = f"{self.dest.name}/{name}"
            else:
                target = name
            check_name(target)
            out += [(name, t, target) for t in tags]
        return out

    def _open(self, name: str, tag: str) -> Artifact:
        if self.src.kind == "docker":
            from fsdgimg.transports.registry.pull import read_registry
            return read_registry(self._client(self.src.host, name, False), Reference(self.src.host, name, tag))
        from fsdgimg.transports.static.read import read_static
        return read_static(self.src.root, name, tag)

    def _dest_digest(self, name: str, tag: str) -> Digest | None:
        if self.dest.kind == "docker":
            from fsdgimg.transports.registry.push import Pusher
            return Pusher(self._client(self.dest.host, name, True), name).manifest_digest(tag)
        from fsdgimg.transports.static.layout import Tree, read_tag_link
        target = read_tag_link(Tree(self.dest.root).tag_path(name, tag))
        return target[0] if target else None

    def _missing(self, artifact: Artifact, name: str) -> tuple[int, int]:
        blobs = {d.digest: d for x in walk(artifact) if isinstance(x, Image) for d in blob_descriptors(x)}
        if self.dest.kind == "docker":
            from fsdgimg.transports.registry.push import Pusher
            pusher = Pusher(self._client(self.dest.host, name, True), name)
            missing = [d for d in blobs.values() if not pusher.has_blob(d.digest)]
        else:
            from fsdgimg.transports.static.layout import Tree
            tree = Tree(self.dest.root)
            missing = [d for d in blobs.values() if not tree.store_path(d.digest).is_file()]
        return len(missing), sum(d.size for d in missing)

    def _write(self, artifact: Artifact, name: str, tag: str | None) -> dict:
        """Content (tag None: addressed by its digest) or the tag, through the one writer."""
        from fsdgimg.transports.location import Location
        from fsdgimg.transports.options import RegistryOptions, StaticOptions, WriteOptions
        from fsdgimg.transports.write import write
        if self.dest.kind == "docker":
            ref = Reference(self.dest.host, name, tag, None if tag else artifact.digest)
            opts = self.dest_options or RegistryOptions()
            if self.src.kind == "docker" and self.src.host == self.dest.host:
                opts = dataclasses.replace(opts, mount_from=[*opts.mount_from, *self._src_names])
            return write(artifact, Location("docker", reference=ref), WriteOptions(registry=opts)).report
        static = self.static_options or StaticOptions()
        if tag is None:
            # A static tree's content without a tag: the static writer's publisher, given no tag.
            from fsdgimg.transports.static.writer import StaticPublisher
            report = StaticPublisher(self.dest.root, fsync=static.fsync, link=static.link).publish(artifact, name, None)
            return dict(report.__dict__)
        return write(artifact, Location("static", Path(self.dest.root)),
                     WriteOptions(name=f"{name}:{tag}", static=static)).report

    # signatures and attachments
    def _target(self, place: Place, name: str, push: bool):
        from fsdgimg.trust.remote import Target
        if place.kind == "docker":
            opts = self.dest_options if push else self.source_options
            return Target("docker", name, "latest", registry=place.host, insecure=bool(opts and opts.insecure),
                          _client=self._client(place.host, name, push), options=opts)
        return Target("static", name, "latest", root=Path(place.root))

    def _carrier(self):
        from fsdgimg.mirror.carry import TrustCarrier
        return TrustCarrier(lambda n: self._target(self.src, n, False), lambda n: self._target(self.dest, n, True),
                            Path(self.src.root) if self.src.kind == "static" else None,
                            Path(self.dest.root) if self.dest.kind == "static" else None, dry_run=self.dry_run)

    def _carry(self, report: SyncReport, carried: list[tuple[Item, Artifact, str]]) -> list[str]:
        """Every image's signatures and attachments to the destination (a dry run: what would be
        carried, nothing written); the destination repositories that got some."""
        carrier = self._carrier()
        if self.src.kind == "static" and self.dest.kind == "static":
            report.signer_records = carrier.carry_signers()
            report.signers_recorded = len(report.signer_records)
        names = []
        for item, artifact, src_name in carried:
            got = carrier.carry(src_name, item.name, [x.digest for x in walk(artifact)])
            item.trust = got.to_json()
            report.signatures_copied += got.signatures
            report.attachments_copied += got.attachments
            report.openpgp_signatures_copied += got.openpgp
            if got and item.name not in names:
                names.append(item.name)
        if report.signers_recorded and self.dest.kind == "static":
            names = sorted({i.name for i, _, _ in carried})
        return names

    def _refresh_pages(self, names: list[str]) -> None:
        """The destination tree's page again, for signatures added beside tags that did not move."""
        from fsdgimg.transports.static import files
        from fsdgimg.transports.static.writer import StaticPublisher
        with files.tree_lock(Path(self.dest.root), "sync"):
            publisher = StaticPublisher(self.dest.root)
            publisher.recover()
            publisher.refresh_pages(names)

    def run(self) -> SyncReport:
        from fsdgimg.progress import Progress
        start = time.monotonic()
        report = SyncReport(str(self.src), str(self.dest), self.dry_run, signatures=self.signatures)
        todo = self.plan()
        self._src_names = sorted({n for n, _, _ in todo})
        pending: list[tuple[Item, Artifact]] = []
        considered: list[tuple[Item, Artifact, str]] = []
        for i, (name, tag, target) in enumerate(todo, 1):
            item = Item(self.src.image(name, tag), self.dest.image(target, tag), target, tag)
            report.images.append(item)
            artifact = self._open(name, tag)
            item.digest = str(artifact.digest)
            considered.append((item, artifact, name))
            if self._dest_digest(target, tag) == artifact.digest:
                item.state = "unchanged"
                report.unchanged += 1
                continue
            item.blobs_missing, item.bytes_missing = self._missing(artifact, target)
            if self.dry_run:
                item.state = "would copy"
                continue
            with Progress(f"[{i}/{len(todo)}] {item.destination}", item.bytes_missing or None,
                          enabled=self.progress) as bar:
                counted = _with_blobs(artifact, lambda b: _Counting(b, bar.advance))
                written = self._write(counted, target, None)
            report.blobs_sent += written.get("blobs_sent", written.get("blobs_written", 0))
            report.blobs_mounted += written.get("blobs_mounted", 0)
            report.bytes_sent += written.get("bytes_sent", written.get("bytes_written", 0))
            pending.append((item, artifact))
        # Signatures before the tags: a client with a signature policy never sees a tag unsigned.
        # A dry run reads them all the same, to say what it would carry.
        touched = self._carry(report, considered) if self.signatures else []
        for item, artifact in pending:  # tags last, each once its image is wholly there
            self._write(artifact, item.name, item.tag)
            item.state = "copied"
            report.copied += 1
            report.tags_moved += 1
        if touched and self.dest.kind == "static" and not self.dry_run:
            self._refresh_pages(touched)
        report.seconds = round(time.monotonic() - start, 3)
        return report


def sync(src: str, dest: str, **kw) -> SyncReport:
    syncer = Syncer(parse_place(src, "source"), parse_place(dest, "destination"), **kw)
    try:
        return syncer.run()
    finally:
        syncer.close()
