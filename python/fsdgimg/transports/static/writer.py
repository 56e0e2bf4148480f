"""Publishing an Image or Index into a static tree, atomically per image.

Order: blobs (into the shared store, then linked into the repository), then manifests (children of an
index before the index); then every file the publish changes is staged beside its final name (the tag
symlinks, tags lists, catalog, Apache tag map, referrers, index.html, web configurations), and only
when all of them are written do the renames run: the tags first, then the files derived from them.
Renames need no space, so a full disk or any other failure before them leaves the tree exactly as it
was, and the publish says so; after them there is nothing left that can fail for want of space.

What an attempt creates (blobs, manifests) is listed first in an attempt journal (JOURNAL, beside
v2/). A failed attempt removes those files itself; one that was killed leaves the journal, and the
next publish or `gc` (both hold the tree's lock, so that writer is gone) removes them then, or, if its
tags had moved already, completes it. Whatever is already there with the same content is not written
again.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.errors import DigestMismatch, FsdgimgError, InputError
from fsdgimg.oci.descriptor import Descriptor
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.image import Artifact, Image, blob_descriptors, walk
from fsdgimg.oci.jsonio import dump_json
from fsdgimg.oci.reference import check_name, check_tag
from fsdgimg.transports.static import files, responses, webconfig
from fsdgimg.transports.static.layout import KIND_OF, Tree, check_kind, read_tag_link, tag_target


@dataclass
class StaticReport:
    destination: str
    name: str
    tag: str | None
    digest: str
    blobs_total: int = 0
    blobs_written: int = 0
    blobs_linked: int = 0  # of blobs_written: hard links to the source's own files (same file system)
    bytes_written: int = 0
    manifests_written: int = 0
    tag_moved: bool = False
    files_rewritten: list[str] = field(default_factory=list)
    recovered: str | None = None  # what was done with a killed attempt's journal: "removed", "completed"
    seconds: float = 0.0


JOURNAL = ".fsdgimg-attempt.json"


def stored_web_options(tree: Tree) -> dict:
    """The options a tree was last published with (`_web/options.json`), each checked again: the file
    may have been edited since, and its values go into web-server configurations and the page."""
    path = tree.web / "options.json"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    try:
        options = json.loads(data)
    except ValueError:
        raise InputError(f"{path}: not JSON; fix or remove the file") from None
    return webconfig.check_options(options, str(path))


def _blob_source_path(image: Image, digest: Digest) -> Path | None:
    path_of = getattr(image.blobs, "path", None)
    if path_of is None:
        return None
    p = path_of(digest)  # None: no local file (a registry): the blob streams from blobs.open()
    return Path(p) if p is not None and Path(p).is_file() else None


class StaticPublisher:
    def __init__(self, root: Path, *, fsync: bool = True, jobs: int = 2, web_options: dict | None = None,
                 link: bool = True):
        self.tree = Tree(root)
        self.fsync = fsync
        self.link = link
        self._counting = threading.Lock()
        self.jobs = jobs
        if web_options is None:
            self.web_options = stored_web_options(self.tree)
        else:
            self.web_options = webconfig.check_options(web_options)
        self._referrers: dict[Path, bytes] = {}
        self._added = 0  # bytes this publish added to the store (the page's total is kept incrementally)

    # --- blobs and manifests (content by digest: new files, listed in the journal first) -----------
    def _store_blob(self, image: Image, desc: Descriptor, report: StaticReport) -> None:
        final = self.tree.store_path(desc.digest)
        if final.is_file():
            if final.stat().st_size != desc.size:
                raise InputError(f"{final}: holds {final.stat().st_size} bytes, but blob {desc.digest.short} "
                                 f"has {desc.size}: the tree is damaged (remove the file and publish again)")
            return
        source = _blob_source_path(image, desc.digest)
        files.make_dirs(final.parent)
        linked = source is not None and self.link and files.link_verified(source, final, desc.digest, desc.size,
                                                                         fsync=self.fsync)
        if not linked and source is not None:
            files.copy_verified(source, final, desc.digest, desc.size, fsync=self.fsync)
        elif not linked:
            with image.blobs.open(desc) as reader:
                files.copy_stream_verified(reader, final, fsync=self.fsync)
        with self._counting:  # several blobs are stored at once
            report.blobs_linked += linked
            report.blobs_written += 1
            report.bytes_written += desc.size

    def _store_manifest(self, x: Artifact, name: str, report: StaticReport) -> Path:
        data = x.manifest.to_bytes()
        digest = Digest.of(data)
        if digest != x.digest:
            raise DigestMismatch(f"{x.where}: manifest bytes do not hash to {x.digest}")
        check_kind(x.manifest.media_type, x.where)
        store = self.tree.store_path(digest)
        if not store.is_file():
            files.write_bytes(store, data, fsync=self.fsync)
        path = self.tree.manifest_path(name, digest, x.manifest.media_type)
        if files.link(store, path):
            report.manifests_written += 1
        self._note_referrer(name, data, digest, x.manifest.media_type)
        return path

    def _note_referrer(self, name: str, data: bytes, digest: Digest, media_type: str) -> None:
        """A manifest with a `subject` (a signature, an SBOM) is listed in its subject's referrers index,
        which GET /v2/NAME/referrers/SUBJECT serves (staged with the tag: it changes with the publish)."""
        obj = json.loads(data)
        subject = obj.get("subject") if isinstance(obj, dict) else None
        if not isinstance(subject, dict):
            return
        subject_digest = Digest.parse(str(subject.get("digest")))
        entry = {"mediaType": media_type, "digest": str(digest), "size": len(data)}
        artifact_type = obj.get("artifactType") or (obj.get("config") or {}).get("mediaType")
        if isinstance(artifact_type, str):
            entry["artifactType"] = artifact_type
        if isinstance(obj.get("annotations"), dict) and obj["annotations"]:
            entry["annotations"] = obj["annotations"]
        path = self.tree.referrers_path(name, subject_digest)
        try:
            index = json.loads(self._referrers.get(path) or path.read_bytes())
            listed = [d for d in index["manifests"] if isinstance(d, dict) and d.get("digest") != str(digest)]
        except (OSError, ValueError, KeyError, TypeError):
            listed = []
        index = dict(responses.EMPTY_REFERRERS, manifests=sorted([*listed, entry], key=lambda d: d["digest"]))
        self._referrers[path] = dump_json(index)

    # --- the attempt journal ---------------------------------------------------------------------------
    def _new_paths(self, artifact: Artifact, name: str, blobs) -> list[Path]:
        paths = []
        for _, d in blobs:
            paths += [self.tree.store_path(d.digest), self.tree.blob_path(name, d.digest)]
        for x in walk(artifact):
            paths += [self.tree.store_path(x.digest), self.tree.manifest_path(name, x.digest, x.manifest.media_type)]
        return [p for p in dict.fromkeys(paths) if not os.path.lexists(p)]

    def _begin(self, name: str, tags: list[str], artifact: Artifact, created: list[Path]) -> Path:
        journal = self.tree.root / JOURNAL
        record = {"name": name, "tags": tags, "digest": str(artifact.digest),
                  "created": [str(p.relative_to(self.tree.root)) for p in created]}
        files.write_bytes(journal, dump_json(record), fsync=self.fsync)
        return journal

    def _undo(self, created: list[Path]) -> None:
        for path in reversed(created):  # repository links before the store files they link
            try:
                path.unlink()
            except OSError:
                pass

    def recover(self) -> str | None:
        """Deal with the journal a killed attempt left (the caller holds the tree's lock)."""
        journal = self.tree.root / JOURNAL
        try:
            record = json.loads(journal.read_bytes())
            name, tags, digest = record["name"], record["tags"], record["digest"]
            created = [self.tree.root / p for p in record["created"]]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            journal.unlink(missing_ok=True)
            return "unreadable"
        if not all(os.path.normpath(p).startswith(f"{self.tree.v2}{os.sep}") for p in created):
            journal.unlink(missing_ok=True)
            return "unreadable"
        current = {t: read_tag_link(self.tree.tag_path(name, t)) for t in tags} if isinstance(tags, list) else {}
        if tags and all(v is not None and str(v[0]) == digest for v in current.values()):
            outcome = "completed"  # killed after its tags moved: its files are in use; finish the rest
            self._commit(self._stage(self._derived([name])), [])
        else:
            outcome = "removed"
            self._undo(created)
        journal.unlink(missing_ok=True)
        return outcome

    # --- publishing ------------------------------------------------------------------------------------
    def publish(self, artifact: Artifact, name: str, tag: str | None,
                additional_tags: list[str] = ()) -> StaticReport:
        start = time.monotonic()
        check_name(name)
        tags = list(dict.fromkeys([t for t in (tag, *additional_tags) if t is not None]))
        for t in tags:
            check_tag(t)
        for x in walk(artifact):
            check_kind(x.manifest.media_type, x.where)
        report = StaticReport(str(self.tree.root), name, tag, str(artifact.digest))
        with files.tree_lock(self.tree.root, "publish"):
            report.recovered = self.recover()
            blobs: dict[Digest, tuple[Image, Descriptor]] = {}
            for x in walk(artifact):
                if isinstance(x, Image):
                    for d in blob_descriptors(x):
                        blobs.setdefault(d.digest, (x, d))
            report.blobs_total = len(blobs)
            order = sorted(blobs.values(), key=lambda item: -item[1].size)
            created = self._new_paths(artifact, name, order)
            self._added = 0
            journal = None
            staged: list[tuple[Path, Path]] = []
            stage = "starting"
            try:
                journal = self._begin(name, tags, artifact, created)
                stage = "writing blobs"
                with cf.ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="static") as pool:
                    for fut in [pool.submit(self._store_blob, img, d, report) for img, d in order]:
                        fut.result()
                for img, d in order:
                    files.link(self.tree.store_path(d.digest), self.tree.blob_path(name, d.digest))
                stage = "writing manifests"
                for x in walk(artifact):
                    self._store_manifest(x, name, report)
                stage = "staging the tags, tag lists, catalog and page"
                self._added = sum(p.stat().st_size for p in created if p.parent == self.tree.store)
                self.tree.pending = {name: {t: (artifact.digest, artifact.manifest.media_type) for t in tags}}
                staged = self._stage_tags(name, tags, artifact, report)
                staged += self._stage(self._derived([name]))
            except BaseException as e:
                for tmp, _ in staged:
                    tmp.unlink(missing_ok=True)
                self._undo(created)
                if journal is not None:
                    journal.unlink(missing_ok=True)
                if isinstance(e, OSError):
                    what = f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")
                    raise FsdgimgError(f"static:{self.tree.root}: publishing {name}:{tag} failed {stage} ({what}); "
                                       "nothing changed: the tree serves what it served before and what this "
                                       "attempt wrote is removed") from None
                raise
            finally:
                self.tree.pending = {}
            # From here on only renames: the tags first, then what is derived from them.
            self._commit(staged, report.files_rewritten)
            self._touch_previous(name, report)
            journal.unlink(missing_ok=True)
        report.seconds = time.monotonic() - start
        return report

    def _stage_tags(self, name: str, tags: list[str], artifact: Artifact, report: StaticReport):
        staged = []
        target = tag_target(artifact.digest, artifact.manifest.media_type)
        self._previous = []
        for t in tags:
            link = self.tree.tag_path(name, t)
            try:
                if os.readlink(link) == target:
                    continue
            except OSError:
                pass
            previous = read_tag_link(link)
            if previous and previous[0] != artifact.digest:
                self._previous.append(previous)
            files.make_dirs(link.parent)
            tmp = files.tmp_name(link)
            tmp.unlink(missing_ok=True)
            staged.append((tmp, link))
            os.symlink(target, tmp)
            report.tag_moved = True
        return staged

    def _touch_previous(self, name: str, report: StaticReport) -> None:
        # A moved tag's old target stays served (and its blobs with it) for gc's grace period from now on.
        for previous in getattr(self, "_previous", []):
            try:
                os.utime(self.tree.manifest_path(name, *previous))
            except OSError:
                pass
        self._previous = []

    # --- derived files: computed, staged beside their final names, then renamed ------------------------
    def _derived(self, names: list[str] | None, recount: bool = False) -> dict[Path, bytes]:
        """The content every derived file should have now (tags lists of `names`, or of all)."""
        from fsdgimg.transports.static import page as catalog
        out: dict[Path, bytes] = {self.tree.v2 / "index.json": b"{}",
                                  self.tree.web / "options.json": dump_json(dict(sorted(self.web_options.items()))),
                                  self.tree.v2 / "_referrers-none.json": dump_json(responses.EMPTY_REFERRERS)}
        for code, body in responses.error_documents().items():
            out[self.tree.web / "errors" / f"{code}.json"] = body.encode()
        out.update(self._referrers)
        self.tree.staged_referrers = dict(self._referrers)
        repos = self._repositories(names)
        for name in (names if names is not None else repos):
            out[self.tree.tags_list_path(name)] = dump_json({"name": name, "tags": sorted(self.tree.tags(name))})
        out[self.tree.v2 / "_catalog.json"] = dump_json({"repositories": repos})
        out[self.tree.web / "tags.map"] = self._tag_map(repos, names)
        stored = self.tree.web / "pages" / "stored"
        try:
            total = None if names is None or recount else int(stored.read_text()) + self._added
        except (OSError, ValueError):
            total = None
        if total is None:
            total = catalog.stored_bytes(self.tree)
        out[stored] = str(total).encode()
        out.update(catalog.page_files(self.tree, repos, names, self.web_options.get("public_host"), total))
        for kind, filename in webconfig.FILES.items():
            out[self.tree.web / filename] = webconfig.render(
                kind, self.tree.root, **{k: v for k, v in self.web_options.items()
                                         if k in ("server_name", "listen")}).encode()
        out[self.tree.web / "tag.txt"] = webconfig.caddy_tag_template(self.tree.root).encode()
        out[self.tree.web / "list.txt"] = webconfig.caddy_list_template().encode()
        return out

    def _repositories(self, names: list[str] | None) -> list[str]:
        """Every repository: the catalog and `names` for a publish (no walk over a big tree), the walk
        for a full refresh."""
        if names is not None:
            try:
                listed = json.loads((self.tree.v2 / "_catalog.json").read_bytes())["repositories"]
                if isinstance(listed, list) and all(isinstance(n, str) for n in listed):
                    return sorted(set(listed) | set(names))
            except (OSError, ValueError, KeyError, TypeError):
                pass
        return self.tree.repositories()

    def _tag_map(self, repos: list[str], names: list[str] | None) -> bytes:
        """Apache's and Caddy's tag map (one line a tag, in no particular order: both look a tag up by
        its key): for a publish, the lines of `names` replaced, the rest of the file kept as it is."""
        def lines(name: str) -> bytes:
            return "".join(f"{name}/{tag} {digest}.{KIND_OF[media_type]}\n"
                           for tag, (digest, media_type) in self.tree.tags(name).items()).encode()
        if names is not None:
            try:
                data = (self.tree.web / "tags.map").read_bytes()
            except OSError:
                data = None
            if data is not None:
                for name in names:
                    pattern = re.compile(rb"(?m)^" + re.escape(name.encode()) + rb"/[^/ \n]+ [^\n]*\n")
                    new = lines(name)
                    if b"".join(m.group(0) for m in pattern.finditer(data)) != new:  # else: left as it is
                        data = pattern.sub(b"", data) + new
                return data
        return b"".join(lines(name) for name in repos)

    def _stage(self, contents: dict[Path, bytes]) -> list[tuple[Path, Path]]:
        """Write every changed file at a temporary name beside its final one; on any failure remove
        them all and raise (nothing of the tree changed)."""
        staged: list[tuple[Path, Path]] = []
        try:
            for final, data in contents.items():
                try:
                    if final.stat().st_size == len(data) and final.read_bytes() == data:
                        continue
                except OSError:
                    pass
                files.make_dirs(final.parent)
                tmp = files.tmp_name(final)
                staged.append((tmp, final))
                with open(tmp, "wb") as f:
                    f.write(data)
                    if self.fsync:
                        f.flush()
                        os.fsync(f.fileno())
                os.chmod(tmp, 0o644)
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        return staged

    def _commit(self, staged: list[tuple[Path, Path]], changed: list[str]) -> None:
        for tmp, final in staged:
            os.replace(tmp, final)
            changed.append(str(final.relative_to(self.tree.root)))
        self._referrers = {}
        self._added = 0

    def refresh_pages(self, names: list[str]) -> None:
        """Render again only the page sections of the repositories `names`, and index.html: what a
        signature written beside published images changes (no tag, list or configuration moves)."""
        from fsdgimg.transports.static import page as catalog
        try:
            total = int((self.tree.web / "pages" / "stored").read_text())
        except (OSError, ValueError):
            total = None
        self._commit(self._stage(catalog.page_files(self.tree, self._repositories(names), names,
                                                    self.web_options.get("public_host"), total)), [])

    def refresh(self, report: StaticReport | None = None, names: list[str] | None = None,
                recount: bool = False) -> None:
        """Rewrite the derived files (tags lists, catalog, tag map, index.html, web configurations)
        where their content changed: those of the repositories `names`, or of all; `recount` counts
        the store again for the page's total (after gc)."""
        self._commit(self._stage(self._derived(names, recount)), report.files_rewritten if report else [])
