"""Subcommands. Each module has register(subparsers) and a run(args) -> int; see docs/core-api.md."""

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
    "verify",
]
