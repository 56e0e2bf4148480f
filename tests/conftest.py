"""Shared test set-up: the repository's fixture generators on sys.path, and small helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fixtures.cli import fsdgimg  # noqa: E402
from fixtures.guixarchive import make_guix_archive  # noqa: E402


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


# Run last: what these tests need is built beside the suite (scripts/test.sh starts it first).
LAST = ("channel/test_docker_fsdg.py",)


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: any(item.nodeid.startswith(f"tests/{name}") or item.nodeid.startswith(name)
                                    for name in LAST))
