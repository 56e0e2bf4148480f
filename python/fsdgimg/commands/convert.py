"""fsdgimg convert SRC DEST"""

from __future__ import annotations

import argparse

from fsdgimg.compression import COMPRESSIONS, Compression
from fsdgimg.convert import ConvertOptions, convert
from fsdgimg.descriptor import Platform
from fsdgimg.errors import UsageError
from fsdgimg.reference import check_tag


def parse_annotation(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def epoch(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected seconds since the epoch, got {text!r}")
    return int(text)


def add_image_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--compression", choices=COMPRESSIONS, default="gzip",
                   help="layer compression (default gzip: every client reads it)")
    p.add_argument("--level", type=int, help="compression level (gzip 1-9, 1-3 by ISA-L; zstd 1-19)")
    p.add_argument("--platform", help="OS/ARCH[/VARIANT]: choose from an index, or set for a root file system")
    p.add_argument("--source-date-epoch", type=epoch,
                   help="creation time for reproducible output (default: $SOURCE_DATE_EPOCH, else the input's)")
    p.add_argument("--annotation", action="append", type=parse_annotation, default=[], metavar="KEY=VALUE",
                   help="add a manifest annotation, e.g. org.opencontainers.image.source=URL (repeatable)")


def options_from(args) -> ConvertOptions:
    return ConvertOptions(
        tag=check_tag(args.tag) if getattr(args, "tag", None) else None,
        compression=Compression(args.compression, args.level),
        platform=Platform.parse(args.platform) if args.platform else None,
        source_date_epoch=args.source_date_epoch,
        annotations=dict(args.annotation))


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert an image (Guix/docker archive, OCI layout, root file system)",
                       description="Convert SRC into DEST. Locations: oci:DIR[:TAG], docker-archive:FILE, "
                                   "or a path whose kind is detected from its content.")
    p.add_argument("src")
    p.add_argument("dest")
    p.add_argument("--tag", help="tag in the destination (default: the source's; Guix archives say 'latest')")
    add_image_options(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.level is not None and args.compression == "none":
        raise UsageError("--level makes no sense with --compression none")
    result = convert(args.src, args.dest, options_from(args))
    if args.json:
        from fsdgimg.cli import emit_json
        emit_json(result)
    else:
        print(f"{result['destination']} {result['digest']}")
    return 0
