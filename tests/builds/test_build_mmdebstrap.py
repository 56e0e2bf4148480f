"""Real mmdebstrap builds from Debian's archive: reproducible with SOURCE_DATE_EPOCH, and caught when not."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fixtures.openpgp import gpg_key

from .conftest import EPOCH, run_cli


def _manifest(layout: Path, tag: str = "latest") -> dict:
    index = json.loads((layout / "index.json").read_text())
    [desc] = [d for d in index["manifests"] if d["annotations"]["org.opencontainers.image.ref.name"] == tag]
    return json.loads((layout / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_text())


@pytest.fixture(scope="module")
def minimal_build(debian_catalog, tmp_path_factory):
    """`fsdgimg build debian-minimal --check` (two essential-variant builds) and its publications."""
    work = tmp_path_factory.mktemp("minimal")
    proc = run_cli("build", "debian-minimal", "--catalog", debian_catalog, "--tools", "host", "--check",
                   "--out", work / "layout", "--publish", f"oci:{work / 'published'}:bookworm", "--json",
                   env={"SOURCE_DATE_EPOCH": EPOCH})
    return work, proc


def test_check_passes_for_a_reproducible_build(minimal_build):
    work, proc = minimal_build
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout)
    assert outcome["verdict"] == "reproducible"
    first, second = outcome["builds"]
    assert first == second
    annotations = _manifest(work / "layout")["annotations"]
    assert annotations["org.fsdgimg.check.verdict"] == "reproducible"
    assert annotations["org.fsdgimg.check.first"] == first
    assert annotations["org.fsdgimg.check.second"] == second
    assert annotations["org.fsdgimg.check.rounds"] == "2"
    assert annotations["org.fsdgimg.distribution"] == "debian"
    assert annotations["org.fsdgimg.source.suite"] == "bookworm"
    # SOURCE_DATE_EPOCH end to end: the image's creation time and every file's mtime.
    assert annotations["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"
    report = (work / "layout" / "fsdgimg" / "check" / "report.txt").read_text()
    assert "verdict: REPRODUCIBLE" in report and "build 1 vs build 2: identical" in report
    assert (work / "layout" / "fsdgimg" / "check" / "report.html").is_file()
    build = json.loads((work / "layout" / "fsdgimg" / "provenance" / "build.json").read_text())
    assert build["builds"] == [first, second] and build["source_date_epoch"] == int(EPOCH)


def test_reproducible_image_is_readable_by_real_clients(minimal_build):
    work, proc = minimal_build
    assert proc.returncode == 0, proc.stderr
    manifest = _manifest(work / "layout")
    layer = work / "layout" / "blobs" / "sha256" / manifest["layers"][0]["digest"].split(":")[1]
    listing = subprocess.run(["tar", "-tvzf", str(layer)], capture_output=True, text=True, check=True).stdout
    assert "./usr/bin/dpkg" in listing or "usr/bin/dpkg" in listing   # essential: dpkg is configured
    # mmdebstrap clamps every mtime to SOURCE_DATE_EPOCH (files from packages keep older ones).
    dates = {line.split()[3] for line in listing.splitlines() if line}
    assert max(dates) == "2023-11-14", sorted(dates)[-3:]
    for src in (f"oci:{work / 'layout'}:latest", f"oci:{work / 'published'}:bookworm"):
        inspect = subprocess.run(["skopeo", "inspect", src], capture_output=True, text=True)
        assert inspect.returncode == 0, inspect.stderr
        assert json.loads(inspect.stdout)["Architecture"] == "amd64"
    # The published copy is the same image (same annotated manifest digest).
    outcome = json.loads(proc.stdout)
    assert outcome["published"].endswith(outcome["digest"])
    assert _manifest(work / "published", "bookworm") == manifest
    unpacked = work / "bundle"
    umoci = subprocess.run(["umoci", "raw", "unpack", "--rootless", "--image", f"{work / 'layout'}:latest",
                            str(unpacked)], capture_output=True, text=True)
    assert umoci.returncode == 0, umoci.stderr
    assert (unpacked / "etc" / "debian_version").is_file()
    shutil.rmtree(unpacked, ignore_errors=True)


def test_injected_timestamp_is_caught_and_named(debian_catalog, tmp_path):
    proc = run_cli("build", "debian-stamped", "--catalog", debian_catalog, "--tools", "host", "--check",
                   "--out", tmp_path / "layout", "--publish", f"oci:{tmp_path / 'published'}",
                   env={"SOURCE_DATE_EPOCH": EPOCH})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "debian-stamped is not reproducible" in proc.stderr
    check = tmp_path / "layout" / "fsdgimg" / "check"
    text = (check / "report.txt").read_text()
    assert "verdict: NOT REPRODUCIBLE" in text
    assert "etc/build-stamp: content" in text
    assert "1 path differs" in text
    assert "--- first/etc/build-stamp" in text        # the text diff of the small file
    html = (check / "report.html").read_text()
    assert "etc/build-stamp" in html and "not reproducible" in html
    report = json.loads((check / "report.json").read_text())
    [layer] = [l for l in report["comparisons"][0]["layers"] if not l["same"]]
    assert [f["path"] for f in layer["files"]] == ["etc/build-stamp"]
    assert [a["aspect"] for a in layer["files"][0]["aspects"]] == ["content"]
    # diffoscope (installed here) looked at the same layer and saw the same file.
    assert (check / "diffoscope-layer-0.txt").is_file()
    assert "build-stamp" in (check / "diffoscope-layer-0.txt").read_text()
    annotations = _manifest(tmp_path / "layout")["annotations"]
    assert annotations["org.fsdgimg.check.verdict"] == "not reproducible"
    assert annotations["org.fsdgimg.check.first"] != annotations["org.fsdgimg.check.second"]
    assert not (tmp_path / "published").exists(), "a non-reproducible image must not be published"


def test_without_source_date_epoch_mtimes_differ(debian_catalog, tmp_path):
    """Three rounds without SOURCE_DATE_EPOCH: each build stamps its own time on what it creates."""
    proc = run_cli("build", "debian-tiny", "--catalog", debian_catalog, "--tools", "host", "--rounds", "3",
                   "--no-diffoscope", "--json", "--out", tmp_path / "layout")
    assert proc.returncode == 1, proc.stderr
    assert "SOURCE_DATE_EPOCH is not set" in proc.stderr
    outcome = json.loads(proc.stdout)
    assert len(outcome["builds"]) == 3 and len(set(outcome["builds"])) == 3
    report = json.loads((tmp_path / "layout" / "fsdgimg" / "check" / "report.json").read_text())
    assert [c["round"] for c in report["comparisons"]] == [2, 3]
    aspects = {a["aspect"] for c in report["comparisons"] for l in c["layers"] for f in l["files"]
               for a in f["aspects"]}
    assert "mtime" in aspects
    assert not any((tmp_path / "layout" / "fsdgimg" / "check").glob("diffoscope-*"))
    annotations = _manifest(tmp_path / "layout")["annotations"]
    assert annotations["org.fsdgimg.check.rounds"] == "3"
    assert len(annotations["org.fsdgimg.check.digests"].split(",")) == 3


def test_unreachable_mirror_is_one_line(tmp_path):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[images.nowhere]\ndistribution = "debian"\nbuilder = "debootstrap"\n'
                       'mirror = "http://127.0.0.1:9/debian"\nsuite = "bookworm"\nvariant = "extract"\n'
                       'architecture = "amd64"\n')
    proc = run_cli("build", "nowhere", "--catalog", catalog, "--tools", "host", "--out", tmp_path / "layout")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("fsdgimg build: nowhere: mmdebstrap failed (mmdebstrap exit")
    assert not (tmp_path / "layout").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.toml"]


def test_publish_to_a_real_registry(debian_catalog, tmp_path):
    from servers import Registry
    with Registry(tmp_path / "registry") as registry:
        dest = f"docker://{registry.host}/debian/tiny:bookworm"
        proc = run_cli("build", "debian-tiny", "--catalog", debian_catalog, "--tools", "host",
                       "--out", tmp_path / "layout", "--publish", dest, "--json",
                       env={"SOURCE_DATE_EPOCH": EPOCH})
        assert proc.returncode == 0, proc.stderr
        outcome = json.loads(proc.stdout)
        assert outcome["verdict"] is None and len(outcome["builds"]) == 1   # no --check: one build
        assert "org.fsdgimg.check.verdict" not in _manifest(tmp_path / "layout")["annotations"]
        assert not (tmp_path / "layout" / "fsdgimg" / "check").exists()
        assert outcome["published"] == f"docker://{registry.host}/debian/tiny:bookworm {outcome['digest']}"
        assert registry.manifest_digest("debian/tiny", "bookworm") == outcome["digest"]
        inspect = subprocess.run(["skopeo", "inspect", "--tls-verify=false",
                                  f"docker://{registry.host}/debian/tiny:bookworm"],
                                 capture_output=True, text=True)
        assert inspect.returncode == 0, inspect.stderr
        labels = json.loads(inspect.stdout)
        assert labels["Digest"] == outcome["digest"]


def test_publish_to_a_static_tree_that_clients_pull(debian_catalog, tmp_path):
    from servers import FsdgimgServe
    gnupg = tmp_path / "gnupg"
    keyring = gpg_key(gnupg, "Tiny <tiny@example.org>")
    proc = run_cli("build", "debian-tiny", "--catalog", debian_catalog, "--tools", "host",
                   "--out", tmp_path / "layout", "--publish", f"static:{tmp_path / 'public'}", "--json",
                   "--gpg-key", "tiny@example.org", "--sign-identity", "registry.example.org/debian-tiny",
                   env={"SOURCE_DATE_EPOCH": EPOCH, "GNUPGHOME": str(gnupg)})
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout)
    assert outcome["published"] == f"static:{tmp_path / 'public'}/debian-tiny:latest {outcome['digest']}"
    # signed with the OpenPGP key into the tree's lookaside storage, and the page names the key
    signature = json.loads(proc.stdout)["attached"]["openpgp_signature"]
    assert signature["signature"] == str(tmp_path / "public" / "sigstore" /
                                         f"debian-tiny@sha256={outcome['digest'][7:]}" / "signature-1")
    assert f'OpenPGP key <code class="key">{signature["fingerprint"]}</code>' in \
        (tmp_path / "public" / "index.html").read_text()
    # The SBOM, audit and provenance attested, their .att manifest signed with the same OpenPGP key
    # (an OpenPGP-only distribution has no cosign key): verify trusts them through that signature.
    attested = outcome["attached"]["attestations"]
    assert len(attested) == 3 and outcome["attached"]["attestations_openpgp_signature"]["fingerprint"] == \
        signature["fingerprint"]
    v = json.loads(run_cli("verify", f"static:{tmp_path / 'public'}/debian-tiny:latest", "--gpg-keyring", keyring,
                           "--identity", "registry.example.org/debian-tiny", "--json").stdout)
    assert v["sbom"]["signed_by"] == f"OpenPGP {signature['fingerprint']}"
    # (debian-tiny is mmdebstrap's extract variant: no package database, nothing the audit can pass)
    assert v["sbom"]["packages"] == 0 and v["failures"] == ["FSDG audit: fail (unknown licenses, --strict)"] \
        or [f.split(":")[0] for f in v["failures"]] == ["FSDG audit"], v["failures"]
    other = gpg_key(tmp_path / "other", "Other <other@example.org>")
    v = json.loads(run_cli("verify", f"static:{tmp_path / 'public'}/debian-tiny:latest", "--gpg-keyring", other,
                           "--identity", "registry.example.org/debian-tiny", "--json").stdout)
    assert not v["verified"] and v["sbom"] is None
    assert any("no OpenPGP signature of the attestations" in line for line in v["ignored"]), v["ignored"]
    with FsdgimgServe(tmp_path / "serve", tmp_path / "public") as server:
        inspect = subprocess.run(["skopeo", "inspect", "--tls-verify=false",
                                  f"docker://127.0.0.1:{server.port}/debian-tiny:latest"],
                                 capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    assert json.loads(inspect.stdout)["Digest"] == outcome["digest"]
