"""The command line: `fsdgimg SUBCOMMAND …` / `python -m fsdgimg SUBCOMMAND …`.

Expected failures (FsdgimgError) become one line on stderr and a non-zero exit; a traceback
is only ever shown for a bug, and only with FSDGIMG_DEBUG=1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from fsdgimg import __version__
from fsdgimg.commands import COMMANDS
from fsdgimg.errors import FsdgimgError, Terminated, printable


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (the full usage is one --help away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {printable(message)} (see '{self.prog} --help')\n")


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


TAIL = "  | "  # lines of a tool's log shown under the one line of its failure


def error_text(command: str | None, message: str) -> str:
    """What a failure prints: one line, every control character escaped — names from archives and
    text from registries reach messages, and must not act on the terminal or forge extra lines.
    A failing tool's log tail (lines starting with '  | ', see builders and guix) stays below it,
    each line escaped."""
    prefix = f"fsdgimg {command}" if command else "fsdgimg"
    head, *rest = message.split("\n")
    if rest and all(line.startswith(TAIL) for line in rest):
        return "\n".join([f"{prefix}: {printable(head)}"] + [TAIL + printable(line[len(TAIL):]) for line in rest])
    return f"{prefix}: {printable(message)}"


def _terminate(signum, frame):
    raise Terminated()


def _interruption(e: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM behind `e`. Python wraps what some hooks raise — a descriptor's
    __set_name__, run as a lazily imported module defines its dataclasses — in a RuntimeError, so a
    signal arriving there surfaces as one."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def _interrupted(command: str | None, e: KeyboardInterrupt) -> int:
    if isinstance(e, Terminated):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the message short
        print(error_text(command, "terminated"), file=sys.stderr)
        return 128 + signal.SIGTERM
    print(error_text(command, "interrupted"), file=sys.stderr)
    return 128 + signal.SIGINT


def main(argv: list[str] | None = None) -> int:
    # SIGTERM (kill, a service manager, a CI timeout) cleans up exactly like Ctrl-C: scratch
    # stores, temporary layouts and half-written files are removed on the way out.
    signal.signal(signal.SIGTERM, _terminate)
    command = None
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        command = args.command
        return int(args.func(args) or 0)
    except FsdgimgError as e:
        print(error_text(command, str(e)), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:
        return _interrupted(command, e)
    except RuntimeError as e:
        signalled = _interruption(e)
        if signalled is None:
            raise
        return _interrupted(command, signalled)
    except BrokenPipeError:
        # The reader went away (`fsdgimg inspect … | head`): not an error worth a traceback.
        sys.stderr.close()
        return 0
    except OSError as e:
        if os.environ.get("FSDGIMG_DEBUG"):
            raise
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(error_text(command, f"{where}{e.strerror or e}"), file=sys.stderr)
        return 1
