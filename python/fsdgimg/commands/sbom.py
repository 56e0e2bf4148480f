"""fsdgimg sbom SRC [-o FILE]"""

from __future__ import annotations

import sys
from pathlib import Path

from fsdgimg.commands.options import (
    add_catalog,
    add_insecure,
    add_json,
    add_platform,
    add_source_registry,
    source_registry_from,
)


def register(sub) -> None:
    p = sub.add_parser("sbom", help="an image's bill of materials (SPDX 2.3 JSON)",
                       description="SRC: any image fsdgimg reads (oci:DIR[:TAG], docker-archive:FILE, "
                                   "a registry or static tree), or a Guix catalog entry (read from the "
                                   "channel with guix repl, nothing built). Debian-family images are "
                                   "read from dpkg's database and copyright files, Parabola from "
                                   "pacman's local database.")
    p.add_argument("src", metavar="SRC")
    p.add_argument("-o", "--output", type=Path, help="write the document here (default: standard output)")
    add_platform(p, "OS/ARCH[/VARIANT]: which image of an index")
    add_catalog(p, "image catalog, for catalog entry names")
    p.add_argument("--attach", action="store_true",
                   help="attach the document to SRC (docker:// or static:) as an OCI 1.1 artifact")
    add_insecure(p)
    add_source_registry(p)
    add_json(p, "with -o or --attach: print a JSON summary")
    p.set_defaults(func=run)


def summary(bom, path: Path | None) -> dict:
    return {"image": bom.name, "digest": bom.image_digest, "distribution": bom.distribution,
            "packages": sum(1 for p in bom.packages if p.kind == "package"),
            "inputs": sum(1 for p in bom.packages if p.kind != "package"),
            "document": str(path) if path else None}


def run(args) -> int:
    from fsdgimg.oci.descriptor import Platform
    from fsdgimg.sbom import spdx
    from fsdgimg.sbom.resolve import open_bom
    from fsdgimg.transports.static.files import write_bytes
    platform = Platform.parse(args.platform) if args.platform else None
    with open_bom(args.src, platform=platform, catalog_path=args.catalog,
                  registry=source_registry_from(args, args.insecure)) as (bom, _image):
        data = spdx.to_bytes(bom)
    attached = None
    if args.attach:
        from fsdgimg.signature import artifacts
        from fsdgimg.trust import attachments as att
        from fsdgimg.trust.publishing import attach_target
        t = attach_target(args.src, bom.image_digest, args.insecure, source_registry_from(args, args.insecure))
        if t is None:
            from fsdgimg.errors import UsageError
            raise UsageError(f"--attach: {args.src} is not a registry or static tree image")
        attached = att.attach_all(t, [artifacts.Attachment(artifacts.SBOM_TYPE, data, "sbom.spdx.json")], bom.created)
    if args.output is None and attached is None:
        sys.stdout.buffer.write(data)
        return 0
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(args.output, data)
    info = summary(bom, args.output)
    if attached:
        info["attached"] = attached[0]["digest"]
    if args.json:
        from fsdgimg.commands.options import emit_json
        emit_json(info)
    else:
        print(f"{args.output or args.src}: {info['packages']} packages ({bom.distribution})"
              + (f", {info['inputs']} build inputs" if info["inputs"] else "")
              + (f"; attached as {info['attached']}" if attached else ""))
    return 0
