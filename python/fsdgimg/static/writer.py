"""Publishing an Image or Index into a static tree, atomically per image.

Order: blobs (into the shared store, then linked into the repository), then manifests (children of an
index before the index), then the tag, then the derived files (tags list, catalog, Apache tag map,
index.html, web configurations); every file appears by rename. A publish killed at any moment leaves
the previous tag target fully served; leftovers are only unreferenced files and temporaries, which
`fsdgimg gc` removes. Whatever is already there with the same content is not written again.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.descriptor import Descriptor
from fsdgimg.digest import Digest
from fsdgimg.errors import DigestMismatch, InputError
from fsdgimg.image import Artifact, Image, blob_descriptors, walk
from fsdgimg.jsonio import dump_json
from fsdgimg.reference import check_name, check_tag
from fsdgimg.static import files, responses, webconfig
from fsdgimg.static.layout import Tree, check_kind, read_tag_link, tag_target


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
    seconds: float = 0.0


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
        self._record_referrer(name, data, digest, x.manifest.media_type, report)
        return path

    def _record_referrer(self, name: str, data: bytes, digest: Digest, media_type: str,
                         report: StaticReport) -> None:
        """A manifest with a `subject` (a signature, an SBOM) is listed in its subject's referrers index,
        which GET /v2/NAME/referrers/SUBJECT serves."""
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
            index = json.loads(path.read_bytes())
            listed = [d for d in index["manifests"] if isinstance(d, dict) and d.get("digest") != str(digest)]
        except (OSError, ValueError, KeyError, TypeError):
            listed = []
        index = dict(responses.EMPTY_REFERRERS, manifests=sorted([*listed, entry], key=lambda d: d["digest"]))
        if files.write_bytes(path, dump_json(index), fsync=self.fsync):
            report.files_rewritten.append(str(path.relative_to(self.tree.root)))

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
            self._ensure_base(report)
            blobs: dict[Digest, tuple[Image, Descriptor]] = {}
            for x in walk(artifact):
                if isinstance(x, Image):
                    for d in blob_descriptors(x):
                        blobs.setdefault(d.digest, (x, d))
            report.blobs_total = len(blobs)
            order = sorted(blobs.values(), key=lambda item: -item[1].size)
            with cf.ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="static") as pool:
                for fut in [pool.submit(self._store_blob, img, d, report) for img, d in order]:
                    fut.result()
            for img, d in order:
                files.link(self.tree.store_path(d.digest), self.tree.blob_path(name, d.digest))
            for x in walk(artifact):
                self._store_manifest(x, name, report)
            for t in tags:  # after everything they reach, each by one rename
                report.tag_moved |= self._set_tag(name, t, artifact)
            self.refresh(report, names=[name])
        report.seconds = time.monotonic() - start
        return report

    def _set_tag(self, name: str, tag: str, artifact: Artifact) -> bool:
        link = self.tree.tag_path(name, tag)
        previous = read_tag_link(link)
        target = tag_target(artifact.digest, artifact.manifest.media_type)
        if not files.symlink(target, link):
            return False
        if previous and previous[0] != artifact.digest:
            # The old target stays served (and its blobs with it) for gc's grace period from now on.
            old = self.tree.manifest_path(name, *previous)
            try:
                os.utime(old)
            except OSError:
                pass
        return True

    def _ensure_base(self, report: StaticReport) -> None:
        if files.write_bytes(self.tree.v2 / "index.json", b"{}", fsync=self.fsync):
            report.files_rewritten.append("v2/index.json")
        if files.write_bytes(self.tree.web / "options.json", dump_json(dict(sorted(self.web_options.items()))),
                             fsync=self.fsync):
            report.files_rewritten.append("_web/options.json")
        self._write_fixed(report.files_rewritten)

    def _write_fixed(self, changed: list[str]) -> None:
        """The files every server answers with whatever was published: the empty referrers index and
        the JSON bodies of errors (Apache serves them as ErrorDocuments)."""
        fixed = {self.tree.v2 / "_referrers-none.json": dump_json(responses.EMPTY_REFERRERS)}
        for code, body in responses.error_documents().items():
            fixed[self.tree.web / "errors" / f"{code}.json"] = body.encode()
        for path, data in fixed.items():
            if files.write_bytes(path, data, fsync=self.fsync):
                changed.append(str(path.relative_to(self.tree.root)))

    def refresh(self, report: StaticReport | None = None, names: list[str] | None = None) -> None:
        """Rewrite the derived files (tags lists, catalog, tag map, index.html, web configurations)
        where their content changed."""
        from fsdgimg.static import catalog
        changed = report.files_rewritten if report else []
        self._write_fixed(changed)
        repos = self.tree.repositories()
        for name in (names if names is not None else repos):
            tags = sorted(self.tree.tags(name))
            path = self.tree.tags_list_path(name)
            if files.write_bytes(path, dump_json({"name": name, "tags": tags}), fsync=self.fsync):
                changed.append(str(path.relative_to(self.tree.root)))
        if files.write_bytes(self.tree.v2 / "_catalog.json", dump_json({"repositories": repos}), fsync=self.fsync):
            changed.append("v2/_catalog.json")
        tag_map = "".join(f"{name}/{tag} {digest}.{kind}\n" for name in repos
                          for tag, (digest, kind) in catalog.tag_kinds(self.tree, name).items())
        if files.write_bytes(self.tree.web / "tags.map", tag_map.encode(), fsync=self.fsync):
            changed.append("_web/tags.map")
        page = catalog.render_index(self.tree, public_host=self.web_options.get("public_host"))
        if files.write_bytes(self.tree.root / "index.html", page.encode(), fsync=self.fsync):
            changed.append("index.html")
        for kind, filename in webconfig.FILES.items():
            text = webconfig.render(kind, self.tree.root, **{k: v for k, v in self.web_options.items()
                                                            if k in ("server_name", "listen")})
            if files.write_bytes(self.tree.web / filename, text.encode(), fsync=self.fsync):
                changed.append(f"_web/{filename}")
        if files.write_bytes(self.tree.web / "tag.txt", webconfig.caddy_tag_template(self.tree.root).encode(),
                             fsync=self.fsync):
            changed.append("_web/tag.txt")
