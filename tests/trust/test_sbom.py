"""SBOMs: SPDX 2.3 JSON the SPDX validator accepts, from a real Debian build, a pacman database and
the Guix channel (every Guix catalog entry, through guix repl in the Guix chroot, nothing built)."""

from __future__ import annotations

import io
import json
import tarfile
import tomllib
from pathlib import Path

import pytest

from .conftest import REPO, run_cli, validate_spdx


def _packages(doc: dict) -> dict[str, dict]:
    return {p["name"]: p for p in doc["packages"] if p["SPDXID"] != "SPDXRef-Image"}


def test_debian_sbom_from_the_built_root_file_system(free_build, tmp_path):
    work, outcome, _ = free_build
    out = tmp_path / "sbom.json"
    proc = run_cli("sbom", f"oci:{work / 'layout'}:latest", "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["distribution"] == "debian" and summary["packages"] > 20
    assert summary["digest"] == outcome["digest"]
    validate_spdx(out)
    doc = json.loads(out.read_text())
    assert doc["spdxVersion"] == "SPDX-2.3"
    assert doc["creationInfo"]["created"] == "2023-11-14T22:13:20Z"   # SOURCE_DATE_EPOCH, not now
    pkgs = _packages(doc)
    dpkg = pkgs["dpkg"]
    assert dpkg["versionInfo"][0].isdigit()
    assert dpkg["supplier"] == "Organization: Debian GNU/Linux"
    assert "GPL-2.0-or-later" in dpkg["licenseDeclared"]
    assert dpkg["sourceInfo"].startswith("archive component: main")
    assert dpkg["externalRefs"][0]["referenceLocator"].startswith("pkg:deb/debian/dpkg@")
    assert all("non-free" not in p.get("sourceInfo", "") for p in pkgs.values())
    # libc6 comes from source package glibc; the image contains it and dpkg depends on it.
    assert "source package: glibc" in pkgs["libc6"]["sourceInfo"]
    rel = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in doc["relationships"]}
    assert ("SPDXRef-Image", "CONTAINS", dpkg["SPDXID"]) in rel
    assert (dpkg["SPDXID"], "DEPENDS_ON", pkgs["libc6"]["SPDXID"]) in rel
    # The build wrote its own SBOM beside the layout; valid too, and the same packages.
    built = work / "layout" / "fsdgimg" / "sbom.spdx.json"
    validate_spdx(built)
    assert set(_packages(json.loads(built.read_text()))) == set(pkgs)


def _desc(**fields) -> bytes:
    return "".join(f"%{k}%\n" + "\n".join(v if isinstance(v, list) else [v]) + "\n\n"
                   for k, v in fields.items()).encode()


