"""index.html's trust column: signed or not (cosign's `.sig` tag), the FSDG audit and reproducibility
verdicts, links to the attached reports, read from the tree's small JSON files only."""

from __future__ import annotations

import html
import json
import re
import shutil
import urllib.request

import pytest

from static.conftest import public_tree, run
from static.test_page import MEASURE, browser  # noqa: F401 (the Chromium fixture)
from servers import FsdgimgServe

from fsdgimg import mediatypes as mt
from fsdgimg.blobstore import BlobStore
from fsdgimg.image import Image
from fsdgimg.manifest import parse_manifest
from fsdgimg.sign import attachments as att
from fsdgimg.static.writer import StaticPublisher

PASSWORD = "page-pw"
HOSTILE = '<script>alert("x")</script>&amp;'


def _hostile_audit(where, tree, name: str, subject: dict) -> None:
    """An audit artifact whose verdict annotation is markup: the page must show it as text."""
    store = BlobStore(where / "blobs")
    config, layer = b"{}", b'{"verdict": "hostile"}'
    manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "artifactType": att.AUDIT_TYPE,
                "config": {"mediaType": att.EMPTY_CONFIG_TYPE, "digest": str(store.put_bytes(config)), "size": 2},
                "layers": [{"mediaType": att.AUDIT_TYPE, "digest": str(store.put_bytes(layer)), "size": len(layer)}],
                "subject": subject, "annotations": {att.VERDICT: HOSTILE}}
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
    # signed, then an SBOM and an audit report attached to it
    run("publish", images.src(images.a), "--to", f"static:{tree}", "--name", "trust/app:1",
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
    data = (tree / "v2" / "trust" / "app" / "_tags" / "plain").read_bytes()
    from fsdgimg.digest import Digest
    _hostile_audit(work, tree, "trust/app", {"mediaType": mt.OCI_MANIFEST, "digest": str(Digest.of(data)),
                                             "size": len(data)})
    yield tree
    shutil.rmtree(base, ignore_errors=True)


def _rows(page: str) -> dict[str, str]:
    """tag -> the HTML of its row."""
    return {m.group(1): m.group(0) for m in
            re.finditer(r'<tr class="tag-row">\s*<td data-label="Tag"><strong>([^<]*)</strong>.*?</tr>', page, re.S)}


def test_trust_column(trust_tree):
    page = (trust_tree / "index.html").read_text()
    rows = _rows(page)
    assert set(rows) == {"1", "plain", "built"}, list(rows)   # the `.sig` tag is no image to pull: not listed
    assert any(t.name.endswith(".sig") for t in (trust_tree / "v2" / "trust" / "app" / "_tags").iterdir())
    assert not re.search(r"sha256-[0-9a-f]{64}\.sig", page)
    signed, plain = rows["1"], rows["plain"]
    assert '<span class="signed">signed</span>' in signed and "unsigned" not in signed
    assert '<span class="unsigned">unsigned</span>' in plain
    assert "FSDG audit: pass" in signed and "reproducibility: not checked" in signed
    assert "reproducibility: reproducible" in plain
    built = rows["built"]
    assert "FSDG audit: pass" in built and "unsigned" in built and 'class="report"' not in built
    assert signed.count('class="report"') == 2 and "SBOM report" in signed and "FSDG audit report" in signed
    # markup in an annotation is text on the page
    assert HOSTILE not in page and "<script>alert" not in page
    shown = re.search(r'<span class="audit">FSDG audit: ([^<]*)</span>', plain).group(1)
    assert html.unescape(shown) == HOSTILE and "&lt;script&gt;" in shown


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
