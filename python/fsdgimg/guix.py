"""The one way fsdgimg runs `guix`: argument lists, the channel on the load path, errors made readable.

Every Guix invocation of the project goes through `Guix`: it adds `-L` for this channel, `--system`
(and `--target` when cross-compiling), `--no-grafts`, optional `guix time-machine -C CHANNELS --` pinning, parses the store path guix
prints, and turns a failure into one line naming what failed plus the tail of the build log.

Environment:
  FSDGIMG_GUIX               the guix executable (default: `guix` on PATH); may be a wrapper
  FSDGIMG_GUIX_STORE_PREFIX  where the daemon's /gnu/store is visible on this machine (default: /),
                             for a daemon running in a chroot
"""

from __future__ import annotations

import bz2
import functools
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.errors import FsdgimgError

_STORE_PATH = re.compile(r"^(/gnu/store/[0-9a-df-np-sv-z]{32}-[^\s/]+)\s*$")
_BUILD_LOG = re.compile(r"View build log at '([^']+)'")
_NOT_DETERMINISTIC = re.compile(
    r"derivation [`'‘]?(/gnu/store/\S+?\.drv)['’]? may not be deterministic: "
    r"output [`'‘]?(/gnu/store/\S+?)['’]? differs(?: from [`'‘]?(/gnu/store/\S+?)['’]?)?\s*$", re.M)
_KEPT_BUILD_DIR = re.compile(r"keeping build directory [`'‘](/[^'’]+)['’]")
TAIL_LINES = 15


class GuixError(FsdgimgError):
    """guix failed: the message is one line, then the tail of its output or build log."""

    def __init__(self, line: str, tail: list[str] | None = None, output: list[str] | None = None):
        self.line = line
        self.tail = tail or []
        self.output = output or self.tail     # all of guix's stderr, for callers that parse it
        text = line if not self.tail else line + "\n" + "\n".join("  | " + t for t in self.tail)
        super().__init__(text)


class GuixNotFound(GuixError):
    pass


@dataclass(frozen=True)
class CheckOutcome:
    """What `guix build --check` said about one derivation."""
    identical: bool
    output: str | None = None        # the store item that was built first
    other: str | None = None         # the differing rebuild (kept with --keep-failed)
    message: str = ""


def _build_flags(derivation: bool, grafts: bool, provenance: bool) -> list[str]:
    """The build options of `guix system image` (those of `guix pack` are guix-pack.toml's)."""
    flags = [] if grafts else ["--no-grafts"]
    if provenance:
        flags.append("--save-provenance")
    if derivation:
        flags.append("-d")
    return flags


@functools.cache
def _pack_arguments() -> dict:
    return tomllib.loads(Path(__file__).with_name("guix-pack.toml").read_text(encoding="utf-8"))


