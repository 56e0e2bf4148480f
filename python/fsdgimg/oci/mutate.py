"""Changing an image without writing anything: annotations, platform, compression.

As go-containerregistry's `mutate`: every function returns a new object and leaves its argument
(and wherever its blobs live) untouched. Annotating and re-platforming only change JSON, which is
held in memory. Recompressing makes layer blobs whose digests nobody knows yet, so `recompress`
returns a `Pending` artifact: its bytes are produced by `realize(pending, store)`, which only a
writer calls, with the store the blobs are to end up in (so nothing is written twice).
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Union

from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.blobstore import BlobStore, scratch_store
from fsdgimg.oci.compression import ANNOTATION, Compression
from fsdgimg.oci.descriptor import Descriptor, Platform
from fsdgimg.oci.digest import Digest, VerifyingReader
from fsdgimg.oci.image import Artifact, Image, Index
from fsdgimg.oci.jsonio import dump_json
from fsdgimg.oci.layer import import_layer
from fsdgimg.oci.manifest import ImageIndex, ImageManifest, to_oci


class MemoryBlobs:
    """Blobs held in memory (a new config), in front of the source's own blobs. Reading only."""

    def __init__(self, base, extra: dict[Digest, bytes]):
        self.base = base
        self.extra = dict(getattr(base, "extra", {}))
        self.extra.update(extra)
        if isinstance(base, MemoryBlobs):
            self.base = base.base

    def has(self, digest: Digest) -> bool:
        return digest in self.extra or self.base.has(digest)

    def path(self, digest: Digest):
        return None if digest in self.extra else self.base.path(digest)

    def open(self, desc: Descriptor, what: str | None = None):
        data = self.extra.get(desc.digest)
        if data is None:
            return self.base.open(desc, what)
        return VerifyingReader(io.BytesIO(data), desc.digest, desc.size, what or f"blob {desc.digest.short}")

    def read_bytes(self, desc: Descriptor, what: str | None = None, limit: int = 4 << 20) -> bytes:
        data = self.extra.get(desc.digest)
        if data is None:
            return self.base.read_bytes(desc, what, limit)
        with self.open(desc, what) as r:
            return r.read()


class StackedBlobs:
    """Blobs from the first of several sources that has them: a store of recompressed layers in
    front of the source's blobs for the layers carried over unchanged."""

    def __init__(self, *sources):
        self.sources = sources

    def _first(self, digest: Digest):
        for s in self.sources:
            if s.has(digest):
                return s
        return self.sources[-1]

    def has(self, digest: Digest) -> bool:
        return any(s.has(digest) for s in self.sources)

    def path(self, digest: Digest):
        return self._first(digest).path(digest)

    def open(self, desc: Descriptor, what: str | None = None):
        return self._first(desc.digest).open(desc, what)

    def read_bytes(self, desc: Descriptor, what: str | None = None, limit: int = 4 << 20) -> bytes:
        return self._first(desc.digest).read_bytes(desc, what, limit)


@dataclass
class Pending:
    """An artifact some of whose layers are still to be recompressed. Writers realize() it."""
    source: Artifact
    compression: Compression
    annotations: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    tag: str | None = None
    where: str = "image"
    fresh: bool = False

    @property
    def config(self) -> dict:
        return self.source.config


Lazy = Union[Image, Index, Pending]


def _needs(desc: Descriptor, compression: Compression) -> bool:
    """Whether layer `desc` must be recompressed to be `compression`. Unknown media types (foreign
    layers, artifacts) and layers already compressed as asked are carried over byte for byte."""
    current = mt.layer_compression(desc.media_type)
    if current is None or current != compression.algorithm:
        return current is not None
    return compression.level is not None and desc.annotations.get(ANNOTATION) != compression.describe()


def _carry(new: Image, old: Image) -> Image:
    """What the import pass collected of the layers stays with the image: it is keyed by diff ID,
    which no change here alters (recompressing changes layer digests, not what the tars hold)."""
    new.collected = getattr(old, "collected", None)
    return new


def _images(x: Artifact):
    if isinstance(x, Index):
        for c in x.children:
            yield from _images(c)
    else:
        yield x


