from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from guixrun import guix_available  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def guix_chroot():
    """Every test here needs the Guix chroot: its absence is a failure, not a skip."""
    problem = guix_available()
    if problem:
        pytest.fail(problem, pytrace=False)
