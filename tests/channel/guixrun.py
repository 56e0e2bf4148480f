"""Run Guix 1.5 (tests/guix/guix, the Debian sid chroot) on the channel of this checkout.

The chroot is made by `bash tests/guix/setup-chroot.sh`, which the test runner calls first; a
missing chroot makes these tests fail, never skip."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIX = Path(os.environ.get("FSDGIMG_GUIX", REPO / "tests" / "guix" / "guix"))
CHROOT = Path(os.environ.get("FSDGIMG_GUIX_CHROOT", "/var/cache/fsdgimg/guix-sid"))


def guix_available() -> str | None:
    """None when Guix can run, else why not."""
    if not os.access(GUIX, os.X_OK):
        return f"{GUIX} is not executable"
    if not (CHROOT / "var/guix/daemon-socket/socket").is_socket():
        return f"no guix-daemon in {CHROOT}: run `bash tests/guix/setup-chroot.sh` first"
    return None


@pytest.fixture(scope="session")
def guix_chroot():
    """Every channel test needs the Guix chroot: its absence is a failure, never a skip.
    (A fixture here, not in a conftest.py: test modules elsewhere import `conftest` by name.)"""
    problem = guix_available()
    if problem:
        pytest.fail(problem, pytrace=False)


def guix(*args: str, check: bool = True, timeout: float = 600, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run `guix ARGS` in the checkout; with check, fail with guix's stderr on a non-zero exit."""
    proc = subprocess.run([str(GUIX), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"guix {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stderr[-4000:]}")
    return proc


def scheme(expression: str) -> str:
    """The value of EXPRESSION, evaluated with the channel's service modules (tests/guix/eval.scm)."""
    return guix("repl", "-L", "channel", "--", "tests/guix/eval.scm", expression).stdout


@functools.cache
def host_config_yml() -> str:
    """The config.yml of guix-fsdg-registry's host, as config.yml.scm prints it from host.scm: it is
    generated here, by the tests that run and check it, never committed."""
    return guix("repl", "-L", "channel", "--", "guix-fsdg-registry/config.yml.scm").stdout


def scheme_string(text: str) -> str:
    """TEXT as a Scheme string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def derivations(output: str) -> list[str]:
    return [line for line in output.split() if line.startswith("/gnu/store/") and line.endswith(".drv")]
