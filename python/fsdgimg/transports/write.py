"""The one writer: `write(artifact, location, options)` puts an Image or Index somewhere.

    oci:DIR[:TAG]                             fsdgimg.transports.layout_sink
    docker-archive:FILE                       fsdgimg.transports.archive_sink
    docker://HOST[:PORT]/NAME[:TAG|@DIGEST]   fsdgimg.transports.registry.sink (fsdgimg.transports.registry pushes)
    static:DIR                                fsdgimg.transports.static.sink (fsdgimg.transports.static writes)

`convert`, `publish`, `build --publish`, `index` and `sync` all write through here. Each destination
is one module with `write(artifact, location, options) -> Written`, registered in WRITERS under its
Location kind; a writer first calls `fsdgimg.oci.mutate.realize` (pending recompression happens into its
own store) and reports the manifest (or index) digest, whatever the destination.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from fsdgimg.errors import UsageError
from fsdgimg.oci.reference import check_name, check_tag
from fsdgimg.transports.location import Location, parse

# Location kind -> module implementing write(). A new destination: one module, one line here.
WRITERS: dict[str, str] = {
    "oci": "fsdgimg.transports.layout_sink",
    "docker-archive": "fsdgimg.transports.archive_sink",
    "docker": "fsdgimg.transports.registry.sink",
    "static": "fsdgimg.transports.static.sink",
}


def register(kind: str, module: str) -> None:
    """Add a destination at run time (a plug-in): `module` has write(artifact, location, options)."""
    WRITERS[kind] = module


@dataclass
class RegistryOptions:
    username: str | None = None
    password: str | None = None
    insecure: bool = False
    ca_file: str | None = None
    jobs: int = 4
    retries: int = 5
    mount_from: list[str] = field(default_factory=list)
    remember: bool = True  # blob locations and unfinished uploads, between runs
    # An open RegistryClient of the destination's registry to push with, left open: what is written
    # right after reading that registry (signatures, attachments) reuses its probed scheme, token and
    # connections instead of probing /v2/ again. Built from these same options (credentials stay its).
    client: object = None


@dataclass
class StaticOptions:
    fsync: bool = True
    link: bool = True
    web: dict | None = None  # server_name, listen, public_host; None keeps the tree's last ones


@dataclass
class WriteOptions:
    """How to name and write. `name` (NAME[:TAG]) names the image where the location does not
    (static:); `tag` is the default tag (else the image's own, else latest); `additional_tags`
    name the same image too (registries and static trees)."""
    name: str | None = None
    tag: str | None = None
    additional_tags: list[str] = field(default_factory=list)
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    static: StaticOptions = field(default_factory=StaticOptions)
    progress: object = None  # a fsdgimg.progress.Progress, or None


@dataclass
class Written:
    destination: str  # e.g. oci:DIR:TAG, docker://host/name:tag, static:DIR/name:tag
    digest: str       # of the manifest or index written, for every destination
    report: dict

    def __str__(self) -> str:
        return f"{self.destination} {self.digest}"


Published = Written  # the name this result had before every destination shared it


def split_name(text: str, default_tag: str | None) -> tuple[str, str | None]:
    """NAME[:TAG] (no registry host: a static tree has none)."""
    head, slash, last = text.rpartition("/")
    last, colon, tag = last.partition(":")
    return check_name(head + slash + last), (check_tag(tag) if colon else default_tag)


def default_tag(artifact, options: WriteOptions) -> str:
    return options.tag or artifact.tag or "latest"


def write(artifact, location: str | Location, options: WriteOptions | None = None) -> Written:
    """Write `artifact` (an Image, Index or fsdgimg.oci.mutate.Pending) to `location`."""
    options = options or WriteOptions()
    loc = parse(location, for_writing=True) if isinstance(location, str) else location
    module = WRITERS.get(loc.kind)
    if module is None:
        raise UsageError(f"{loc}: cannot write to a {loc.kind} location")
    if options.additional_tags and loc.kind not in ("docker", "static"):
        raise UsageError(f"--additional-tag is for docker:// and static: destinations, not {loc.kind}:")
    if options.name and loc.kind != "static":  # (static:DIR/NAME names it too: the static writer says so)
        raise UsageError(f"--name is for static: destinations; {loc} names the image itself")
    options.additional_tags = [check_tag(t) for t in options.additional_tags]
    return importlib.import_module(module).write(artifact, loc, options)


def publish_artifact(artifact, dest: str | Location, *, name: str | None = None, tag: str | None = None,
                     additional_tags: list[str] = (), registry: RegistryOptions | None = None,
                     static: StaticOptions | None = None, progress=None) -> Written:
    """write() with keyword options (the interface this module had before write())."""
    return write(artifact, dest, WriteOptions(name, tag, list(additional_tags), registry or RegistryOptions(),
                                              static or StaticOptions(), progress))
