"""fsdgimg inspect REF"""

from __future__ import annotations

from fsdgimg.commands.options import (
    add_json,
    add_platform,
    add_source_registry,
    source_registry_from,
    usage_value,
)


def register(sub) -> None:
    p = sub.add_parser("inspect", help="summarise an image: tag, digest, platform, layers, annotations",
                       description="REF: oci:DIR[:TAG], docker-archive:FILE, docker://HOST/NAME[:TAG|@DIGEST], "
                                   "static:DIR/NAME[:TAG], or a path whose kind is detected.")
    p.add_argument("ref")
    add_platform(p, "OS/ARCH[/VARIANT]: show only that image of an index")
    add_source_registry(p, "REF")
    add_json(p, "print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from fsdgimg.oci.compression import Compression
    from fsdgimg.oci.describe import describe, render
    from fsdgimg.oci.descriptor import Platform
    from fsdgimg.transports.read import open_source
    platform = usage_value(Platform.parse, args.platform) if args.platform else None
    # Archives are imported uncompressed: the cheapest way to learn their diff IDs.
    with open_source(args.ref, compression=Compression("none"), platform=platform,
                     registry=source_registry_from(args)) as artifact:
        info = describe(artifact)
    if args.json:
        from fsdgimg.commands.options import emit_json
        emit_json(info)
    else:
        print(render(info))
    return 0
