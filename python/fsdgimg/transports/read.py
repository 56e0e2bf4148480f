"""Open anything the core reads as an Image or Index: one entry point for every command."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from fsdgimg.errors import UsageError
from fsdgimg.oci.blobstore import scratch_store
from fsdgimg.oci.compression import Compression
from fsdgimg.oci.descriptor import Platform
from fsdgimg.oci.image import Artifact
from fsdgimg.oci.imageconfig import parse_epoch
from fsdgimg.progress import Progress
from fsdgimg.transports.location import Location, parse


def epoch_from_env() -> int | None:
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value is None or value == "":
        return None
    return parse_epoch(value, "SOURCE_DATE_EPOCH")


@contextmanager
def open_source(text: str | Location, *, compression: Compression | None = None, tag: str | None = None,
                platform: Platform | None = None, scratch_parent: Path | None = None,
                epoch: int | None = None, docker: bool = False,
                progress: bool | None = None, registry=None, collect=None) -> Iterator[Artifact]:
    """Yield the Image or Index at `text`. Archives and root file systems are imported (once, in
    one pass, compressed with `compression`) into a scratch store that lives until the block ends.
    Registries and static trees stream their blobs from where they are; `registry` is the
    fsdgimg.transports.write.RegistryOptions (credentials, TLS, retries) for docker:// locations. `collect`:
    a collector factory the import pass feeds each layer to (fsdgimg.sbom.generate.collector)."""
    loc = parse(text) if isinstance(text, str) else text
    tag = loc.tag or tag
    compression = compression or Compression()
    if loc.kind == "oci":
        from fsdgimg.transports.layout import read_oci_layout
        yield read_oci_layout(loc.path, tag, platform)
        return
    if loc.kind in ("docker-archive", "rootfs"):
        size = loc.path.stat().st_size if loc.path.is_file() else None
        with scratch_store(scratch_parent) as store, \
                Progress(f"reading {loc.path.name}", size, enabled=progress) as bar:
            if loc.kind == "docker-archive":
                from fsdgimg.transports.archive import load_docker_archive
                wanted = f"{loc.reference.name}:{loc.tag}" if loc.reference else tag
                image = load_docker_archive(loc.path, store, compression, tag=wanted, docker=docker, progress=bar,
                                            collect=collect)
                if platform is not None and not platform.matches(image.platform):
                    raise UsageError(f"{loc.path}: image is for {image.platform}, not {platform}")
            else:
                from fsdgimg.transports.rootfs import load_rootfs
                e = epoch if epoch is not None else epoch_from_env()
                image = load_rootfs(loc.path, store, compression, platform=platform,
                                    epoch=e if e is not None else 0, docker=docker, progress=bar,
                                    collect=collect)
                image.tag = tag
            bar.close()
            yield image
        return
    if loc.kind == "docker":
        # `registry`: a RegistryOptions (credentials, --insecure, --ca-file, retries); blobs stream.
        from fsdgimg.transports.registry.pull import open_registry
        with open_registry(loc, platform=platform, options=registry) as artifact:
            yield artifact
        return
    if loc.kind == "static":
        from fsdgimg.transports.static.read import open_static
        with open_static(loc, platform=platform) as artifact:
            yield artifact
        return
    raise UsageError(f"{loc}: cannot read images from a {loc.kind} location")
