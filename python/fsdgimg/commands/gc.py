"""fsdgimg gc static:DIR: remove what no tag reaches, safely while the tree is served."""

from __future__ import annotations

import re
import sys

from fsdgimg.commands.options import add_json
from fsdgimg.errors import UsageError


def duration(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not m:
        import argparse
        raise argparse.ArgumentTypeError(f"expected a duration like 90, 30s, 10m, 2h or 1d, got {text!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def register(sub) -> None:
    p = sub.add_parser("gc", help="remove blobs and manifests of a static tree that no tag reaches",
                       description="Remove from the static tree DIR the manifests and blobs no tag reaches. "
                                   "Anything unreferenced for less than --grace stays, so clients that "
                                   "resolved a tag just before it moved can finish their pull.")
    p.add_argument("dest", metavar="static:DIR")
    p.add_argument("--grace", type=duration, default=3600.0, help="grace period (default 1h; 0 for none)")
    p.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    add_json(p, "print the result as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from fsdgimg.transports.static.gc import collect
    if not args.dest.startswith("static:"):
        raise UsageError(f"{args.dest}: gc works on static:DIR trees (a registry has its own garbage collector)")
    report = collect(Path(args.dest[len("static:"):]), grace=args.grace, dry_run=args.dry_run)
    if args.json:
        from fsdgimg.commands.options import emit_json
        emit_json(report.__dict__)
        return 0
    if args.dry_run:
        for path in report.removed:
            print(path)
    print(f"{'would remove' if args.dry_run else 'removed'} {report.manifests_removed} manifest(s), "
          f"{report.blob_links_removed} blob link(s), {report.store_files_removed} stored file(s) "
          f"({report.bytes_freed / 1e6:.1f} MB), {report.signatures_removed} signature(s), "
          f"{report.temporaries_removed} temporary file(s); "
          f"{report.kept_in_grace} kept for the grace period", file=sys.stderr)
    return 0
