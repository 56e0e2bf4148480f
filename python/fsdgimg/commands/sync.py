"""fsdgimg sync SRC --to DEST: mirror every tag of a repository, or every repository of a static tree,
between registries and static trees."""

from __future__ import annotations

import sys

from fsdgimg.commands.options import (
    add_json,
    add_registry,
    add_source_registry,
    add_static_writing,
    registry_from,
    source_registry_from,
)
from fsdgimg.errors import printable


def register(sub) -> None:
    p = sub.add_parser(
        "sync", help="mirror repositories between registries and static trees",
        description="Copy every tag (or those --tag matches) of the repository SRC (docker://HOST/NAME or "
                    "static:DIR/NAME), or every repository of the static tree SRC (static:DIR), to DEST: "
                    "docker://HOST[/NAME-or-PREFIX] or static:DIR[/NAME]. Only blobs DEST lacks are sent, "
                    "straight from SRC; images whose tag already names the same digest are left alone; "
                    "tags move last. Each image's signatures and attachments go with it (--no-signatures: not).")
    p.add_argument("src", metavar="SRC")
    p.add_argument("--to", required=True, metavar="DEST", dest="dest")
    p.add_argument("--tag", action="append", default=[], metavar="GLOB",
                   help="only tags matching GLOB (shell pattern, repeatable), e.g. '11.*'")
    p.add_argument("--dry-run", action="store_true",
                   help="only say what would be copied, and the signatures and attachments that would go "
                        "with it; nothing is written")
    p.add_argument("--no-signatures", action="store_true",
                   help="do not carry the images' signatures and attachments (by default a mirror gets every "
                        "image's cosign signatures, OCI 1.1 attachments and, between static trees, its OpenPGP "
                        "lookaside signatures and recorded signers, so it verifies like the source)")
    g = p.add_argument_group("registries (docker://)")
    add_registry(g, username_help="user name at the destination registry (the password from --password-stdin); "
                                  "a source's: --src-creds, the environment or auth files",
                 insecure_help="allow plain HTTP and unverified TLS for the registries named (loopback: plain "
                               "HTTP always)",
                 ca_help="CA certificate(s) to verify the registries' TLS certificates with",
                 jobs_help="blobs copied at once per image (default 4)")
    s = p.add_argument_group("static trees (static:DIR)")
    add_static_writing(s, "copy blobs from a static source on the same file system (default: hard-link them)")
    add_source_registry(p)
    add_json(p, "print the summary as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from fsdgimg.mirror.sync import sync
    from fsdgimg.transports.options import StaticOptions
    dest = registry_from(args)
    source = source_registry_from(args, args.insecure, args.ca_file, args.jobs, args.retries)
    static = StaticOptions(not args.no_fsync, not args.copy_blobs, None)
    report = sync(args.src, args.dest, tags=args.tag, dry_run=args.dry_run, source_options=source,
                  dest_options=dest, static_options=static,
                  signatures=not args.no_signatures)
    if args.json:
        from fsdgimg.commands.options import emit_json
        emit_json(report.to_json())
        return 0
    for item in report.images:
        extra = f" ({item.blobs_missing} blob(s), {item.bytes_missing / 1e6:.1f} MB)" if item.state != "unchanged" else ""
        # repository names and tags come from the source registry's answers
        print(printable(f"{item.state:10} {item.source} -> {item.destination} {item.digest}{extra}"))
        if args.dry_run and any(item.trust.get(k) for k in ("signatures", "attachments", "openpgp")):
            t = item.trust
            print(f"{'':10} would carry {t['signatures']} cosign signature image(s), {t['attachments']} "
                  f"attachment(s), {t['openpgp']} OpenPGP signature(s)")
    verb = "would copy" if args.dry_run else "copied"
    print(f"{len(report.images)} image(s): {sum(i.state in ('copied', 'would copy') for i in report.images)} "
          f"{verb}, {report.unchanged} unchanged; {report.blobs_sent} blob(s) sent, {report.blobs_mounted} mounted "
          f"({report.bytes_sent / 1e6:.1f} MB) in {report.seconds:.2f}s", file=sys.stderr)
    carried = (report.signatures_copied, report.attachments_copied, report.openpgp_signatures_copied)
    if any(carried) or report.signers_recorded:
        print(f"{'would carry' if args.dry_run else 'carried'} {carried[0]} cosign signature image(s), "
              f"{carried[1]} attachment(s), {carried[2]} OpenPGP signature(s), {report.signers_recorded} "
              "signer record(s)", file=sys.stderr)
    return 0
