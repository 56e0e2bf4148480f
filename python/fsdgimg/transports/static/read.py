"""Reading an image, an index or a repository's tags from a static tree on disk (the tree
`fsdgimg publish --to static:DIR` writes; layout in fsdgimg.transports.static.layout).

A tag is a symlink naming its manifest's digest and kind; manifests and blobs are files named by
their digest, so the tree is its own blob store: `path()` gives the file (a writer may hard-link
it) and `open()` checks it against its digest as it is read.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from fsdgimg.errors import InputError, UsageError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.descriptor import Descriptor, Platform
from fsdgimg.oci.digest import Digest, VerifyingReader
from fsdgimg.oci.image import MAX_CONFIG, Artifact, Image, Index
from fsdgimg.oci.manifest import ImageIndex, parse_manifest
from fsdgimg.oci.reference import Reference, check_name
from fsdgimg.transports.static.layout import Tree, read_tag_link

MAX_MANIFEST = 4 << 20
MAX_DEPTH = 8


class StaticBlobs:
    """The blobs of one repository of a static tree (its own links first, then the shared store)."""

    def __init__(self, tree: Tree, name: str, where: str):
        self.tree = tree
        self.name = name
        self.where = where

    def path(self, digest: Digest) -> Path | None:
        for p in (self.tree.blob_path(self.name, digest), self.tree.store_path(digest)):
            if p.is_file():
                return p
        return None

    def has(self, digest: Digest) -> bool:
        return self.path(digest) is not None

    def open(self, desc: Descriptor, what: str | None = None) -> VerifyingReader:
        what = what or f"{self.where}: blob {desc.digest}"
        path = self.path(desc.digest)
        if path is None:
            raise InputError(f"{what}: missing from the tree")
        return VerifyingReader(open(path, "rb"), desc.digest, desc.size, what)

    def read_bytes(self, desc: Descriptor, what: str | None = None, limit: int = 4 << 20) -> bytes:
        if desc.size > limit:
            raise InputError(f"{what or self.where}: blob {desc.digest.short} of {desc.size} bytes "
                             f"exceeds the {limit}-byte limit")
        with self.open(desc, what) as r:
            return r.read()


def _manifest(blobs: StaticBlobs, digest: Digest, media_type: str | None, depth: int,
              platform: Platform | None) -> Artifact:
    if depth > MAX_DEPTH:
        raise InputError(f"{blobs.where}: indexes nested deeper than {MAX_DEPTH}")
    path = blobs.tree.find_manifest(blobs.name, digest) or blobs.path(digest)
    if path is None:
        raise InputError(f"{blobs.where}: manifest {digest} is missing from the tree")
    size = path.stat().st_size
    if size > MAX_MANIFEST:
        raise InputError(f"{path}: a manifest larger than {MAX_MANIFEST} bytes")
    what = f"{blobs.where}: manifest {digest.short}"
    with VerifyingReader(open(path, "rb"), digest, size, what) as r:
        data = r.read()
    where = f"{blobs.where}@{digest.short}" if depth else blobs.where
    parsed = parse_manifest(data, what, media_type)
    if isinstance(parsed, ImageIndex):
        wanted = parsed.manifests
        if platform is not None:
            wanted = [d for d in wanted if d.platform is not None and platform.matches(d.platform)
                      and d.media_type in mt.IMAGE_MANIFESTS][:1]
            if not wanted:
                have = ", ".join(sorted({str(d.platform) for d in parsed.manifests if d.platform})) or "none"
                raise InputError(f"{blobs.where}: index has no image for {platform} (has: {have})")
            return _manifest(blobs, wanted[0].digest, wanted[0].media_type, depth + 1, None)
        for d in wanted:
            if d.media_type not in mt.MANIFESTS:
                raise InputError(f"{where}: {d.digest.short} has media type {d.media_type}, not a manifest")
        return Index(parsed, [_manifest(blobs, d.digest, d.media_type, depth + 1, None) for d in wanted],
                     blobs, where=where)
    config = blobs.read_bytes(parsed.config, f"{where}: config {parsed.config.digest.short}", MAX_CONFIG)
    image = Image(parsed, config, blobs, where=where)
    image.check()
    if platform is not None and not platform.matches(image.platform):
        raise InputError(f"{blobs.where}: image is for {image.platform}, not {platform}")
    return image


def read_static(root: Path, name: str, tag: str | None = None, digest: Digest | None = None,
                platform: Platform | None = None) -> Artifact:
    """The image or index NAME:TAG (or NAME@DIGEST) of the tree at `root`."""
    tree = Tree(root)
    check_name(name)
    if not (tree.v2 / name).is_dir():
        have = ", ".join(tree.repositories()[:20]) or "none"
        raise InputError(f"static:{root}: no repository {name!r} (has: {have})")
    ref = Reference(None, name, tag, digest)
    blobs = StaticBlobs(tree, name, f"static:{root}/{ref}")
    media_type = None
    if digest is None:
        tag = tag or "latest"
        target = read_tag_link(tree.tag_path(name, tag))
        if target is None:
            have = ", ".join(sorted(tree.tags(name))[:20]) or "none"
            raise InputError(f"static:{root}/{name}: no tag {tag!r} (has: {have})")
        digest, media_type = target
    artifact = _manifest(blobs, digest, media_type, 0, platform)
    artifact.name = name
    artifact.tag = tag
    return artifact


def default_image(root: Path) -> tuple[str, str]:
    """static:DIR alone names an image only when the tree holds exactly one tag."""
    tree = Tree(root)
    if not tree.v2.is_dir():
        raise InputError(f"static:{root}: not a static tree (no v2/ directory)")
    found = [(name, tag) for name in tree.repositories() for tag in tree.tags(name)]
    if len(found) != 1:
        listing = ", ".join(f"{n}:{t}" for n, t in found[:10]) or "no tagged image"
        raise UsageError(f"static:{root} holds {listing}{', ...' if len(found) > 10 else ''}: "
                         f"name one as static:{root}/NAME:TAG")
    return found[0]


@contextmanager
def open_static(loc, *, platform: Platform | None = None) -> Iterator[Artifact]:
    """The source for static:DIR/NAME[:TAG|@DIGEST] (static:DIR alone when it holds one image)."""
    ref: Reference | None = loc.reference
    if ref is None:
        name, tag = default_image(loc.path)
        ref = Reference(None, name, tag)
    yield read_static(loc.path, ref.name, ref.tag, ref.digest, platform)
