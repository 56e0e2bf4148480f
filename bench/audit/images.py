#!/usr/bin/env python3
"""Debian bookworm root file systems for the audit's coverage test and benchmark, built once.

`images.py NAME...` prints `NAME PATH` per image: an mmdebstrap tarball, built on first use and
then kept in a cache directory keyed by the mmdebstrap arguments (a fresh CI machine builds each
image once; later runs reuse it): FSDGIMG_AUDIT_IMAGES, else fsdgimg/audit-images in the user's
cache directory (XDG_CACHE_HOME, else ~/.cache).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

CACHE = Path(os.environ.get("FSDGIMG_AUDIT_IMAGES")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fsdgimg" / "audit-images")
# Fixed so that the tarballs are reproducible and the cache key says everything about an image.
EPOCH = "1700000000"
COMMON = "build-essential,python3,perl,git,curl"

IMAGES: dict[str, list[str]] = {
    "essential": ["--variant=essential", "--components=main"],
    "minbase": ["--variant=minbase", "--components=main"],
    "common": ["--variant=minbase", "--components=main", f"--include={COMMON}"],
    # unrar from Debian's non-free component: what the audit must judge nonfree whatever its license.
    "nonfree": ["--variant=essential", "--components=main,contrib,non-free", "--include=unrar"],
}


def mirror() -> str:
    """The Debian mirror apt uses here, else deb.debian.org."""
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith("URIs:") and "debian" in line and "security" not in line:
                return line.split()[1]
    for f in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        if f.is_file():
            for line in f.read_text(errors="replace").splitlines():
                parts = line.split()
                if parts[:1] == ["deb"] and "security" not in line:
                    return next(p for p in parts[1:] if "://" in p)
    return "http://deb.debian.org/debian"


def arguments(name: str) -> list[str]:
    return ["--mode=root", "--format=tar", *IMAGES[name], "--architectures=amd64", "bookworm"]


def path_of(name: str) -> Path:
    """Where the image is cached: keyed by the mmdebstrap arguments (not the mirror: any
    mirror serves the same archive)."""
    key = hashlib.sha256("\0".join(arguments(name) + [EPOCH]).encode()).hexdigest()[:16]
    return CACHE / f"bookworm-{name}-{key}.tar"


def build(name: str) -> Path:
    out = path_of(name)
    if out.is_file():
        return out
    if shutil.which("mmdebstrap") is None:
        raise SystemExit("images.py: mmdebstrap is not installed (scripts/setup.sh installs it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    cmd = ["mmdebstrap", "--quiet", *arguments(name), str(partial), mirror()]
    proc = subprocess.run(cmd, env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH},
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise SystemExit(f"images.py: mmdebstrap failed for {name}: {last}")
    partial.rename(out)       # only a complete tarball is ever found in the cache
    return out


def main(argv: list[str]) -> int:
    names = argv or list(IMAGES)
    for name in names:
        if name not in IMAGES:
            print(f"images.py: no image {name!r} (one of {', '.join(IMAGES)})", file=sys.stderr)
            return 2
    for name in names:
        print(name, build(name), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
