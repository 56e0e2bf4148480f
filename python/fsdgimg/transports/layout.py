"""The oci: transport: OCI image layout directories (image-spec image-layout.md), read and written.

Writing: a new layout is assembled in a temporary sibling directory and renamed into place, so an
interrupted run leaves nothing that looks like a layout. Adding a tag to an existing layout writes
its blobs first (each renamed into place) and replaces index.json last, by rename.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from fsdgimg.errors import FsdgimgError, InputError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.blobstore import BlobStore
from fsdgimg.oci.descriptor import Descriptor, Platform
from fsdgimg.oci.image import Artifact, Image, Index, blob_descriptors
from fsdgimg.oci.jsonio import dump_json, load_json
from fsdgimg.oci.manifest import ImageIndex, parse_manifest
from fsdgimg.transports.options import Written, default_tag

REF_NAME = "org.opencontainers.image.ref.name"
MAX_DEPTH = 8


def read_index_json(root: Path) -> ImageIndex:
    layout = root / "oci-layout"
    if not layout.is_file():
        raise InputError(f"{root}: not an OCI image layout (no oci-layout file)")
    version = load_json(layout.read_bytes(), f"{root}/oci-layout")
    if not isinstance(version, dict) or not isinstance(version.get("imageLayoutVersion"), str):
        raise InputError(f"{root}/oci-layout: imageLayoutVersion missing")
    try:
        data = (root / "index.json").read_bytes()
    except FileNotFoundError:
        raise InputError(f"{root}: index.json is missing") from None
    index = parse_manifest(data, f"{root}/index.json", mt.OCI_INDEX)
    if not isinstance(index, ImageIndex):
        raise InputError(f"{root}/index.json: not an image index")
    return index


def select(index: ImageIndex, tag: str | None, where: str) -> Descriptor:
    if tag is None:
        if len(index.manifests) == 1:
            return index.manifests[0]
        names = [d.annotations.get(REF_NAME, str(d.digest.short)) for d in index.manifests]
        raise InputError(f"{where}: holds {len(index.manifests)} images; name one with :TAG "
                         f"({', '.join(names) or 'empty'})")
    for d in index.manifests:
        if d.annotations.get(REF_NAME) == tag:
            return d
    raise InputError(f"{where}: no image tagged {tag!r} (has: {', '.join(tags_of(index)) or 'none'})")


def tags_of(index: ImageIndex) -> list[str]:
    return [d.annotations[REF_NAME] for d in index.manifests if REF_NAME in d.annotations]


def load(store: BlobStore, desc: Descriptor, where: str, depth: int = 0) -> Artifact:
    """The image or index `desc` names, with every child index and image, checked as read."""
    if depth > MAX_DEPTH:
        raise InputError(f"{where}: indexes nested deeper than {MAX_DEPTH}")
    if desc.media_type not in mt.MANIFESTS:
        raise InputError(f"{where}: {desc.digest.short} has media type {desc.media_type}, not a manifest")
    data = store.read_bytes(desc, f"{where}: manifest {desc.digest.short}")
    parsed = parse_manifest(data, f"{where}: manifest {desc.digest.short}", desc.media_type)
    if isinstance(parsed, ImageIndex):
        children = [load(store, d, where, depth + 1) for d in parsed.manifests]
        return Index(parsed, children, store, where=where)
    config = store.read_bytes(parsed.config, f"{where}: config {parsed.config.digest.short}", 8 << 20)
    image = Image(parsed, config, store, where=where)
    image.check()
    return image


def read_oci_layout(root: Path, tag: str | None = None, platform: Platform | None = None) -> Artifact:
    where = f"oci:{root}"
    index = read_index_json(root)
    desc = select(index, tag, where)
    store = BlobStore(root)
    artifact = load(store, desc, where)
    artifact.tag = desc.annotations.get(REF_NAME, tag)
    artifact.name = artifact.manifest.annotations.get("org.opencontainers.image.title")
    if platform is not None:
        artifact = pick_platform(artifact, platform, where)
    return artifact


def pick_platform(artifact: Artifact, platform: Platform, where: str) -> Image:
    """The one image of `artifact` for `platform` (an image must match; an index must contain one)."""
    if isinstance(artifact, Image):
        if not platform.matches(artifact.platform):
            raise InputError(f"{where}: image is for {artifact.platform}, not {platform}")
        return artifact
    for desc, child in zip(artifact.index.manifests, artifact.children):
        p = desc.platform or (child.platform if isinstance(child, Image) else None)
        if p is not None and platform.matches(p) and isinstance(child, Image):
            child.tag = artifact.tag
            return child
    raise InputError(f"{where}: index has no image for {platform}")


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise FsdgimgError(f"{path}: cannot write ({e.strerror or e})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LayoutWriter:
    """Collects images into `store`, then commit() makes them appear at once under their tags."""

    def __init__(self, dest: Path):
        self.dest = Path(dest)
        self._staging: Path | None = None
        self._entries: list = []
        if self.dest.exists():
            if not (self.dest / "oci-layout").is_file():
                if self.dest.is_dir() and not any(self.dest.iterdir()):
                    self.dest.rmdir()  # an empty directory is as good as none
                else:
                    raise InputError(f"{self.dest}: exists and is not an OCI image layout")
        if self.dest.exists():
            self.base = read_index_json(self.dest)
            self.store = BlobStore(self.dest)
        else:
            self.base = None
            self.dest.parent.mkdir(parents=True, exist_ok=True)
            self._staging = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.tmp-", dir=self.dest.parent))
            self.store = BlobStore(self._staging)
        self.store.blob_dir.mkdir(parents=True, exist_ok=True)

    def add(self, artifact: Artifact, tag: str | None) -> None:
        """Record `artifact` (all of whose blobs are already in self.store) under `tag`."""
        self.store.put_bytes(artifact.manifest.to_bytes())
        annotations = {REF_NAME: tag} if tag else {}
        self._entries.append(artifact.manifest.descriptor(annotations))

    def commit(self) -> None:
        keep = []
        new_tags = {d.annotations.get(REF_NAME) for d in self._entries} - {None}
        if self.base is not None:
            new_digests = {d.digest for d in self._entries}
            keep = [d for d in self.base.manifests
                    if (d.annotations.get(REF_NAME) or d.digest not in new_digests)
                    and d.annotations.get(REF_NAME) not in new_tags]
        index = ImageIndex(mt.OCI_INDEX, keep + self._entries)
        root = self._staging or self.dest
        if self._staging is not None:
            (root / "oci-layout").write_bytes(dump_json({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION}))
        _write_atomically(root / "index.json", index.to_bytes())
        if self._staging is not None:
            os.chmod(self._staging, 0o755)
            try:
                os.rename(self._staging, self.dest)
            except OSError as e:
                raise InputError(f"{self.dest}: cannot put the layout in place ({e.strerror})") from None
            self._staging = None

    def abort(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()  # after commit() there is nothing left to abort


def _place(x: Artifact, store: BlobStore, trusted: bool) -> None:
    """Every blob and manifest of `x` in `store`; blobs we wrote moments ago are linked, any other
    is copied through a verifying reader. Children before parents, the top manifest last."""
    if isinstance(x, Index):
        for child in x.children:
            _place(child, store, trusted)
    else:
        for desc in blob_descriptors(x):
            _transfer(x.blobs, store, desc, trusted)
    store.put_bytes(x.manifest.to_bytes())


def _transfer(src, dst: BlobStore, desc: Descriptor, trusted: bool) -> None:
    if dst.has(desc.digest) or getattr(src, "root", None) == dst.root:
        return
    path = src.path(desc.digest) if trusted else None
    if path is not None:
        dst.link_or_copy(path, desc.digest)
        return
    with src.open(desc) as reader:
        dst.copy_from(reader, desc.digest)


def write(artifact, loc, options) -> Written:
    """fsdgimg.transports.write.write() for oci:DIR[:TAG]: pending recompression happens straight into the
    layout's store; nothing but what the new index.json references is added."""
    tag = loc.tag or default_tag(artifact, options)
    stored = write_oci_layout(loc.path, artifact, tag)
    return Written(f"oci:{loc.path}:{tag}", str(stored.digest),
                   {"destination": f"oci:{loc.path}:{tag}", "format": "oci", "tag": tag,
                    "digest": str(stored.digest), "mediaType": stored.manifest.media_type,
                    "size": len(stored.manifest.to_bytes())})


def write_oci_layout(dest: Path, artifact, tag: str | None, *, trusted: bool = False) -> Artifact:
    """Write `artifact` (Image, Index or pending) to the layout at `dest`; return it as written."""
    from fsdgimg.oci.mutate import realize
    with LayoutWriter(dest) as writer:
        stored = realize(artifact, writer.store)
        _place(stored, writer.store, trusted or stored.fresh)
        writer.add(stored, tag)
        writer.commit()
    return stored
