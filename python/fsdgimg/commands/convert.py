"""fsdgimg convert SRC DEST"""

from __future__ import annotations

# Kept importable from here (other commands used them before commands/options.py).
from fsdgimg.commands.options import (  # noqa: F401
    add_digestfile,
    add_image_options,
    add_json,
    add_source_registry,
    emit,
    epoch,
    image_options_from,
    parse_annotation,
    source_registry_from,
)


def options_from(args):
    return image_options_from(args)


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert an image (Guix/docker archive, OCI layout, root file system)",
                       description="Convert SRC into DEST. Locations: oci:DIR[:TAG], docker-archive:FILE, "
                                   "docker://HOST/NAME[:TAG|@DIGEST], static:DIR/NAME[:TAG], or a path whose "
                                   "kind is detected from its content.")
    p.add_argument("src")
    p.add_argument("dest")
    p.add_argument("--tag", help="tag in the destination (default: the source's; Guix archives say 'latest')")
    add_digestfile(p)
    add_image_options(p)
    add_source_registry(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from fsdgimg.transports.convert import convert
    if args.digestfile:
        from fsdgimg.commands.options import check_output_file
        check_output_file(args.digestfile, "--digestfile")
    result = convert(args.src, args.dest, image_options_from(args), source=source_registry_from(args))
    if args.digestfile:
        Path(args.digestfile).write_text(result["digest"])
    return emit(args, result, f"{result['destination']} {result['digest']}")
