"""fsdgimg serve DIR: a small read-only server for a static tree."""

from __future__ import annotations

import sys

from fsdgimg.commands.options import add_json
from fsdgimg.errors import FsdgimgError, UsageError


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve a static tree over HTTP (read-only), to try it locally",
                       description="Serve the static tree DIR (as written by `fsdgimg publish --to static:DIR`) "
                                   "with the headers registry clients need. For production use the "
                                   "generated nginx, Apache or Caddy configuration.")
    p.add_argument("dir")
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                   help="address to listen on (default 127.0.0.1:8080)")
    p.add_argument("--quiet", action="store_true", help="do not log requests")
    p.add_argument("--blob-mirror", action="append", default=[], metavar="[files:]URL",
                   help="redirect blob downloads to this mirror of the tree (repeatable), as "
                        "`web-config --blob-mirror` does: blob sha256:HEX to mirror int(HEX[0:2], 16) %% N; "
                        "DIR/_web/mirrors-down/HOST[_PORT] marks one down")
    add_json(p, "once listening, print where as one JSON line on standard output (port 0: the port chosen)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from fsdgimg.transports.static import mirrors
    from fsdgimg.transports.static.serve import make_server
    blob_mirrors = mirrors.parse_all(args.blob_mirror)
    root = Path(args.dir.removeprefix("static:"))
    if not (root / "v2").is_dir():
        raise FsdgimgError(f"{root}: not a static tree (no v2/ directory): publish to static:{root} first")
    host, sep, port = args.listen.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--listen {args.listen!r}: expected HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    try:
        server = make_server(root, host, int(port), quiet=args.quiet, blob_mirrors=blob_mirrors)
    except OSError as e:
        raise FsdgimgError(f"cannot listen on {args.listen}: {e.strerror}") from None
    bound_host, bound_port = server.server_address[:2]
    where = f"[{bound_host}]:{bound_port}" if ":" in bound_host else f"{bound_host}:{bound_port}"
    if args.json:
        import json
        print(json.dumps({"root": str(root), "url": f"http://{where}/", "host": bound_host, "port": bound_port,
                          "blob_mirrors": [m.to_json() for m in blob_mirrors]}), flush=True)
    print(f"serving {root} on http://{where}/ (read-only)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
