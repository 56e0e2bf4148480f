"""Assembling one multi-platform OCI index from single-platform images (`fsdgimg index`, and the
per-platform build of several architectures).

The images may come from anywhere (layouts, archives, registries, trees): each keeps its own blobs,
and the index only names them. Nothing is written here; the one writer writes the index with its
children. Every image must say its platform (os and architecture in its config), once."""

from __future__ import annotations

from fsdgimg.errors import InputError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.image import Image, Index
from fsdgimg.oci.manifest import ImageIndex
from fsdgimg.oci.mutate import StackedBlobs


def assemble(images: list[Image], *, annotations: dict[str, str] | None = None, name: str | None = None,
             tag: str | None = None) -> Index:
    """An OCI index of `images`, in the order given, each descriptor carrying its platform."""
    if not images:
        raise InputError("an index needs at least one image")
    seen: dict[str, str] = {}
    for image in images:
        if not isinstance(image, Image):
            raise InputError(f"{image.where}: is an index already; give single-platform images "
                             "(choose one with --platform)")
        p = image.platform
        if p.os == "unknown" or p.architecture == "unknown":
            raise InputError(f"{image.where}: its config names no platform (os and architecture)")
        key = str(p)
        if key in seen:
            raise InputError(f"{image.where}: platform {key} is already given by {seen[key]}")
        seen[key] = image.where
    descriptors = [image.manifest.descriptor({}, image.platform) for image in images]
    index = ImageIndex(mt.OCI_INDEX, descriptors, dict(annotations or {}))
    return Index(index, list(images), StackedBlobs(*[i.blobs for i in images]), name, tag,
                 where="index of " + ", ".join(seen), fresh=all(i.fresh for i in images))
