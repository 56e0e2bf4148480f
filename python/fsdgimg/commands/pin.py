"""fsdgimg pin NAME [--channels FILE]"""

from __future__ import annotations

from pathlib import Path

from fsdgimg.commands.options import add_catalog, add_json


def register(sub) -> None:
    p = sub.add_parser("pin", help="pin a Guix catalog entry to exact channels (commits)",
                       description="Writes the channels (each with its commit) a Guix entry is built from to "
                                   "manifests/channels/NAME.scm beside the catalog and sets the entry's "
                                   "`channels` to it, so that every build — and `guix time-machine -C` years "
                                   "later — takes the same Guix. The channels are this machine's "
                                   "(`guix describe`, a guix from `guix pull`) or those of --channels FILE; a "
                                   "channel without a commit pins nothing and is refused.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--channels", type=Path, metavar="FILE",
                   help="a channels file (as `guix describe --format=channels` writes) instead of this machine's")
    add_catalog(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from fsdgimg.build.pin import pin
    from fsdgimg.guix import Guix
    out = pin(args.name, args.catalog, args.channels, Guix())
    if args.json:
        from fsdgimg.commands.options import emit_json
        emit_json(out)
    else:
        print(f"{out['image']}: pinned to {out['channels']} ("
              + ", ".join(f"{c['name']} {str(c['commit'])[:12]}" for c in out["pinned"]) + ")")
    return 0
