"""The one writer: `write(artifact, location, options)` puts an Image or Index somewhere.

    oci:DIR[:TAG]                             transports.layout
    docker-archive:FILE                       transports.archive
    docker://HOST[:PORT]/NAME[:TAG|@DIGEST]   transports.registry.sink (transports.registry.push pushes)
    static:DIR                                transports.static.sink (transports.static.writer writes)

`convert`, `publish`, `build --publish`, `index` and `sync` all write through here. Each destination
is one module with `write(artifact, location, options) -> Written`, registered in kinds.WRITERS under its
Location kind; a writer first calls `fsdgimg.oci.mutate.realize` (pending recompression happens into its
own store) and reports the manifest (or index) digest, whatever the destination.
"""

from __future__ import annotations

import importlib

from fsdgimg.errors import UsageError
from fsdgimg.oci.reference import check_tag
from fsdgimg.transports.kinds import WRITERS
from fsdgimg.transports.location import Location, parse
from fsdgimg.transports.options import RegistryOptions, StaticOptions, WriteOptions, Written


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
