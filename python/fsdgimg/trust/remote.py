"""Reading manifests and small blobs where images are published (registry or static tree on disk),
for the signatures and attachments that live beside an image. Everything read is bounded and its
digest checked; a hostile mirror gets one line, never trust."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.errors import InputError, UsageError
from fsdgimg.oci.digest import Digest
from fsdgimg.transports.location import parse

MAX_MANIFEST = 4 << 20
# An index of every architecture a distribution builds has a dozen children; nested indexes are rare
# (cosign walks them too). Bounds against a hostile index, not limits anyone should meet.
MAX_CHILDREN = 256
MAX_DEPTH = 3
INDEXES = ("application/vnd.oci.image.index.v1+json",
           "application/vnd.docker.distribution.manifest.list.v2+json")
ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"])


@dataclass
class Target:
    """Where an image is published: `docker://HOST/NAME[:TAG|@DIGEST]` or `static:DIR/NAME[:TAG]`."""
    kind: str                 # "docker" or "static"
    name: str                 # repository
    reference: str            # tag or digest
    registry: str | None = None
    root: Path | None = None
    insecure: bool = False
    _client: object = None
    options: object = None    # RegistryOptions (credentials, TLS); None: the environment and auth files
    # Referrers listings read through this target (and those made from it by with_reference: the same
    # repository), by subject digest: verify asks for the SBOMs and then for the bundles of one
    # digest. Every write through trust/attach, attachments or bundles clears it.
    listings: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def display(self) -> str:
        sep = "@" if self.reference.startswith("sha256:") else ":"
        if self.kind == "docker":
            return f"docker://{self.registry}/{self.name}{sep}{self.reference}"
        return f"static:{self.root}/{self.name}{sep}{self.reference}"

    @property
    def repository(self) -> str:
        """HOST/NAME for a registry (the docker-reference a signature names)."""
        return f"{self.registry}/{self.name}" if self.registry else self.name

    def client(self):
        if self._client is None and getattr(self.options, "client", None) is not None:
            from fsdgimg.transports.registry.connect import serves
            if serves(self.options.client, self.registry, self.name):
                self._client = self.options.client
        if self._client is None:
            # Credentials as for any registry access (options, else the environment and auth files),
            # sent to this registry only.
            from fsdgimg.transports.registry.connect import connect
            options = self.options
            if options is None:
                from fsdgimg.transports.options import RegistryOptions
                options = RegistryOptions(insecure=self.insecure)
            self._client = connect(self.registry, self.name, options, push=True)
        return self._client

    def with_reference(self, reference: str) -> "Target":
        return Target(self.kind, self.name, reference, self.registry, self.root, self.insecure, self._client,
                      self.options, self.listings)

    # -- reading ------------------------------------------------------------------------------
    def manifest(self, reference: str | None = None) -> tuple[bytes, str, Digest] | None:
        """(bytes, media type, digest) of a manifest, or None when the tag does not exist."""
        ref = reference or self.reference
        if self.kind == "docker":
            resp = self.client().request("GET", f"/v2/{self.name}/manifests/{ref}", what=f"manifest {ref}",
                                         headers={"Accept": ACCEPT}, allow=(404,), stream=True)
            with resp:
                if resp.status_code == 404:
                    return None
                data = resp.raw.read(MAX_MANIFEST + 1, decode_content=True)
                media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        else:
            path = self._static_manifest(ref)
            if path is None:
                return None
            data = path.read_bytes()[:MAX_MANIFEST + 1]
            from fsdgimg.transports.static.layout import MEDIA_TYPE_OF
            # A tag is a symlink to _manifests/DIGEST.KIND: the kind names the media type.
            kind = Path(os.path.realpath(path)).name.rsplit(".", 1)[-1]
            media_type = MEDIA_TYPE_OF.get(kind, "")
            if not media_type:
                raise InputError(f"{self.display}: manifest {ref} has no media type in this tree")
        if len(data) > MAX_MANIFEST:
            raise InputError(f"{self.display}: manifest {ref} is over {MAX_MANIFEST} bytes")
        digest = Digest.of(data)
        if ref.startswith("sha256:") and str(digest) != ref:
            raise InputError(f"{self.display}: manifest {ref} does not match its digest (got {digest})")
        return data, media_type, digest

    def _static_manifest(self, ref: str) -> Path | None:
        repo = self.root / "v2" / self.name
        if ref.startswith("sha256:"):
            found = sorted((repo / "_manifests").glob(f"{ref}.*")) if (repo / "_manifests").is_dir() else []
            return found[0] if found else None
        tag = repo / "_tags" / ref
        return tag if tag.exists() else None

    def blob(self, digest: str, limit: int) -> bytes:
        d = Digest.parse(digest)
        if self.kind == "docker":
            resp = self.client().request("GET", f"/v2/{self.name}/blobs/{d}", what=f"blob {d.short}",
                                         stream=True)
            with resp:
                data = resp.raw.read(limit + 1, decode_content=True)
        else:
            path = self.root / "v2" / self.name / "_blobs" / str(d)
            if not path.is_file():
                raise InputError(f"{self.display}: blob {d} is missing")
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        if len(data) > limit:
            raise InputError(f"{self.display}: blob {d.short} is over {limit} bytes")
        if Digest.of(data) != d:
            raise InputError(f"{self.display}: blob {d.short} does not match its digest")
        return data

    def resolve(self) -> Digest:
        found = self.manifest()
        if found is None:
            raise InputError(f"{self.display}: no such image")
        return found[2]


@dataclass(frozen=True)
class Child:
    """A manifest an index lists: its digest, media type and platform ("" when it has none)."""
    digest: Digest
    media_type: str
    platform: str

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEXES


def index_children(data: bytes, media_type: str, where: str) -> list[Child] | None:
    """The manifests an index lists (None when `data` is an image manifest), validated in shape."""
    from fsdgimg.oci.jsonio import bounded_list, load_json
    obj = load_json(data, where, MAX_MANIFEST)
    declared = obj.get("mediaType") if isinstance(obj, dict) else None
    if media_type not in INDEXES and declared not in INDEXES:
        return None
    manifests = bounded_list(obj, "manifests", where, MAX_CHILDREN, "index")
    out = []
    for n, d in enumerate(manifests, 1):
        if not isinstance(d, dict) or not isinstance(d.get("digest"), str) or not isinstance(d.get("mediaType"), str):
            raise InputError(f"{where}: index entry {n} is not a descriptor")
        try:
            digest = Digest.parse(d["digest"])
        except (InputError, ValueError):
            raise InputError(f"{where}: index entry {n} has an invalid digest") from None
        p = d.get("platform") if isinstance(d.get("platform"), dict) else {}
        plat = "/".join(str(p[k]) for k in ("os", "architecture", "variant") if isinstance(p.get(k), str) and p[k])
        out.append(Child(digest, d["mediaType"], plat))
    return out


def walk_tree(target: Target, data: bytes, media_type: str) -> Iterator[tuple[Child, tuple[Child, ...]]]:
    """Every manifest below an index with the nested indexes that lead to it (outermost first),
    depth first, children before the index that lists them (a nested index included, as cosign's
    --recursive walks it); nothing for an image manifest. The one place of the walk's bounds
    (MAX_DEPTH, MAX_CHILDREN in all), for signing and verifying alike."""
    seen = 0

    def below(t: Target, data: bytes, media_type: str, parents: tuple[Child, ...]):
        nonlocal seen
        children = index_children(data, media_type, f"{t.display}")
        if not children:
            return
        if len(parents) >= MAX_DEPTH:
            raise InputError(f"{t.display}: indexes nested more than {MAX_DEPTH} deep")
        for c in children:
            if c.is_index:
                one = t.with_reference(str(c.digest))
                found = one.manifest()
                if found is None:
                    raise InputError(f"{one.display}: listed by the index but missing")
                yield from below(one, found[0], found[1], (*parents, c))
            seen += 1
            if seen > MAX_CHILDREN:
                raise InputError(f"{target.display}: the index lists over {MAX_CHILDREN} manifests in all")
            yield c, parents

    yield from below(target, data, media_type, ())


def walk_index(target: Target, data: bytes, media_type: str) -> list[Child]:
    """Every manifest below an index (walk_tree's order and bounds). [] for an image manifest."""
    return [c for c, _ in walk_tree(target, data, media_type)]


def to_sign(target: Target, recursive: bool = True) -> tuple[Digest, list[Child]]:
    """What signing `target` covers, in signing order: the digest of the manifest it names and,
    for an index with `recursive` (as `cosign sign --recursive`), every manifest below it, children
    before the index (no index is ever signed over an unsigned child). Every one is checked present
    before anything is signed. The one walk of both signature formats (sigstore and OpenPGP)."""
    found = target.manifest()
    if found is None:
        raise InputError(f"{target.display}: no such image")
    data, media_type, digest = found
    children = walk_index(target, data, media_type) if recursive else []
    for child in children:
        one = target.with_reference(str(child.digest))
        if one.manifest() is None:
            raise InputError(f"{one.display}: listed by the index but missing")
    return digest, children


def target(text: str, insecure: bool = False, options=None) -> Target:
    """`options`: RegistryOptions for a docker:// REF (credentials, TLS); None: `insecure`, with the
    credentials of the environment or the auth files."""
    if text.startswith("static:"):
        return _static_target(text)
    loc = parse(text)
    if loc.kind == "docker":
        ref = loc.reference
        return Target("docker", ref.name, str(ref.digest) if ref.digest else ref.tag or "latest", registry=ref.registry,
                      insecure=insecure, options=options)
    raise UsageError(f"{text}: signatures and attachments live where images are published: "
                     "docker://HOST/NAME[:TAG] or static:DIR/NAME[:TAG]")


def _static_target(text: str) -> Target:
    """static:DIR/NAME[:TAG|@DIGEST]: DIR is the shortest leading path that holds v2/."""
    rest = text[len("static:"):]
    parts = Path(rest).parts
    for i in range(1, len(parts)):
        root = Path(*parts[:i])
        if (root / "v2").is_dir():
            image = "/".join(parts[i:])
            if "@" in image:
                name, _, ref = image.partition("@")
            else:
                head, _, last = image.rpartition("/")
                last, colon, tag = last.partition(":")
                name, ref = (head + "/" if head else "") + last, (tag if colon else "latest")
            return Target("static", name, ref, root=root)
    raise UsageError(f"{text}: no static tree (a directory holding v2/) on that path; "
                     "use static:DIR/NAME[:TAG]")


def own_place(text: str, name: str, insecure: bool = False, create: bool = False) -> Target:
    """Where someone publishes what they say about an image of another's (a rebuilder's
    attestation): `static:DIR` (the image's NAME inside it; made when `create`), `static:DIR/NAME`
    of an existing tree, or `docker://HOST/NAME`."""
    if text.startswith("static:"):
        root = Path(text[len("static:"):])
        if not (root / "v2").is_dir() and not any((p / "v2").is_dir() for p in root.parents):
            if not create:
                raise UsageError(f"{text}: no static tree there (a directory holding v2/)")
            (root / "v2").mkdir(parents=True, exist_ok=True)
        if (root / "v2").is_dir():
            return Target("static", name, "latest", root=root)
    return target(text, insecure=insecure)
