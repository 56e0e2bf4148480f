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
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.errors import InputError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import dump_json
from fsdgimg.transports.static import files
from fsdgimg.transports.static.layout import NAME_RE, TMP_PREFIX, Tree, parse_manifest_file

_SIGNATURE_DIR = re.compile(rf"({NAME_RE})@sha256=([a-f0-9]{{64}})\Z")

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
    signatures_removed: int = 0   # OpenPGP lookaside signatures of manifests no longer in the tree
    recovered: str | None = None  # a killed publish's journal: its files "removed", or it "completed"
    removed: list[str] = field(default_factory=list)


def _young(path: Path, now: float, grace: float) -> bool:
    try:
        return now - path.lstat().st_mtime < grace
    except OSError:
        return False


def _reachable(present: dict[str, str], roots: list[str], referrers_dir: str) -> tuple[set[str], set[str]]:
    """(manifest digests, blob digests) reached from `roots`: children of indexes, config and layers,
    the subject of a manifest, and what refers to a kept manifest (its referrers index). Digests stay
    strings and manifests are read as plain JSON: gc reads every manifest of a big tree."""
    try:
        indexed = set(os.listdir(referrers_dir))
    except OSError:
        indexed = set()
    keep_manifests: set[str] = set()
    keep_blobs: set[str] = set()
    todo = list(roots)
    while todo:
        d = todo.pop()
        if d in keep_manifests:
            continue
        keep_manifests.add(d)
        if f"{d}.json" in indexed:
            try:
                listed = json.loads(_read(os.path.join(referrers_dir, f"{d}.json")))["manifests"]
                todo += [r["digest"] for r in listed if isinstance(r, dict) and r.get("digest") in present]
            except (OSError, ValueError, KeyError, TypeError):
                pass
        path = present.get(d)
        if path is None:
            continue
        try:
            obj = json.loads(_read(path))
        except (OSError, ValueError):
            continue
        if not isinstance(obj, dict):
            continue
        for child in obj.get("manifests") or ():
            if isinstance(child, dict) and child.get("mediaType") in mt.MANIFESTS and isinstance(child.get("digest"), str):
                todo.append(child["digest"])
        for blob in [obj.get("config"), *(obj.get("layers") or ())]:
            if isinstance(blob, dict) and isinstance(blob.get("digest"), str):
                keep_blobs.add(blob["digest"])
        subject = obj.get("subject")
        if isinstance(subject, dict) and isinstance(subject.get("digest"), str):
            todo.append(subject["digest"])
    return keep_manifests, keep_blobs


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(8 << 20)


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


def _collect_signatures(tree: Tree, kept: set[tuple[str, str]], remove, dry_run: bool) -> None:
    """The lookaside signatures (sigstore/NAME@sha256=HEX/) of manifests that stay are kept; those of
    manifests gone (and anything there that is no such directory's) are removed, with the directories
    they leave empty. A signature is removed only with its manifest, never while it is served."""
    base = tree.lookaside
    if not base.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(base, topdown=True):
        rel = os.path.relpath(dirpath, base).replace(os.sep, "/")
        m = _SIGNATURE_DIR.match(rel)
        if m is None:
            for entry in filenames:  # only directories belong here, but a killed writer's temporaries
                remove(Path(dirpath) / entry, "temporaries_removed")
            continue
        dirnames[:] = []
        live = (m.group(1), f"sha256:{m.group(2)}") in kept
        for entry in filenames:
            if entry.startswith(TMP_PREFIX):
                remove(Path(dirpath) / entry, "temporaries_removed")
            elif not live:
                remove(Path(dirpath) / entry, "signatures_removed")
    if dry_run:
        return
    for dirpath, _, _ in sorted(os.walk(base, topdown=False), key=lambda w: -len(w[0])):
        if dirpath != str(base):
            try:
                os.rmdir(dirpath)  # only when empty
            except OSError:
                pass


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
    from fsdgimg.transports.static.writer import StaticPublisher
    with files.tree_lock(root, "gc"):
        publisher = StaticPublisher(root)  # checks the stored web options before anything is removed
        if not dry_run:
            report.recovered = publisher.recover()
        repositories = tree.repositories()
        kept: set[tuple[str, str]] = set()  # (repository, digest) of every manifest that stays
        for name in repositories:
            manifest_dir = tree.v2 / name / "_manifests"
            present: dict[str, str] = {}  # digest -> manifest file
            roots = []
            for entry in (os.listdir(manifest_dir) if manifest_dir.is_dir() else []):
                parsed = parse_manifest_file(entry)
                if parsed:
                    path = os.path.join(manifest_dir, entry)
                    present[str(parsed[0])] = path
                    if _young(Path(path), now, grace):
                        roots.append(str(parsed[0]))
            roots += [str(d) for d, _ in tree.tags(name).values()]
            keep_manifests, keep_blobs = _reachable(present, roots, str(tree.v2 / name / "_referrers"))
            for d, path in present.items():
                if d not in keep_manifests:
                    remove(Path(path), "manifests_removed")
                else:
                    linked.add(d.split(":", 1)[1])
                    kept.add((name, d))
            blob_dir = tree.v2 / name / "_blobs"
            for entry in (os.listdir(blob_dir) if blob_dir.is_dir() else []):
                path = blob_dir / entry
                if entry.startswith(TMP_PREFIX):
                    remove(path, "temporaries_removed")
                    continue
                if not entry.startswith("sha256:"):
                    continue
                if entry in keep_blobs:
                    linked.add(entry[7:])
                    continue
                if _young(path, now, grace):
                    linked.add(entry[7:])
                    report.kept_in_grace += 1
                    continue
                remove(path, "blob_links_removed")
        # Temporaries of killed writers: anywhere under v2/ and _web/ (its pages/ and signers/ too),
        # and beside index.html.
        places = [(d, fs) for top in (tree.v2, tree.web) for d, _, fs in os.walk(top)]
        places += [(str(tree.root), os.listdir(tree.root))]
        for dirpath, filenames in places:
            for entry in filenames:
                if entry.startswith(TMP_PREFIX):
                    remove(Path(dirpath) / entry, "temporaries_removed")
        _collect_signatures(tree, kept, remove, dry_run)
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
            for name in repositories:
                _prune_referrers(tree, name)
            # Tags did not move: only the pages of the repositories that lost manifests change (a
            # removed platform of an index, say), and the store's total.
            touched = sorted({p.split("/_manifests/")[0][len("v2/"):] for p in report.removed
                              if "/_manifests/" in p})
            publisher.refresh(names=touched, recount=True)
    return report
