"""index.html's trust column: signed or not (cosign's `.sig` tag), the FSDG audit and reproducibility
verdicts, links to the attached reports, read from the tree's small JSON files only."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import subprocess
import urllib.request

import pytest
from fixtures.openpgp import gpg_key
from servers import FsdgimgServe

from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.blobstore import BlobStore
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.image import Image
from fsdgimg.oci.manifest import parse_manifest
from fsdgimg.signature import artifacts
from fsdgimg.transports.static.writer import StaticPublisher
from static.conftest import public_tree, run
from static.test_page import MEASURE, browser  # noqa: F401 (the Chromium fixture)

PASSWORD = "page-pw"
GPG_UID = "Page Release <page-release@example.org>"
HOSTILE = '<script>alert("x")</script>&amp;'


def _hostile_audit(where, tree, name: str, subject: dict, verdict: str = HOSTILE) -> None:
    """An audit artifact whose verdict annotation is markup: the page must show it as text."""
    store = BlobStore(where / "blobs")
    config, layer = b"{}", b'{"verdict": "hostile"}'
    manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "artifactType": artifacts.AUDIT_TYPE,
                "config": {"mediaType": artifacts.EMPTY_CONFIG_TYPE, "digest": str(store.put_bytes(config)), "size": 2},
                "layers": [{"mediaType": artifacts.AUDIT_TYPE, "digest": str(store.put_bytes(layer)), "size": len(layer)}],
                "subject": subject, "annotations": {artifacts.VERDICT: verdict}}
    data = json.dumps(manifest).encode()
    StaticPublisher(tree).publish(Image(parse_manifest(data, "audit", mt.OCI_MANIFEST), config, store,
                                        where="audit"), name, None)


@pytest.fixture(scope="module")
def trust_tree(images, tmp_path_factory):
    base = public_tree("page-trust")
    tree = base / "tree"
    work = tmp_path_factory.mktemp("trust")
    env = {"COSIGN_PASSWORD": PASSWORD}
    run("sign", "--generate-key", work / "release", env=env)
    # signed, then an SBOM and an audit report attached to it (of a tree with a package database:
    # an SBOM listing nothing never passes the audit)
    from fixtures.dpkg import write_dpkg_database
    write_dpkg_database(work / "rootfs")
    run("convert", work / "rootfs", f"oci:{work / 'debianish'}:1")
    run("publish", f"oci:{work / 'debianish'}:1", "--to", f"static:{tree}", "--name", "trust/app:1",
        "--sign-key", work / "release.key", "--sign-identity", "registry.example/trust/app", env=env)
    run("sbom", f"static:{tree}/trust/app:1", "--attach", "--json")
    run("audit", f"static:{tree}/trust/app:1", "--attach", "--json")
    # unsigned, checked reproducible (the build's annotation), with a hostile audit verdict attached
    layout = work / "checked"
    run("convert", images.src(images.b), f"oci:{layout}:plain",
        "--annotation", "org.fsdgimg.check.verdict=reproducible")
    run("publish", f"oci:{layout}:plain", "--to", f"static:{tree}", "--name", "trust/app:plain")
    # a build's own audit annotation, nothing attached
    run("convert", images.src(images.a), f"oci:{work / 'audited'}:built",
        "--annotation", "org.fsdgimg.audit.verdict=pass")
    run("publish", f"oci:{work / 'audited'}:built", "--to", f"static:{tree}", "--name", "trust/app:built")
    # signed with an OpenPGP key into the tree's lookaside storage
    run("convert", images.src(images.a), f"oci:{work / 'gpg'}:gpg", "--annotation", "org.example.signed=openpgp")
    run("publish", f"oci:{work / 'gpg'}:gpg", "--to", f"static:{tree}", "--name", "trust/app:gpg")
    gpg_key(work / "gnupg", GPG_UID)
    signed = run("sign", f"static:{tree}/trust/app:gpg", "--gpg-key", GPG_UID, "--gnupghome", work / "gnupg",
                 "--identity", "registry.example/trust/app", "--json").out
    (base / "gpg.json").write_text(signed)
    shutil.copy(work / "release.pub", base / "release.pub")
    # a signature beside a manifest that no recorded key made (a mirror's forgery): not "signed"
    run("convert", images.src(images.a), f"oci:{work / 'forged'}:forged", "--annotation", "org.example.signed=no")
    run("publish", f"oci:{work / 'forged'}:forged", "--to", f"static:{tree}", "--name", "trust/app:forged")
    forged = Digest.of((tree / "v2" / "trust" / "app" / "_tags" / "forged").read_bytes())
    lookaside = tree / "sigstore" / f"trust/app@sha256={forged.hex}"
    lookaside.mkdir(parents=True)
    shutil.copy(next((tree / "sigstore").glob("trust/app@sha256=*/signature-1")), lookaside / "signature-1")
    data = (tree / "v2" / "trust" / "app" / "_tags" / "plain").read_bytes()
    _hostile_audit(work, tree, "trust/app", {"mediaType": mt.OCI_MANIFEST, "digest": str(Digest.of(data)),
                                             "size": len(data)})
    _index_tag(work, tree)
    yield tree
    shutil.rmtree(base, ignore_errors=True)


def _index_tag(work, tree) -> None:
    """trust/app:multi, an index of linux/amd64 (checked reproducible, audited pass by its build's
    annotations) and linux/arm64 (not reproducible; an audit report saying nonfree attached to it),
    both platforms and the index signed with the OpenPGP key."""
    layout = work / "multi"
    for arch, verdicts in (("amd64", ["org.fsdgimg.check.verdict=reproducible", "org.fsdgimg.audit.verdict=pass"]),
                           ("arm64", ["org.fsdgimg.check.verdict=not-reproducible"])):
        rootfs = work / f"rootfs-{arch}"
        (rootfs / "etc").mkdir(parents=True)
        (rootfs / "etc" / "arch").write_text(arch + "\n")
        run("convert", rootfs, f"oci:{layout}:{arch}", "--platform", f"linux/{arch}", "--source-date-epoch", "0",
            *[a for v in verdicts for a in ("--annotation", v)])
    run("index", f"oci:{layout}:amd64", f"oci:{layout}:arm64", "--to", f"oci:{layout}:multi")
    run("publish", f"oci:{layout}:multi", "--to", f"static:{tree}", "--name", "trust/app:multi")
    signed = json.loads(run("sign", f"static:{tree}/trust/app:multi", "--gpg-key", GPG_UID, "--gnupghome",
                           work / "gnupg", "--identity", "registry.example/trust/app", "--json").out)
    [child] = [c for c in signed["children"] if c["platform"] == "linux/arm64"]
    size = (tree / "v2" / "trust" / "app" / "_manifests" / f"{child['digest']}.oci-manifest").stat().st_size
    _hostile_audit(work, tree, "trust/app", {"mediaType": mt.OCI_MANIFEST, "digest": child["digest"],
                                             "size": size}, verdict="nonfree")


def _fingerprint(pem) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, computed here with openssl (not with fsdgimg's code)."""
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(pem), "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def _rows(page: str) -> dict[str, str]:
    """tag -> the HTML of its row."""
    return {m.group(1): m.group(0) for m in
            re.finditer(r'<tr class="tag-row">\s*<td data-label="Tag"><strong>([^<]*)</strong>.*?</tr>', page, re.S)}


