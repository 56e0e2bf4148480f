"""Fixtures of the build/check tests: a catalog of Debian test images, the Guix chroot, a static busybox.

Debian's archive is the only distribution archive these machines reach, so the debootstrap-family
tests build Debian images from a test catalog (not a fake Trisquel). The mirror is the one apt on
this machine is configured with.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIX_WRAPPER = REPO / "tests" / "guix" / "guix"
GUIX_CHROOT = Path(os.environ.get("FSDGIMG_GUIX_CHROOT", "/var/cache/fsdgimg/guix-sid"))
EPOCH = "1700000000"
# Small enough to build in seconds: the extract variant only unpacks these packages.
TINY = ["base-files", "base-passwd", "busybox", "dash", "libc6"]


def run_cli(*args, env: dict | None = None, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """The real command line, as a release engineer runs it (never in-process)."""
    full = dict(os.environ)
    full.pop("SOURCE_DATE_EPOCH", None)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "fsdgimg", *map(str, args)], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    first = proc.stderr.strip().splitlines()[0]
    for n in needles:
        assert n in proc.stderr, (n, proc.stderr)
    assert first.startswith("fsdgimg "), proc.stderr


def debian_mirror() -> str:
    """The Debian mirror apt uses here (deb822 or one-line sources), else deb.debian.org."""
    uris = []
    d = Path("/etc/apt/sources.list.d")
    for f in sorted(d.glob("*.sources")) if d.is_dir() else []:
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith("URIs:"):
                uris += line.split()[1:]
    for f in [Path("/etc/apt/sources.list"), *(sorted(d.glob("*.list")) if d.is_dir() else [])]:
        if f.is_file():
            for line in f.read_text(errors="replace").splitlines():
                parts = line.split()
                if parts[:1] == ["deb"]:
                    uris += [p for p in parts[1:] if re.match(r"[a-z]+://", p)][:1]
    for uri in uris:
        if "security" not in uri and re.search(r"/debian/?$", uri):
            return uri.rstrip("/")
    return "http://deb.debian.org/debian"


def _debootstrap_entry(name: str, variant: str, include: list[str] | None = None,
                       hooks: list[str] | None = None) -> str:
    lines = [f"[images.{name}]", 'distribution = "debian"', 'builder = "debootstrap"',
             f'mirror = "{debian_mirror()}"', 'suite = "bookworm"', f'variant = "{variant}"',
             'architecture = "amd64"', 'cmd = ["/bin/sh"]']
    if include:
        lines.append("include = [" + ", ".join(f'"{p}"' for p in include) + "]")
    if hooks:
        lines.append("hooks = [" + ", ".join(f"'{h}'" for h in hooks) + "]")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def debian_catalog(tmp_path_factory) -> Path:
    if shutil.which("mmdebstrap") is None:
        pytest.fail("mmdebstrap is not installed (scripts/setup.sh installs it)")
    path = tmp_path_factory.mktemp("catalog") / "catalog.toml"
    path.write_text(f'root = "{REPO}"\n\n'
                    + _debootstrap_entry("debian-minimal", "essential") + "\n"
                    + _debootstrap_entry("debian-tiny", "extract", TINY) + "\n"
                    + _debootstrap_entry("debian-stamped", "extract", TINY,
                                         ['od -An -N8 -tx8 /dev/urandom > "$1/etc/build-stamp"']))
    return path


@pytest.fixture(scope="session")
def guix_env() -> dict[str, str]:
    """A running guix-daemon (Guix 1.5 from Debian sid, in a chroot) and the env that reaches it."""
    proc = subprocess.run(["bash", str(REPO / "tests" / "guix" / "setup-chroot.sh")],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"setup-chroot.sh failed:\n{proc.stderr[-3000:]}"
    return {"FSDGIMG_GUIX": str(GUIX_WRAPPER), "FSDGIMG_GUIX_STORE_PREFIX": str(GUIX_CHROOT)}


@pytest.fixture(scope="session")
def static_busybox(tmp_path_factory) -> Path:
    """A directory holding Debian's statically linked busybox: a builder that needs no store items."""
    work = tmp_path_factory.mktemp("busybox-static")
    proc = subprocess.run(["apt-get", "download", "busybox-static"], cwd=work, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    deb = next(work.glob("busybox-static_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "x")], check=True)
    out = work / "bbdir"
    out.mkdir()
    shutil.copy2(work / "x" / "bin" / "busybox", out / "busybox")
    return out
