"""SRC -> Bom for the commands: a catalog entry built by Guix (from the channel), else any image."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from fsdgimg.errors import UsageError
from fsdgimg.oci.compression import Compression
from fsdgimg.oci.descriptor import Platform
from fsdgimg.oci.image import Image
from fsdgimg.sbom.generate import bom_for_image


def pick_image(artifact, platform: Platform | None, what: str) -> Image:
    if isinstance(artifact, Image):
        return artifact
    images = [c for c in artifact.children if isinstance(c, Image)]
    if platform is not None:
        images = [c for c in images if platform.matches(c.platform)]
    if len(images) != 1:
        raise UsageError(f"{what}: an index of {len(artifact.children)} images; choose one with --platform")
    return images[0]


def _catalog_entry(src: str, catalog_path: Path | None):
    if ":" in src or os.path.exists(src):
        return None
    from fsdgimg import catalog
    from fsdgimg.errors import FsdgimgError
    try:
        cat = catalog.load(catalog_path)
    except FsdgimgError:
        if catalog_path is not None:
            raise
        return None     # no catalog here: SRC is an image after all (open_source says what is wrong)
    return cat.entries.get(src)


@contextmanager
def open_bom(src: str, *, platform: Platform | None = None, catalog_path: Path | None = None, registry=None):
    """Yield (Bom, Image or None). `registry`: the RegistryOptions to read a docker:// SRC with."""
    entry = _catalog_entry(src, catalog_path)
    if entry is not None:
        if not entry.is_guix:
            raise UsageError(f"{src}: a catalog entry built by {entry.builder}; build it and give the "
                             "image (its SBOM is read from the built root file system)")
        from fsdgimg.sbom.guix import describe
        yield describe([entry])[entry.name], None
        return
    from fsdgimg.sbom.generate import collector
    from fsdgimg.transports.read import open_source
    # An archive or a root file system is imported first: its SBOM files are collected on the way.
    with open_source(src, compression=Compression("none"), platform=platform, collect=collector,
                     registry=registry) as artifact:
        image = pick_image(artifact, platform, src)
        name = f"{image.name}:{image.tag}" if image.name and image.tag else (image.name or src)
        yield bom_for_image(image, name), image