def test_trust_column(trust_tree):
    page = (trust_tree / "index.html").read_text()
    rows = _rows(page)
    assert set(rows) == {"1", "plain", "built", "gpg", "forged", "multi"}, list(rows)   # the `.sig` tag is no image to pull: not listed
    assert any(t.name.endswith(".sig") for t in (trust_tree / "v2" / "trust" / "app" / "_tags").iterdir())
    assert not re.search(r"sha256-[0-9a-f]{64}\.sig", page)
    signed, plain = rows["1"], rows["plain"]
    assert '<span class="signed">signed</span>' in signed and '<span class="unsigned">unsigned</span>' not in signed
    assert f"SHA256:{_fingerprint(trust_tree.parent / 'release.pub')}" in signed and "OpenPGP" not in signed
    gpg = json.loads((trust_tree.parent / "gpg.json").read_text())
    assert re.fullmatch(r"[0-9A-F]{40}", gpg["fingerprint"]) and gpg["uid"] == GPG_UID
    assert f'OpenPGP key <code class="key">{gpg["fingerprint"]}</code>' in rows["gpg"]
    assert html.escape(GPG_UID) in rows["gpg"] and '<span class="signed">signed</span>' in rows["gpg"]
    assert "SHA256:" not in rows["gpg"] and '<span class="unsigned">unsigned</span>' not in rows["gpg"]
    # a copied signature names another digest: shown as not verified, never as signed
    forged = rows["forged"]
    assert '<span class="unverified">1 signature not verified</span>' in forged
    assert 'class="signed"' not in forged and '<span class="unsigned">unsigned</span>' not in forged
    assert '<span class="unsigned">unsigned</span>' in plain
    assert "FSDG audit: pass" in signed and "reproducibility: not checked" in signed
    assert "reproducibility: reproducible" in plain
    built = rows["built"]
    assert "FSDG audit: pass" in built and "unsigned" in built and 'class="report"' not in built
    assert signed.count('class="report"') == 2 and "SBOM report" in signed and "FSDG audit report" in signed
    # attached reports are not the publisher's signed word: the page says so
    assert signed.count('report</a> <span class="unsigned">(unsigned)</span>') == 2
    assert "FSDG audit: pass (unsigned)" in signed
    # markup in an annotation is text on the page
    assert HOSTILE not in page and "<script>alert" not in page
    shown = re.search(r'<span class="audit">FSDG audit: ([^<]*)</span>', plain).group(1)
    assert html.unescape(shown) == HOSTILE + " (unsigned)" and "&lt;script&gt;" in shown