def _rootfs(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1
            tar.addfile(info, io.BytesIO(data))
    return path


def test_parabola_sbom_from_pacman_local_database(tmp_path):
    """A synthetic pacman local database (Parabola's archive is not reachable from here) in the
    layout pacman writes: var/lib/pacman/local/NAME-VERSION/desc."""
    local = "var/lib/pacman/local"
    rootfs = _rootfs(tmp_path / "parabola.tar", {
        "etc/os-release": b'NAME="Parabola GNU/Linux-libre"\nID=parabola\n',
        f"{local}/ALPM_DB_VERSION": b"9\n",
        f"{local}/bash-5.2.026-2/desc": _desc(NAME="bash", VERSION="5.2.026-2", BASE="bash",
                                              URL="https://www.gnu.org/software/bash/", ARCH="x86_64",
                                              LICENSE="GPL-3.0-or-later", DEPENDS=["readline", "glibc"]),
        f"{local}/readline-8.2.010-1/desc": _desc(NAME="readline", VERSION="8.2.010-1", ARCH="x86_64",
                                                  LICENSE="GPL3"),
        f"{local}/iana-etc-20240305-1/desc": _desc(NAME="iana-etc", VERSION="20240305-1", ARCH="any",
                                                   LICENSE=["custom:none"]),
    })
    out = tmp_path / "sbom.json"
    proc = run_cli("sbom", rootfs, "-o", out)
    assert proc.returncode == 0, proc.stderr
    validate_spdx(out)
    pkgs = _packages(json.loads(out.read_text()))
    assert set(pkgs) == {"bash", "readline", "iana-etc"}
    assert pkgs["bash"]["licenseDeclared"] == "GPL-3.0-or-later"
    assert pkgs["readline"]["licenseDeclared"] == "GPL-3.0-only"          # pacman's legacy name
    assert pkgs["iana-etc"]["licenseDeclared"] == "LicenseRef-custom-none"
    assert pkgs["bash"]["supplier"] == "Organization: Parabola GNU/Linux-libre"
    assert pkgs["bash"]["externalRefs"][0]["referenceLocator"] == "pkg:alpm/parabola/bash@5.2.026-2?arch=x86_64"
    audit = run_cli("audit", out, "--json")
    assert audit.returncode == 0, audit.stderr
    verdicts = {p["name"]: p["verdict"] for p in json.loads(audit.stdout)["packages"]}
    assert verdicts == {"bash": "free", "readline": "free", "iana-etc": "unknown"}


def test_debian_copyright_file_larger_than_a_decompressed_chunk(tmp_path):
    """A gzip layer is decompressed a chunk at a time: a copyright file spanning chunks (here
    20 MiB of license text before its last paragraph) is still read whole, its last License too."""
    text = " This line of a long license text repeats.\n" * ((20 << 20) // 44)
    copyright_file = ("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
                      f"Files: *\nLicense: GPL-2+\n{text}\nFiles: late/*\nLicense: Expat\n").encode()
    assert len(copyright_file) > 16 << 20
    rootfs = _rootfs(tmp_path / "debian.tar", {
        "etc/os-release": b'NAME="Debian GNU/Linux"\nID=debian\n',
        "var/lib/dpkg/status": b"Package: big\nStatus: install ok installed\nVersion: 1.0-1\n"
                               b"Architecture: all\n\n",
        "usr/share/doc/big/copyright": copyright_file,
    })
    layout = f"oci:{tmp_path / 'layout'}:1"
    proc = run_cli("convert", rootfs, layout, "--compression", "gzip")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "sbom.json"
    proc = run_cli("sbom", layout, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert _packages(json.loads(out.read_text()))["big"]["licenseDeclared"] == "GPL-2.0-or-later AND MIT"


GUIX_ENTRIES = sorted(name for name, t in tomllib.loads((REPO / "manifests" / "catalog.toml").read_text())
                      ["images"].items() if t["builder"].startswith("guix-"))


@pytest.mark.parametrize("name", GUIX_ENTRIES)
def test_guix_sbom_from_the_channel(name, guix_env, tmp_path):
    out = tmp_path / f"{name}.json"
    proc = run_cli("sbom", name, "-o", out, "--json", env=guix_env, timeout=900)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["distribution"] == "guix" and summary["packages"] >= 1
    validate_spdx(out)
    pkgs = [p for p in json.loads(out.read_text())["packages"] if p["SPDXID"] != "SPDXRef-Image"]
    # Every package has a name, a version, a Guix supplier and a license expression from (guix licenses).
    assert all(p["versionInfo"] != "NOASSERTION" and p["supplier"] == "Organization: GNU Guix" for p in pkgs)
    assert all(p["licenseDeclared"] != "NOASSERTION" for p in pkgs)
    with_checksum = [p for p in pkgs if p.get("checksums")]
    assert with_checksum and all(len(c["checksumValue"]) == 64 for p in with_checksum for c in p["checksums"])
    if name == "guix-hello":
        [hello] = [p for p in pkgs if p["name"] == "hello"]
        assert hello["licenseDeclared"] == "GPL-3.0-or-later"
        assert hello["downloadLocation"].endswith(f"/hello/hello-{hello['versionInfo']}.tar.gz")
        assert hello["checksums"][0]["algorithm"] == "SHA256"
    if name == "guix-registry-tools":
        names = {p["name"] for p in pkgs}
        assert {"distribution-registry", "skopeo", "fsdgimg"} <= names
        assert any("role: input" in p.get("sourceInfo", "") for p in pkgs)   # inputs walked too
