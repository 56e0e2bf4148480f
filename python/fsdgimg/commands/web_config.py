"""fsdgimg web-config nginx|apache|caddy --root DIR: print a web-server configuration for a static tree.

`fsdgimg web-config nginx --locations-only --root DIR` prints only nginx `location` blocks: the Guix
channel's static-registry-service-type includes that output in its server. Keep it stable."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("web-config", help="print an nginx, Apache or Caddy configuration for a static tree")
    p.add_argument("server", choices=("nginx", "apache", "caddy"))
    p.add_argument("--root", required=True, metavar="DIR", help="the static tree (the directory holding v2/)")
    p.add_argument("--server-name", help="server name (nginx server_name, Apache ServerName, Caddy site)")
    p.add_argument("--listen", help="listen address, PORT or HOST:PORT (default 80)")
    p.add_argument("--locations-only", action="store_true",
                   help="nginx: only the location blocks, to include in a server of your own")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from fsdgimg.static.webconfig import render
    sys.stdout.write(render(args.server, Path(args.root), server_name=args.server_name, listen=args.listen,
                            locations_only=args.locations_only))
    return 0