def recompress(x: Lazy, compression: Compression | None) -> Lazy:
    """`x` with every layer compressed as `compression` (None: as it is). Nothing is compressed here."""
    if compression is None or isinstance(x, Pending):
        return x if compression is None or x.compression == compression else \
            replace(x, compression=compression)
    if not any(_needs(d, compression) for img in _images(x) for d in img.layers):
        return x
    return Pending(x, compression, {}, x.name, x.tag, x.where, x.fresh)


def realize(x: Lazy, store: BlobStore) -> Artifact:
    """The artifact with every byte it names available: pending layers are compressed into `store`."""
    if not isinstance(x, Pending):
        return x
    made = _recompressed(x.source, store, x.compression)
    made = annotate(made, x.annotations)
    made.name, made.tag, made.where = x.name, x.tag, x.where
    return made


def _recompressed(x: Artifact, store: BlobStore, compression: Compression) -> Artifact:
    if isinstance(x, Index):
        children = [_recompressed(c, store, compression) for c in x.children]
        descs = [c.manifest.descriptor(dict(d.annotations), d.platform)
                 for c, d in zip(children, x.index.manifests)]
        index = ImageIndex(x.index.media_type, descs, dict(x.index.annotations))
        return Index(index, children, StackedBlobs(store, x.blobs), x.name, x.tag, x.where, x.fresh)
    x.check()
    layers = []
    for i, desc in enumerate(x.layers):
        if not _needs(desc, compression):
            layers.append(desc)
            continue
        layer = x.layer(i)
        with layer.open_uncompressed() as plain:
            blob = import_layer(plain, store, compression, layer.what, x.manifest.is_docker)
        layers.append(blob.descriptor)
    m = x.manifest
    manifest = ImageManifest(m.media_type, m.config, layers, dict(m.annotations), m.subject)
    return _carry(Image(manifest, x.config_bytes, StackedBlobs(store, x.blobs), x.name, x.tag, x.where,
                        fresh=x.fresh), x)


def annotate(x: Lazy, annotations: dict[str, str]) -> Lazy:
    """The same artifact with `annotations` merged into its top-level manifest. A Docker schema 2
    manifest has no annotations: it becomes the equivalent OCI manifest. Nothing changes when the
    annotations are already there (the manifest keeps its exact bytes, hence its digest)."""
    if not annotations:
        return x
    if isinstance(x, Pending):
        return replace(x, annotations={**x.annotations, **annotations})
    m = x.manifest
    merged = {**m.annotations, **annotations}
    if merged == m.annotations:
        return x
    if isinstance(x, Index):
        kind = mt.OCI_INDEX if m.is_docker else m.media_type
        new = ImageIndex(kind, list(m.manifests), merged)
        return Index(new, x.children, x.blobs, x.name, x.tag, x.where, x.fresh)
    base = to_oci(m)
    new = ImageManifest(base.media_type, base.config, list(base.layers), merged, m.subject)
    return _carry(Image(new, x.config_bytes, x.blobs, x.name, x.tag, x.where, x.fresh), x)


def set_platform(x: Image, platform: Platform) -> Image:
    """The image with its config saying `platform` (the new config is held in memory)."""
    if x.platform == platform:
        return x
    config = dict(x.config)
    config["os"], config["architecture"] = platform.os, platform.architecture
    for key, value in (("variant", platform.variant), ("os.version", platform.os_version)):
        if value:
            config[key] = value
        else:
            config.pop(key, None)
    data = dump_json(config)
    desc = Descriptor(x.manifest.config.media_type, Digest.of(data), len(data))
    m = x.manifest
    manifest = ImageManifest(m.media_type, desc, list(m.layers), dict(m.annotations), m.subject)
    return _carry(Image(manifest, data, MemoryBlobs(x.blobs, {desc.digest: data}), x.name, x.tag, x.where,
                        x.fresh), x)


@contextmanager
def realized(artifact, scratch_parent: Path | None = None):
    """The artifact with its pending work done: recompressed layers go to a scratch store (beside
    `scratch_parent`, so that the writer can hard-link them) that lives until the block ends.
    Writers with a store of their own (an OCI layout) realize straight into it instead."""
    if not isinstance(artifact, Pending):
        yield artifact
        return
    with scratch_store(scratch_parent) as store:
        yield realize(artifact, store)
