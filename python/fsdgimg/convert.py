"""`fsdgimg convert`: any readable image into an OCI layout or a docker archive, deterministically."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.compression import Compression
from fsdgimg.descriptor import Platform
from fsdgimg.errors import UsageError
from fsdgimg.image import Artifact, Image, walk
from fsdgimg.imageconfig import parse_created, rfc3339
from fsdgimg.mutate import annotate, recompress
from fsdgimg.source import epoch_from_env, open_source
from fsdgimg.transport import parse

CREATED = "org.opencontainers.image.created"
REF_NAME = "org.opencontainers.image.ref.name"
TITLE = "org.opencontainers.image.title"


@dataclass
class ConvertOptions:
    tag: str | None = None
    compression: Compression = field(default_factory=Compression)
    platform: Platform | None = None
    source_date_epoch: int | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    progress: bool | None = None


def standard_annotations(artifact: Artifact, tag: str, epoch: int | None) -> dict[str, str]:
    """created (from SOURCE_DATE_EPOCH or the image itself), ref.name and title."""
    out: dict[str, str] = {}
    if epoch is None:
        first = next((x for x in walk(artifact) if isinstance(x, Image)), None)
        epoch = parse_created(first.config.get("created")) if first else None
    if epoch is not None:
        out[CREATED] = rfc3339(epoch)
    out[REF_NAME] = tag
    if artifact.name:
        out[TITLE] = artifact.name
    return out


def convert(src: str, dest: str, options: ConvertOptions | None = None) -> dict:
    options = options or ConvertOptions()
    out = parse(dest, for_writing=True)
    if out.kind not in ("oci", "docker-archive"):
        raise UsageError(f"{dest}: convert writes oci:DIR[:TAG] or docker-archive:FILE; "
                         "use 'fsdgimg publish' for registries and static trees")
    epoch = options.source_date_epoch if options.source_date_epoch is not None else epoch_from_env()
    docker = out.kind == "docker-archive"
    with open_source(src, compression=Compression("none") if docker else options.compression,
                     platform=options.platform, scratch_parent=out.path.parent, epoch=epoch,
                     docker=docker, progress=options.progress) as artifact:
        tag = out.tag or options.tag or artifact.tag or "latest"
        if docker:
            from fsdgimg.sinks.docker_archive import write_docker_archive
            result = write_docker_archive(out.path, artifact, f"{artifact.name or 'image'}:{tag}")
            return {"destination": str(out.path), "format": "docker-archive", "tag": tag, **result}
        from fsdgimg.sinks.oci_layout import LayoutWriter
        with LayoutWriter(out.path) as writer:
            stored = recompress(artifact, writer.store, options.compression, trusted=artifact.fresh)
            stored = annotate(stored, {**standard_annotations(artifact, tag, epoch), **options.annotations})
            writer.add(stored, tag)
            writer.commit()
    return summary(stored, out.path, tag)


def summary(x: Artifact, path: Path, tag: str) -> dict:
    return {"destination": f"oci:{path}:{tag}", "format": "oci", "tag": tag,
            "digest": str(x.digest), "mediaType": x.manifest.media_type,
            "size": len(x.manifest.to_bytes())}
