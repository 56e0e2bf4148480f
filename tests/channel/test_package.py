"""The fsdgimg package as a Guix user meets it: its version follows the commit, `guix build -S`
gives a source derivation, a checkout without python/ is one clear error, and the tests its
`check` phase runs need no server and no external tool."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from guixrun import REPO, derivations, guix, guix_chroot, scheme  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("guix_chroot")


def copy_checkout(root: Path, parts=("channel", "python")) -> Path:
    for part in parts:
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return root


def version(checkout: Path) -> str:
    return guix("repl", "-L", str(checkout / "channel"), "--", str(REPO / "tests/guix/eval.scm"),
                "((@ (guix packages) package-version) (@ (fsdgimg packages fsdgimg) fsdgimg))",
                cwd=checkout).stdout


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_version_follows_the_commit(tmp_path):
    import tomllib
    base = tomllib.loads((REPO / "python/pyproject.toml").read_text())["project"]["version"]
    checkout = copy_checkout(tmp_path / "checkout")
    assert version(checkout) == base            # no Git directory, no channel: pyproject's version
    git(checkout, "init", "-q", "-b", "main")
    git(checkout, "add", ".")
    git(checkout, "commit", "-q", "-m", "one")
    commit = git(checkout, "rev-parse", "HEAD")
    assert version(checkout) == f"{base}-0.{commit[:7]}"
    # A worktree (".git" is a file) on another commit, its ref packed in the main repository.
    git(checkout, "commit", "-q", "--allow-empty", "-m", "two")
    git(checkout, "worktree", "add", "-q", "-b", "other", str(tmp_path / "wt"))
    git(checkout, "pack-refs", "--all")
    second = git(checkout, "rev-parse", "HEAD")
    assert version(tmp_path / "wt") == f"{base}-0.{second[:7]}" != f"{base}-0.{commit[:7]}"


def test_source_is_a_derivation():
    """`guix build -S fsdgimg` (here -d: building needs Guile, which no substitute brings here)."""
    (drv,) = derivations(guix("build", "-L", "channel", "-S", "-d", "fsdgimg").stdout)
    assert drv.endswith("-checkout.drv")


def test_checkout_without_pyproject_is_one_clear_error(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout", parts=("channel",))
    proc = guix("build", "-L", str(checkout / "channel"), "-d", "fsdgimg", check=False, cwd=checkout)
    assert proc.returncode != 0
    assert f"{checkout}/python/pyproject.toml: no such file; the fsdgimg package is built from the python/" \
        in proc.stderr.replace("\n", " "), proc.stderr
    assert "Backtrace" not in proc.stderr


def test_check_phase_tests_need_no_server_nor_tool(tmp_path):
    """The files the package's check phase runs pass with nothing but Python on PATH."""
    files = scheme("(string-join ((@ (fsdgimg packages fsdgimg) fsdgimg-test-files)))").split()
    assert files and all((REPO / f).is_file() for f in files)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    (bin_dir / "python3").chmod(0o755)
    proc = subprocess.run(["python3", "-m", "pytest", "-p", "no:cacheprovider", "-q", *files], cwd=REPO,
                          capture_output=True, text=True, timeout=600,
                          env={"PATH": str(bin_dir), "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


def test_home_page_does_not_claim_gnu():
    assert scheme("((@ (guix packages) package-home-page) (@ (fsdgimg packages fsdgimg) fsdgimg))") == "#f"
