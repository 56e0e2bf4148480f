"""The command line: `fsdgimg SUBCOMMAND …` / `python -m fsdgimg SUBCOMMAND …`.

Expected failures (FsdgimgError) become one line on stderr and a non-zero exit; a traceback
is only ever shown for a bug, and only with FSDGIMG_DEBUG=1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys

from fsdgimg import __version__
from fsdgimg.commands import COMMANDS
from fsdgimg.errors import FsdgimgError


def emit_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (the full usage is one --help away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _chosen(argv: list[str]) -> list[str]:
    """The command modules this command line needs: only the one it names, else all (for --help).

    Importing every command (jinja2, requests, the builders) costs ~0.25 s of start-up that a
    script calling `fsdgimg publish` in a loop should not pay."""
    for arg in argv:
        if arg.startswith("-"):
            continue
        module = arg.replace("-", "_")
        return [module] if module in COMMANDS else COMMANDS
    return COMMANDS


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fsdgimg",
        description="Build, verify and publish container images of FSDG distributions.")
    parser.add_argument("--version", action="version", version=f"fsdgimg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in _chosen(sys.argv[1:] if argv is None else argv):
        importlib.import_module(f"fsdgimg.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FsdgimgError as e:
        print(f"fsdgimg {args.command}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"fsdgimg {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except BrokenPipeError:
        # The reader went away (`fsdgimg inspect … | head`): not an error worth a traceback.
        sys.stderr.close()
        return 0
    except OSError as e:
        if os.environ.get("FSDGIMG_DEBUG"):
            raise
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        print(f"fsdgimg {args.command}:{where} {e.strerror or e}", file=sys.stderr)
        return 1
