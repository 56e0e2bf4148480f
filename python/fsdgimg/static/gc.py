"""Garbage collection of a static tree, safe while the tree is being served.

What any tag reaches (manifests, the children of indexes, configs and layers) stays. So does, for a
grace period, everything a manifest reaches that became unreferenced less than `grace` seconds ago
(a publish touches a tag's old target when it moves the tag), or that was written less than `grace`
seconds ago: a client that resolved a tag a moment ago can still fetch all its blobs. Removal goes
leaves first: repository links, then shared store files no repository links any more. gc and publish
exclude each other through the tree's lock, so what a killed publish left is no one's: gc first deals
with its attempt journal (see writer.py: its new files removed, or the publish completed when its
tags had moved), and removes temporaries whatever their age.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg import mediatypes as mt
from fsdgimg.digest import Digest
from fsdgimg.errors import InputError
from fsdgimg.jsonio import dump_json
from fsdgimg.manifest import ImageIndex, ImageManifest, parse_manifest
from fsdgimg.static import files
from fsdgimg.static.layout import TMP_PREFIX, Tree, parse_manifest_file

DEFAULT_GRACE = 3600.0


@dataclass
class GcReport:
    root: str
    manifests_removed: int = 0
    blob_links_removed: int = 0
    store_files_removed: int = 0
    bytes_freed: int = 0
    temporaries_removed: int = 0
    kept_in_grace: int = 0
    recovered: str | None = None  # a killed publish's journal: its files "removed", or it "completed"
    removed: list[str] = field(default_factory=list)


def _young(path: Path, now: float, grace: float) -> bool:
    try:
        return now - path.lstat().st_mtime < grace
    except OSError:
        return False


def _refs(tree: Tree, name: str, digest: Digest, media_type: str) -> tuple[set[Digest], set[Digest]]:
    """(manifest digests, blob digests) reached from one manifest, children included."""
    manifests, blobs = set(), set()
    todo = [(digest, media_type)]
    while todo:
        d, m_type = todo.pop()
        if d in manifests:
            continue
        manifests.add(d)
        path = tree.find_manifest(name, d)
        if path is None:
            continue
        try:
            m = parse_manifest(path.read_bytes(), str(path), m_type)
        except (OSError, InputError):
            continue
        if isinstance(m, ImageIndex):
            todo += [(c.digest, c.media_type) for c in m.manifests if c.media_type in mt.MANIFESTS]
        elif isinstance(m, ImageManifest):
            blobs.add(m.config.digest)
            blobs.update(layer.digest for layer in m.layers)
            if m.subject:
                manifests.add(m.subject.digest)
    return manifests, blobs


def _referrers(tree: Tree, name: str, subject: Digest) -> list[tuple[Digest, str]]:
    try:
        index = json.loads(tree.referrers_path(name, subject).read_bytes())
        return [(Digest.parse(d["digest"]), d["mediaType"]) for d in index["manifests"]
                if d.get("mediaType") in mt.MANIFESTS]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, InputError):
        return []


def _prune_referrers(tree: Tree, name: str) -> None:
    """Drop from the referrers indexes the manifests gc removed (and indexes left empty)."""
    directory = tree.v2 / name / "_referrers"
    for entry in (os.listdir(directory) if directory.is_dir() else []):
        path = directory / entry
        try:
            index = json.loads(path.read_bytes())
            kept = [d for d in index["manifests"] if tree.find_manifest(name, Digest.parse(d["digest"]))]
        except (OSError, ValueError, KeyError, TypeError, AttributeError, InputError):
            continue
        if not kept:
            path.unlink(missing_ok=True)
        elif kept != index["manifests"]:
            files.write_bytes(path, dump_json(dict(index, manifests=kept)))


def collect(root: Path, *, grace: float = DEFAULT_GRACE, dry_run: bool = False) -> GcReport:
    tree = Tree(root)
    if not tree.v2.is_dir():
        raise InputError(f"{root}: not a static tree (no v2/ directory)")
    report = GcReport(str(root))
    now = time.time()

    def remove(path: Path, counter: str) -> None:
        try:
            size = path.lstat().st_size
            if not dry_run:
                path.unlink()
        except FileNotFoundError:
            return
        setattr(report, counter, getattr(report, counter) + 1)
        report.removed.append(str(path.relative_to(root)))
        if counter == "store_files_removed":
            report.bytes_freed += size

    linked: set[str] = set()  # hex digests some repository still links
    from fsdgimg.static.writer import StaticPublisher
    with files.tree_lock(root, "gc"):
        publisher = StaticPublisher(root)  # checks the stored web options before anything is removed
        if not dry_run:
            report.recovered = publisher.recover()
        for name in tree.repositories():
            manifest_dir = tree.v2 / name / "_manifests"
            roots = [(d, m) for d, m in tree.tags(name).values()]
            present = {}
            for entry in (os.listdir(manifest_dir) if manifest_dir.is_dir() else []):
                parsed = parse_manifest_file(entry)
                if parsed:
                    present[parsed[0]] = (manifest_dir / entry, parsed[1])
                    if _young(manifest_dir / entry, now, grace):
                        roots.append(parsed)
            keep_manifests, keep_blobs = set(), set()
            while roots:  # what tags reach, then what refers to that (signatures, SBOMs), and so on
                for d, m_type in roots:
                    ms, bs = _refs(tree, name, d, m_type)
                    keep_manifests |= ms
                    keep_blobs |= bs
                roots = [r for d in keep_manifests for r in _referrers(tree, name, d)
                         if r[0] not in keep_manifests and r[0] in present]
            for d, (path, _) in present.items():
                if d not in keep_manifests:
                    remove(path, "manifests_removed")
                else:
                    linked.add(d.hex)
            blob_dir = tree.v2 / name / "_blobs"
            for entry in (os.listdir(blob_dir) if blob_dir.is_dir() else []):
                path = blob_dir / entry
                if entry.startswith(TMP_PREFIX):
                    remove(path, "temporaries_removed")
                    continue
                try:
                    d = Digest.parse(entry)
                except InputError:
                    continue
                if d in keep_blobs:
                    linked.add(d.hex)
                    continue
                if _young(path, now, grace):
                    linked.add(d.hex)
                    report.kept_in_grace += 1
                    continue
                remove(path, "blob_links_removed")
        # Temporaries of killed writers: anywhere under v2/, and beside index.html and in _web/.
        places = [(d, fs) for d, _, fs in os.walk(tree.v2)]
        places += [(str(p), os.listdir(p)) for p in (tree.root, tree.web) if p.is_dir()]
        for dirpath, filenames in places:
            for entry in filenames:
                if entry.startswith(TMP_PREFIX):
                    remove(Path(dirpath) / entry, "temporaries_removed")
        if tree.store.is_dir():
            for entry in os.listdir(tree.store):
                path = tree.store / entry
                try:
                    st = path.lstat()
                except FileNotFoundError:
                    continue
                # Not the link count: a blob may also be linked from the OCI layout it was published from.
                if entry.startswith(TMP_PREFIX) or entry in linked:
                    continue
                if now - st.st_mtime < grace:
                    report.kept_in_grace += 1
                    continue
                remove(path, "store_files_removed")
        if not dry_run:
            for name in tree.repositories():
                _prune_referrers(tree, name)
            publisher.refresh()
    return report
