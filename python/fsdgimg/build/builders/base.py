"""What every builder gives back, and the context it runs in.

A builder turns one catalog entry into an artifact the image core reads (a docker archive as
Guix writes it, or a root file system tarball/directory) plus provenance. It does not convert
or compare: that is the image core's and the check's business.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.catalog import Entry
from fsdgimg.errors import FsdgimgError, UsageError
from fsdgimg.guix import Guix

TAIL_LINES = 15


@dataclass
class BuildResult:
    kind: str                      # "docker-archive" or "rootfs"
    path: Path                     # where the core reads it
    annotations: dict[str, str] = field(default_factory=dict)   # provenance for the manifest
    files: dict[str, bytes] = field(default_factory=dict)       # provenance files for the layout
    derivation: str | None = None  # Guix: the .drv that was built
    store_path: str | None = None  # Guix: its output in the store
    method: str = ""               # how it was built, for the report
    inputs: object = None          # what the lock records of the inputs (lock.DebianInputs; Guix: a dict)
    inputs_dir: Path | None = None # the input packages themselves, as the build fetched them
    tool: dict = field(default_factory=dict)   # the lock's {"name", "version", "argv"}


@dataclass
class Context:
    workdir: Path                  # scratch space of this build; one subdirectory per round
    epoch: int | None              # SOURCE_DATE_EPOCH, None when unset
    guix: Guix
    tools: str = "auto"            # debootstrap family: "host", "guix" or "auto"
    echo: bool = False             # show the tools' output live (a terminal)
    lock: object = None            # a rebuild: the lock.Lock to build from, never the catalog's today
    fetch: object = None           # with `lock`: fetch(package, dest) puts a locked package's bytes at dest

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.epoch is not None:
            env["SOURCE_DATE_EPOCH"] = str(self.epoch)
        else:
            env.pop("SOURCE_DATE_EPOCH", None)
        return env

    def round_dir(self, n: int) -> Path:
        d = self.workdir / f"round-{n}"
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d


class BuildFailed(FsdgimgError):
    pass


class NotAvailable(FsdgimgError):
    """The builder's tools are not on this host."""


def run_tool(argv: list[str], what: str, ctx: Context, cwd: Path | None = None) -> str:
    """Run a build tool; its output shows on a terminal, and its tail is in the error if it fails."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=ctx.env(), cwd=cwd)
    except FileNotFoundError:
        raise NotAvailable(f"{what}: {argv[0]} is not installed on this host") from None
    lines = []
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            if ctx.echo:
                print(line, file=sys.stderr, flush=True)
        proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        errors = [l for l in lines if l.startswith("E:") or "error" in l.lower()]
        cause = (errors[-1] if errors else (lines[-1] if lines else "")).strip()
        tail = "\n".join("  | " + l for l in lines[-TAIL_LINES:])
        raise BuildFailed(f"{what} failed ({argv[0]} exit {proc.returncode})"
                          + (f": {cause[:300]}" if cause else "") + (f"\n{tail}" if tail else ""))
    return "\n".join(lines)


def tool_version(argv: list[str]) -> str:
    """A tool's version line (`mmdebstrap --version`), for the lock; empty when it does not say."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.splitlines()[0] if out else ""


class Builder:
    """One way of building images: how an entry builds, and how it is rebuilt for --check.

    Callers (fsdgimg.build.pipeline) use only this interface, never a builder's class."""

    name = ""
    # Whether the files' times come from SOURCE_DATE_EPOCH (else each build stamps its own time).
    needs_epoch = True

    def build(self, entry: Entry, ctx: Context, round_no: int) -> BuildResult:
        raise NotImplementedError

    def rebuild(self, entry: Entry, ctx: Context, first: BuildResult, round_no: int = 2) -> BuildResult | None:
        """An independent build to compare with `first`; None when the builder's own check already
        found it bit-identical. By default: another build, in a fresh directory."""
        return self.build(entry, ctx, round_no)

    def unavailable(self, entry: Entry) -> str | None:
        """Why this host cannot build `entry` (one architecture), or None when it can. Asked for
        every platform before any is built, so that a multi-platform build fails before it starts."""
        return None

    def check_method(self) -> str:
        return "a second, independent build in a fresh directory"

    def discard(self, result: BuildResult) -> None:
        """Free what a build took once it is imported (a root file system in the scratch directory)."""
        if result.kind == "rootfs":
            if result.path.is_dir():
                shutil.rmtree(result.path, ignore_errors=True)
            else:
                result.path.unlink(missing_ok=True)

    def derivation(self, entry: Entry, ctx: Context) -> str:
        """The Guix derivation that builds `entry` (`fsdgimg build --derivation`)."""
        raise UsageError(f"--derivation: {entry.name} is built by {entry.builder}, not by Guix")