@dataclass
class Guix:
    load_path: list[Path] = field(default_factory=list)   # -L: this channel's modules
    system: str | None = None                              # --system (native or emulated build)
    target: str | None = None                              # --target: cross-compile for this GNU triplet
    channels: Path | None = None                           # guix time-machine -C FILE
    executable: str | None = None
    echo: bool | None = None                               # show guix's stderr live (default: on a TTY)

    def __post_init__(self):
        self.executable = self.executable or os.environ.get("FSDGIMG_GUIX") or "guix"
        if self.echo is None:
            self.echo = sys.stderr.isatty()

    # -- argument lists -------------------------------------------------------------------------

    def command(self, *args: str, load_path: bool = True, system: bool = False) -> list[str]:
        """argv for `guix ARGS…`, pinned by time-machine when a channels file is set."""
        argv = [self.executable]
        if self.channels is not None:
            argv += ["time-machine", "-C", str(self.channels), "--"]
        argv.append(args[0])
        if len(args) > 1 and args[0] == "system":
            argv.append(args[1])       # the action comes before the options
            args = args[1:]
        if load_path:
            for d in self.load_path:
                argv += ["-L", str(d)]
        if system and self.system:
            argv.append(f"--system={self.system}")
        if system and self.target:
            argv.append(f"--target={self.target}")
        argv += list(args[1:])
        return argv

    def system_image_command(self, file: Path, *, derivation: bool, image_type: str = "docker",
                             grafts: bool = False, provenance: bool = True) -> list[str]:
        opts = [f"--image-type={image_type}", *_build_flags(derivation, grafts, provenance)]
        return self.command("system", "image", *opts, str(file), system=True)

    def pack_command(self, manifest: Path, *, derivation: bool, max_layers: int | None = None,
                     entry_point: str | None = None) -> list[str]:
        """argv for `guix pack` of a catalog entry: the arguments and options of guix-pack.toml,
        which the Cuirass jobs read too."""
        given = {"max-layers": max_layers, "entry-point": entry_point}
        pack = _pack_arguments()
        opts = [*pack["arguments"], "-m", str(manifest)]
        opts += [f"--{key}={given[key]}" for key in pack["options"] if given[key]]
        if derivation:
            opts.append("-d")
        return self.command("pack", *opts, system=True)

    # -- running ----------------------------------------------------------------------------------

    def run(self, argv: list[str], what: str, env: dict | None = None,
            timeout: float | None = None) -> tuple[str, str]:
        """Run guix; return (stdout, stderr). Failure raises GuixError: one line plus a log tail."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=full_env)
        except FileNotFoundError:
            raise GuixNotFound(f"{what}: guix not found ({argv[0]}); install Guix or set FSDGIMG_GUIX") from None
        except PermissionError:
            raise GuixNotFound(f"{what}: cannot execute {argv[0]}") from None
        out_chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
        reader.start()
        err_lines = []
        try:
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                err_lines.append(line)
                if self.echo:
                    print(line, file=sys.stderr, flush=True)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise GuixError(f"{what}: guix did not finish within {timeout:.0f} s", err_lines[-TAIL_LINES:])
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        reader.join()
        stdout = b"".join(out_chunks).decode("utf-8", "replace")
        stderr = "\n".join(err_lines)
        if proc.returncode != 0:
            raise self._failure(what, proc.returncode, err_lines)
        return stdout, stderr

    def _failure(self, what: str, code: int, err_lines: list[str]) -> GuixError:
        errors = [l for l in err_lines if re.search(r"\berror:", l)]
        # The first error guix reports is the cause; later ones ("failed to load …") are its echo.
        cause = errors[0].strip() if errors else (next((l for l in reversed(err_lines) if l.strip()), "").strip())
        tail = err_lines[-TAIL_LINES:]
        logs = [m.group(1) for l in err_lines for m in [_BUILD_LOG.search(l)] if m]
        if logs:
            tail = self.read_log_tail(logs[-1]) or tail
        line = f"{what} failed (guix exit {code})" + (f": {cause}" if cause else "")
        return GuixError(line, tail, err_lines)

    def read_log_tail(self, log: str, lines: int = TAIL_LINES) -> list[str]:
        """The last lines of a build log guix pointed to (compressed with gzip or bzip2)."""
        path = self.host_path(log)
        try:
            data = path.read_bytes()
            if log.endswith(".gz"):
                data = gzip.decompress(data)
            elif log.endswith(".bz2"):
                data = bz2.decompress(data)
        except (OSError, EOFError, ValueError):
            return []
        return data.decode("utf-8", "replace").splitlines()[-lines:]

    @staticmethod
    def host_path(store_path: str) -> Path:
        """Where a daemon path (/gnu/store/…, /var/log/guix/…) is visible on this machine."""
        prefix = os.environ.get("FSDGIMG_GUIX_STORE_PREFIX", "/")
        return Path(prefix) / store_path.lstrip("/")

    # -- what guix prints -------------------------------------------------------------------------

    @staticmethod
    def store_path(stdout: str, what: str, suffix: str = "") -> str:
        """The last /gnu/store path guix printed on stdout (ending in `suffix`)."""
        paths = [m.group(1) for l in stdout.splitlines() for m in [_STORE_PATH.match(l.strip())] if m]
        paths = [p for p in paths if p.endswith(suffix)]
        if not paths:
            shown = stdout.strip().splitlines()[-1:] or ["nothing"]
            raise GuixError(f"{what}: guix printed no store path{' ending in ' + suffix if suffix else ''} "
                            f"(it printed: {shown[0][:200]!r})")
        return paths[-1]

    # -- the operations -----------------------------------------------------------------------------

    def derivation(self, argv: list[str], what: str) -> str:
        stdout, _ = self.run(argv, what)
        return self.store_path(stdout, what, ".drv")

    def build(self, drv: str, what: str, *, keep_failed: bool = False) -> str:
        argv = self.command("build", "--no-grafts", *(["--keep-failed"] if keep_failed else []), drv,
                            load_path=False)
        stdout, _ = self.run(argv, what)
        return self.store_path(stdout, what)

    def check(self, drv: str, what: str) -> CheckOutcome:
        """Rebuild `drv` (already built) with `guix build --check` and say whether it was identical.

        --keep-failed keeps the differing rebuild as OUTPUT-check, so that fsdgimg can compare the two.
        """
        argv = self.command("build", "--no-grafts", "--check", "--keep-failed", drv, load_path=False)
        try:
            stdout, _ = self.run(argv, what)
        except GuixError as e:
            text = "\n".join([e.line] + e.output)
            m = _NOT_DETERMINISTIC.search(text)
            if m is None:
                raise
            # --keep-failed also keeps the rebuild's build directory; only the -check output matters.
            for kept in _KEPT_BUILD_DIR.findall(text):
                shutil.rmtree(self.host_path(kept), ignore_errors=True)
            output = m.group(2)
            other = m.group(3) or output + "-check"
            return CheckOutcome(False, output, other, e.line)
        return CheckOutcome(True, self.store_path(stdout, what), None, "")

    def describe_channels(self) -> str:
        """`guix describe --format=channels`: the provenance of every Guix-built image."""
        stdout, _ = self.run(self.command("describe", "--format=channels", load_path=False),
                             "guix describe")
        text = stdout.strip()
        if not text.startswith("("):
            raise GuixError(f"guix describe: unexpected output {text[:120]!r}")
        return text + "\n"

    def describe_json(self) -> list[dict]:
        """`guix describe --format=json`: the channels as data (name, url, commit, introduction);
        a guix not from `guix pull` (Debian's) says false for url and commit."""
        stdout, _ = self.run(self.command("describe", "--format=json", load_path=False), "guix describe")
        try:
            data = json.loads(stdout)
        except ValueError:
            raise GuixError(f"guix describe: unexpected output {stdout.strip()[:120]!r}") from None
        return data if isinstance(data, list) else [data]

    def repl_json(self, script: Path, args: list[str], what: str):
        """Run a Guile program with `guix repl` (channel on the load path) and parse the JSON it prints."""
        argv = self.command("repl", "--", str(script), *args)
        # `guix repl` takes -L before the script: command() puts it right after "repl".
        stdout, _ = self.run(argv, what)
        start = stdout.find("{")
        try:
            return json.loads(stdout[start:]) if start >= 0 else json.loads(stdout)
        except ValueError:
            raise GuixError(f"{what}: the Guile program printed no JSON "
                            f"(got {stdout.strip()[:200]!r})") from None


def available(executable: str | None = None) -> bool:
    """Whether a guix is configured or on PATH (the debootstrap builder then runs in `guix shell`)."""
    exe = executable or os.environ.get("FSDGIMG_GUIX") or "guix"
    return bool(shutil.which(exe)) or (os.path.isabs(exe) and os.access(exe, os.X_OK))

