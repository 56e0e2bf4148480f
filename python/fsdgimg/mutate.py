"""Changing an image without knowing where it came from: compression, annotations, manifest format.

recompress() returns a new Image/Index whose blobs are all in the given destination store;
with compression None it only carries the blobs over, byte for byte.
"""

from __future__ import annotations

from fsdgimg import mediatypes as mt
from fsdgimg.blobstore import BlobStore
from fsdgimg.compression import Compression, open_decompressed
from fsdgimg.descriptor import Descriptor
from fsdgimg.errors import DigestMismatch
from fsdgimg.image import Artifact, Image, Index
from fsdgimg.layer import import_layer
from fsdgimg.manifest import ImageIndex, ImageManifest


def transfer(src: BlobStore, dst: BlobStore, desc: Descriptor, trusted: bool = False) -> None:
    """Make blob `desc` present in `dst`. Blobs we wrote ourselves moments ago are linked;
    any other blob is copied through a verifying reader, which checks it on the way."""
    if getattr(src, "root", None) == dst.root or dst.has(desc.digest):  # a registry source has no root
        return
    if trusted:
        dst.link_or_copy(src.path(desc.digest), desc.digest)
        return
    with src.open(desc) as reader:
        dst.copy_from(reader, desc.digest)


def _layer(image: Image, i: int, desc: Descriptor, dst: BlobStore, compression: Compression | None,
           docker: bool, trusted: bool) -> Descriptor:
    current = mt.layer_compression(desc.media_type)
    if compression is None or current is None or (current == compression.algorithm and compression.level is None) \
            or (current == compression.algorithm and desc.annotations.get("org.fsdgimg.compressor")
                == compression.describe()):
        # Unknown media types (foreign layers, artifacts) and layers already compressed as asked
        # are carried over byte for byte.
        transfer(image.blobs, dst, desc, trusted)
        if docker and current is not None:
            return Descriptor(mt.layer_media_type(current, True), desc.digest, desc.size, {}, None, desc.urls)
        return desc
    with image.blobs.open(desc, f"{image.where}: layer {i}") as raw:
        plain = open_decompressed(raw, current, f"{image.where}: layer {i}")
        blob = import_layer(plain, dst, compression, f"{image.where}: layer {i}", docker)
    expected = image.diff_ids[i]
    if blob.diff_id != expected:
        raise DigestMismatch(f"{image.where}: layer {i} has diff ID {blob.diff_id}, the config says {expected}")
    return blob.descriptor


def recompress(x: Artifact, dst: BlobStore, compression: Compression | None, *, docker: bool = False,
               trusted: bool = False) -> Artifact:
    if isinstance(x, Index):
        children = [recompress(c, dst, compression, docker=docker, trusted=trusted) for c in x.children]
        descs = [c.manifest.descriptor(dict(d.annotations), d.platform)
                 for c, d in zip(children, x.index.manifests)]
        kind = mt.DOCKER_MANIFEST_LIST if docker else (mt.OCI_INDEX if x.index.is_docker else x.index.media_type)
        index = ImageIndex(kind, descs, dict(x.index.annotations))
        dst.put_bytes(index.to_bytes())
        return Index(index, children, dst, x.name, x.tag, x.where, fresh=True)
    x.check()
    layers = [_layer(x, i, d, dst, compression, docker, trusted) for i, d in enumerate(x.layers)]
    dst.put_bytes(x.config_bytes)
    config = x.manifest.config
    if docker or x.manifest.is_docker:
        kind = mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST
        config = Descriptor(mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG, config.digest, config.size)
    else:
        kind = x.manifest.media_type
    if not docker:
        layers = [d if not d.media_type.startswith("application/vnd.docker.image.rootfs.diff")
                  else Descriptor(mt.layer_media_type(mt.layer_compression(d.media_type)), d.digest,
                                  d.size, dict(d.annotations), None, d.urls) for d in layers]
    manifest = ImageManifest(kind, config, layers, {} if docker else dict(x.manifest.annotations),
                             x.manifest.subject)
    dst.put_bytes(manifest.to_bytes())
    return Image(manifest, x.config_bytes, dst, x.name, x.tag, x.where, fresh=True)


def annotate(x: Artifact, annotations: dict[str, str]) -> Artifact:
    """The same artifact with `annotations` merged into its top-level manifest (OCI only)."""
    if not annotations:
        return x
    m = x.manifest
    if m.media_type not in (mt.OCI_MANIFEST, mt.OCI_INDEX):
        return x  # Docker schema 2 has no annotations
    merged = {**m.annotations, **annotations}
    if isinstance(x, Index):
        new = ImageIndex(m.media_type, list(m.manifests), merged)
        x.blobs.put_bytes(new.to_bytes())
        return Index(new, x.children, x.blobs, x.name, x.tag, x.where, x.fresh)
    new = ImageManifest(m.media_type, m.config, list(m.layers), merged, m.subject)
    x.blobs.put_bytes(new.to_bytes())
    return Image(new, x.config_bytes, x.blobs, x.name, x.tag, x.where, x.fresh)
