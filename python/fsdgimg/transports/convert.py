"""Any readable image to any location, the same way for every command: open the source, apply the
image options (compression, annotations, creation time: `prepare`, which writes nothing), and hand
the result to the one writer, fsdgimg.transports.write.write().

`fsdgimg convert`, `fsdgimg publish` and `fsdgimg build --publish` all go through `prepare` and
`write`, so the same source and options give the same manifest digest whatever the destination.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fsdgimg.errors import UsageError
from fsdgimg.oci.compression import Compression
from fsdgimg.oci.descriptor import Platform
from fsdgimg.oci.image import Artifact, Image, walk
from fsdgimg.oci.imageconfig import parse_created, rfc3339
from fsdgimg.oci.mutate import Lazy, annotate, recompress
from fsdgimg.transports.location import Location, parse
from fsdgimg.transports.read import epoch_from_env, open_source

CREATED = "org.opencontainers.image.created"
REF_NAME = "org.opencontainers.image.ref.name"
TITLE = "org.opencontainers.image.title"


@dataclass
class ImageOptions:
    """The options every command that makes an image shares (defined once, see commands/options.py).
    `compression` None: layers that are already compressed stay as they are; imported archives and
    root file systems are compressed with gzip."""
    tag: str | None = None
    compression: Compression | None = None
    platform: Platform | None = None
    source_date_epoch: int | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    progress: bool | None = None

    @property
    def import_compression(self) -> Compression:
        return self.compression or Compression()

    def epoch(self) -> int | None:
        return self.source_date_epoch if self.source_date_epoch is not None else epoch_from_env()


ConvertOptions = ImageOptions  # its name when only `convert` used it


def standard_annotations(artifact: Artifact, epoch: int | None, *, fill: bool = True) -> dict[str, str]:
    """created (SOURCE_DATE_EPOCH, else the image's own creation time) and title (the image's name).

    With `fill` False (an existing manifest, read from a layout, registry or tree) only an explicit
    epoch is applied: copying an image without options keeps its manifest, hence its digest.
    The tag is never an annotation of the manifest: it names the image in index.json only."""
    out: dict[str, str] = {}
    existing = artifact.manifest.annotations
    if epoch is not None:
        out[CREATED] = rfc3339(epoch)
    elif fill and CREATED not in existing:
        first = next((x for x in walk(artifact) if isinstance(x, Image)), None)
        created = parse_created(first.config.get("created")) if first else None
        if created is not None:
            out[CREATED] = rfc3339(created)
    if fill and artifact.name and TITLE not in existing:
        out[TITLE] = artifact.name
    return out


def prepare(artifact: Artifact, options: ImageOptions, epoch: int | None = None) -> Lazy:
    """The image as the options ask for it (pending: layers are recompressed only when written)."""
    made_here = getattr(artifact, "fresh", False)   # imported from an archive or a root file system
    x = recompress(artifact, options.compression)
    return annotate(x, {**standard_annotations(artifact, epoch, fill=made_here), **options.annotations})


def copy(src: str | Location, dest: str | Location, options: ImageOptions | None = None, write_options=None,
         source=None):
    """Open `src`, prepare it with `options` and write it to `dest`: returns fsdgimg.transports.write.Written.
    `source`: the RegistryOptions to read a docker:// SRC with (--src-creds, --src-tls-verify,
    --src-cert-dir); by default the destination's transport settings, never its credentials."""
    from fsdgimg.transports.options import RegistryOptions, WriteOptions
    from fsdgimg.transports.write import write
    options = options or ImageOptions()
    write_options = write_options or WriteOptions(tag=options.tag)
    out = parse(dest, for_writing=True) if isinstance(dest, str) else dest
    epoch = options.epoch()
    r = write_options.registry
    reading = source or RegistryOptions(insecure=r.insecure, ca_file=r.ca_file, jobs=r.jobs, retries=r.retries)
    scratch = out.path.resolve().parent if out.path is not None else None
    with open_source(src, compression=options.import_compression, platform=options.platform,
                     scratch_parent=scratch, epoch=epoch, progress=options.progress, registry=reading) as artifact:
        return write(prepare(artifact, options, epoch), out, write_options)


def convert(src: str, dest: str, options: ImageOptions | None = None, source=None) -> dict:
    options = options or ImageOptions()
    out = parse(dest, for_writing=True)
    if out.kind not in ("oci", "docker-archive"):
        raise UsageError(f"{dest}: convert writes oci:DIR[:TAG] or docker-archive:FILE; "
                         "use 'fsdgimg publish' for registries and static trees")
    return copy(src, out, options, source=source).report