def test_index_tag_shows_each_platforms_trust(trust_tree):
    """An index: who signed each platform's manifest, and its own audit and reproducibility verdicts
    (the build's annotations, or the verdict of a report attached to that platform)."""
    row = _rows((trust_tree / "index.html").read_text())["multi"]
    gpg = json.loads((trust_tree.parent / "gpg.json").read_text())
    plats = dict(re.findall(r'<div class="platform-trust" data-platform="([^"]+)">(.*?)</div>', row, re.S))
    assert list(plats) == ["linux/amd64", "linux/arm64"], row
    for one in plats.values():
        assert f'OpenPGP key <code class="key">{gpg["fingerprint"]}</code>' in one
        assert '<span class="unsigned">unsigned</span>' not in one
    assert "FSDG audit: pass" in plats["linux/amd64"] and "reproducibility: reproducible" in plats["linux/amd64"]
    assert "FSDG audit: nonfree" in plats["linux/arm64"] and "reproducibility: not-reproducible" in plats["linux/arm64"]
    assert plats["linux/arm64"].count('class="report"') == 1 and 'class="report"' not in plats["linux/amd64"]
    # the index's own signature, above the platforms'
    own = row.split('<div class="platform-trust"')[0]
    assert f'OpenPGP key <code class="key">{gpg["fingerprint"]}</code>' in own


def test_report_links_serve_the_reports(trust_tree, tmp_path):
    page = (trust_tree / "index.html").read_text()
    links = dict((kind, href) for href, kind in
                 re.findall(r'<a class="report" href="([^"]+)">([^<]+) report</a>', _rows(page)["1"]))
    assert set(links) == {"SBOM", "FSDG audit"}
    with FsdgimgServe(tmp_path / "serve", trust_tree) as server:
        got = {kind: urllib.request.urlopen(f"http://127.0.0.1:{server.port}/{href}").read()
               for kind, href in links.items()}
    sbom, audit = json.loads(got["SBOM"]), json.loads(got["FSDG audit"])
    assert sbom["spdxVersion"] == "SPDX-2.3"
    assert audit["verdict"] == "pass"


@pytest.mark.parametrize("width", [1280, 390])
def test_trust_column_in_chromium(width, browser, trust_tree, tmp_path):  # noqa: F811
    with FsdgimgServe(tmp_path / "serve", trust_tree) as server:
        tab = browser.open(f"http://127.0.0.1:{server.port}/", width)
        m = tab.evaluate(MEASURE)
        tab.close()
    assert not m["overlaps"], m["overlaps"]
    assert not m["cut"] and m["scrollWidth"] <= m["width"], (m["cut"], m["scrollWidth"], m["width"])
    assert "unsigned" in m["text"] and f"FSDG audit: {HOSTILE}" in m["text"]
    # who signed, as a reader sees it: the cosign key's fingerprint, the OpenPGP key's and its user ID
    gpg = json.loads((trust_tree.parent / "gpg.json").read_text())
    assert f"signed by key SHA256:{_fingerprint(trust_tree.parent / 'release.pub')}" in m["text"]
    assert f"signed by OpenPGP key {gpg['fingerprint']} {GPG_UID}" in m["text"]
    assert "1 signature not verified" in m["text"]
