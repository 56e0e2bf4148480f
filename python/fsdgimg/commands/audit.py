"""fsdgimg audit SRC [--strict] [--report DIR]"""

from __future__ import annotations

import sys
from pathlib import Path

from fsdgimg.commands.options import (
    add_catalog,
    add_insecure,
    add_json,
    add_platform,
    add_source_registry,
    add_strict,
    source_registry_from,
)


def register(sub) -> None:
    p = sub.add_parser("audit", help="FSDG license audit of an image: every package free, nonfree or unknown",
                       description="SRC: an image (as for 'fsdgimg sbom'), a Guix catalog entry, or an "
                                   "SPDX JSON document. Each package is judged from its license "
                                   "expression against the license table (the FSF's free-license list via "
                                   "SPDX, then ScanCode's LicenseDB categories) and from its "
                                   "distribution's rules (Debian family: contrib, non-free and "
                                   "non-free-firmware are nonfree). Exit status 1 when a package is "
                                   "nonfree, when the SBOM lists no packages or fewer than the "
                                   "image's package database, or with --strict when one is unknown.")
    p.add_argument("src", metavar="SRC")
    add_strict(p)
    p.add_argument("--report", type=Path, metavar="DIR", help="write report.txt, report.html, report.json here")
    add_platform(p, "OS/ARCH[/VARIANT]: which image of an index")
    add_catalog(p, "image catalog, for catalog entry names")
    p.add_argument("--attach", action="store_true",
                   help="attach the JSON report to SRC (docker:// or static:) as an OCI 1.1 artifact")
    add_insecure(p)
    add_source_registry(p)
    add_json(p, "print the report as JSON")
    p.set_defaults(func=run)


def _is_spdx_file(src: str) -> bool:
    path = Path(src)
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        head = f.read(4096)
    return head.lstrip().startswith(b"{") and b"spdxVersion" in head


def run(args) -> int:
    from fsdgimg.audit.audit import FAIL, audit
    from fsdgimg.audit.report import render_json, render_text, save
    if _is_spdx_file(args.src):
        from fsdgimg.sbom.spdx import MAX_DOCUMENT, from_spdx
        path = Path(args.src)
        if path.stat().st_size > MAX_DOCUMENT:
            from fsdgimg.errors import InputError
            raise InputError(f"{path}: SPDX document over {MAX_DOCUMENT} bytes")
        bom = from_spdx(path.read_bytes(), str(path))
    else:
        from fsdgimg.oci.descriptor import Platform
        from fsdgimg.sbom.resolve import open_bom
        platform = Platform.parse(args.platform) if args.platform else None
        with open_bom(args.src, platform=platform, catalog_path=args.catalog,
                  registry=source_registry_from(args, args.insecure)) as (bom, _image):
            pass
    report = audit(bom, strict=args.strict)
    if args.report:
        save(report, args.report)
    if args.attach:
        from fsdgimg.signature import artifacts
        from fsdgimg.trust import attachments as att
        from fsdgimg.trust.publishing import attach_target
        t = attach_target(args.src, bom.image_digest, args.insecure, source_registry_from(args, args.insecure))
        if t is None:
            from fsdgimg.errors import UsageError
            raise UsageError(f"--attach: {args.src} is not a registry or static tree image")
        att.attach_all(t, [artifacts.Attachment(artifacts.AUDIT_TYPE, render_json(report), "audit-report.json", report.verdict)])
    if args.json:
        sys.stdout.buffer.write(render_json(report))
    else:
        sys.stdout.write(render_text(report))
    if report.verdict == FAIL:
        print(f"fsdgimg audit: {report.image} fails the FSDG audit: {report.failure()}", file=sys.stderr)
        return 1
    return 0
