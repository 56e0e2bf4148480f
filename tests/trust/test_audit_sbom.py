"""An empty or truncated SBOM never passes (issue 21, item 4), and per-distribution rules come first
and are named in the report (item 5). Root file systems are small tarballs written here, audited
with the real command line."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from .conftest import run_cli

DEP5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: {}\n"


def _para(name: str, version: str | None, section: str = "utils") -> str:
    lines = [f"Package: {name}", "Status: install ok installed", "Architecture: amd64", f"Section: {section}"]
    if version:
        lines.append(f"Version: {version}")
    return "\n".join(lines) + "\n"


def _rootfs(path: Path, status: list[str], licenses: dict[str, str], os_id: str = "debian") -> Path:
    files = {"var/lib/dpkg/status": "\n".join(status),
             "etc/os-release": f'ID={os_id}\nNAME="{os_id.title()} GNU/Linux"\n'}
    files.update({f"usr/share/doc/{name}/copyright": DEP5.format(lic) for name, lic in licenses.items()})
    with tarfile.open(path, "w") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo("./" + name)
            info.size, info.mtime = len(data), 1
            tar.addfile(info, io.BytesIO(data))
    return path


def _fails_in_one_line(proc, *needles: str) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    for n in needles:
        assert n in proc.stderr, proc.stderr


def test_an_sbom_with_no_packages_fails(tmp_path):
    doc = tmp_path / "empty.spdx.json"
    doc.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "x", "packages": []}))
    proc = run_cli("audit", doc)
    _fails_in_one_line(proc, "the SBOM lists no packages")
    assert "verdict: FAIL" in proc.stdout


def test_an_sbom_short_of_its_package_database_fails(tmp_path):
    # A status file whose second paragraph lost its version (a truncated or damaged database):
    # the SBOM has one package fewer than the database lists.
    tar = _rootfs(tmp_path / "rootfs.tar", [_para("bash", "5.2"), _para("coreutils", None)],
                  {"bash": "GPL-3+", "coreutils": "GPL-3+"})
    proc = run_cli("audit", tar, "--json")
    _fails_in_one_line(proc, "the SBOM lists 1 packages, the package database 2")
    assert json.loads(proc.stdout)["counts"]["free"] == 1

    # The same, through an SPDX document: the database count travels in it, so dropping packages
    # from a written SBOM is seen too.
    out = tmp_path / "full.spdx.json"
    good = _rootfs(tmp_path / "good.tar", [_para("bash", "5.2"), _para("coreutils", "9.1")],
                   {"bash": "GPL-3+", "coreutils": "GPL-3+"})
    assert run_cli("sbom", good, "-o", out).returncode == 0
    assert run_cli("audit", out).returncode == 0
    doc = json.loads(out.read_text())
    doc["packages"] = [p for p in doc["packages"] if p["name"] != "coreutils"]
    (tmp_path / "cut.spdx.json").write_text(json.dumps(doc))
    _fails_in_one_line(run_cli("audit", tmp_path / "cut.spdx.json"), "the package database 2")


def test_an_image_whose_database_yields_no_packages_fails(tmp_path):
    tar = _rootfs(tmp_path / "rootfs.tar", [_para("bash", None), _para("dash", None)], {})
    _fails_in_one_line(run_cli("audit", tar), "the SBOM lists no packages (its package database lists 2)")


def test_components_decide_first_and_the_report_says_which_rule(tmp_path):
    # Trisquel's main is judged by license like anything else; a non-free section is nonfree
    # whatever its license says.
    tar = _rootfs(tmp_path / "trisquel.tar",
                  [_para("hello", "2.12"), _para("blob", "1.0", section="non-free/kernel"),
                   _para("mystery", "1.0")],
                  {"hello": "GPL-3+", "blob": "GPL-2", "mystery": "LicenseRef-made-up"}, os_id="trisquel")
    proc = run_cli("audit", tar, "--json")
    assert proc.returncode == 1 and "1 nonfree: blob" in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    by = {p["name"]: p for p in report["packages"]}
    assert report["distribution"] == "trisquel"
    assert (by["hello"]["verdict"], by["hello"]["rule"]) == ("free", "license")
    assert (by["blob"]["verdict"], by["blob"]["rule"]) == ("nonfree", "trisquel archive component non-free")
    assert (by["mystery"]["verdict"], by["mystery"]["rule"]) == ("unknown", "license")
    text = run_cli("audit", tar).stdout
    assert "blob 1.0 [trisquel archive component non-free]" in text
