"""Subcommands. Each module has register(subparsers) and a run(args) -> int; see docs/core-api.md.

May import: every room (build, mirror, trust, audit, sbom, transports, …); only cli.py imports it.
Argument parsing and output live here, the work in the rooms below, so a library user never needs
this package.
"""

COMMANDS = [
    "convert",
    "inspect",
    "publish",
    "index",
    "serve",
    "gc",
    "web_config",
    "build",
    "list",
    "sync",
    "sbom",
    "audit",
    "sign",
    "attest",
    "verify",
    "rebuild",
    "pin",
]
