"""Reader for OCI image layout directories (image-spec image-layout.md)."""

from __future__ import annotations

from pathlib import Path

from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.blobstore import BlobStore
from fsdgimg.oci.descriptor import Descriptor, Platform
from fsdgimg.errors import InputError
from fsdgimg.oci.image import Artifact, Image, Index
from fsdgimg.oci.jsonio import load_json
from fsdgimg.oci.manifest import ImageIndex, parse_manifest

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
