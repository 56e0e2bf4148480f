"""Shared test set-up: the repository's fixture generators on sys.path, and small helpers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fixtures.guixarchive import make_guix_archive  # noqa: E402


def fsdgimg(*args: str, check: bool = True, input: bytes | None = None, env=None) -> subprocess.CompletedProcess:
    """Run the real command line, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "fsdgimg", *map(str, args)], capture_output=True,
                          input=input, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"fsdgimg {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stderr.decode(errors='replace')}")
    return proc


@pytest.fixture(scope="session")
def guix_archives(tmp_path_factory) -> dict[str, Path]:
    """Guix-format archives: plain/gzip, with and without --max-layers."""
    root = tmp_path_factory.mktemp("guix-archives")
    out = {}
    for max_layers in (False, True):
        for gz in (False, True):
            name = f"{'layered' if max_layers else 'single'}{'.tar.gz' if gz else '.tar'}"
            out[name] = make_guix_archive(root / name, max_layers=max_layers, gzip=gz, repository="hello")
    return out


@pytest.fixture(scope="session")
def oci_image(tmp_path_factory, guix_archives) -> Path:
    """An OCI layout (tag 'latest') converted from a layered Guix archive."""
    out = tmp_path_factory.mktemp("oci") / "layout"
    fsdgimg("convert", guix_archives["layered.tar.gz"], f"oci:{out}:latest")
    return out
