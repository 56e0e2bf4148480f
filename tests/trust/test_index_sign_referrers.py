"""Attachments of a multi-platform index's images, and the two ways a client finds them: the OCI 1.1
referrers API (`GET /v2/NAME/referrers/DIGEST`, which static trees answer through `fsdgimg serve` and
nginx) and the `sha256-<hex>` tag schema (Distribution 2.8, which has no API). `fsdgimg verify
--json` says which path it took (`via`). A registry with the API gets no fallback tag on push. These
attachments are unsigned: verify lists them and trusts none (the SBOM it judges is recomputed from the
layers here, --from-layers; signed attestations are tests/trust/test_attest.py's). A hostile server's
referrers listing (a loop, a huge index, artifacts of another subject) gives one line each and
changes nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from fixtures.hostile_registry import HostileRegistry
from fixtures.multiplatform import make_index_layout
from publish.conftest import public_tree
from servers import Registry
from static.conftest import start

from .conftest import run_cli

SBOM, AUDIT = "application/spdx+json", "application/vnd.fsdgimg.audit.v1+json"
PLATFORMS = ("linux/amd64", "linux/arm64")


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("referrers")
    return make_index_layout(work / "layout", work / "rootfs")


def _children(layout: Path) -> dict[str, str]:
    index_json = json.loads((layout / "index.json").read_text())
    [desc] = [d for d in index_json["manifests"]
              if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == "multi"]
    index = json.loads((layout / "blobs" / "sha256" / desc["digest"][7:]).read_text())
    return {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"] for m in index["manifests"]}


def _attach_reports(ref: str) -> None:
    """`fsdgimg sbom|audit REF --platform P --attach` for each platform of the index REF names."""
    for plat in PLATFORMS:
        _ok(run_cli("sbom", ref, "--platform", plat, "--attach"))
        _ok(run_cli("audit", ref, "--platform", plat, "--attach"))


def _verify(ref: str) -> dict:
    v = json.loads(_ok(run_cli("verify", ref, "--from-layers", "--json")).stdout)
    assert v["verified"] and [c["platform"] for c in v["platforms"]] == list(PLATFORMS), v
    for c in v["platforms"]:
        assert c["sbom"]["describes"] == c["digest"] and c["audit"]["verdict"] == "pass", c
        # Each platform's two reports were found, and ignored: they are unsigned.
        assert sorted(line.split(" attached")[0] for line in c["ignored"]) == [
            "unsigned SBOM", "unsigned audit report"], c
    return v


def test_a_registry_without_the_api_gets_the_tag_schema(layout, tmp_path):
    children = _children(layout)
    with Registry(tmp_path / "registry") as reg:
        ref = f"docker://{reg.host}/multi:1"
        index = json.loads(_ok(run_cli("publish", f"oci:{layout}:multi", "--to", ref, "--json")).stdout)["digest"]
        _attach_reports(ref)
        # Each platform's reports name its image as their subject: the fallback tag is the child's.
        for digest in children.values():
            assert reg.manifest_digest("multi", f"sha256-{digest[7:]}") is not None
        assert reg.manifest_digest("multi", f"sha256-{index[7:]}") is None
        v = _verify(ref)
        assert {c["via"] for c in v["platforms"]} == {"tag-schema"} and v["via"] == "tag-schema"
        assert {c["platform"]: c["digest"] for c in v["platforms"]} == children


def test_static_trees_answer_the_referrers_api(layout, tmp_path):
    base = public_tree("referrers")
    try:
        tree = base / "tree"
        _ok(run_cli("publish", f"oci:{layout}:multi", "--to", f"static:{tree}", "--name", "multi:1"))
        _attach_reports(f"static:{tree}/multi:1")
        assert not [t for t in (tree / "v2" / "multi" / "_tags").iterdir() if t.name.startswith("sha256-")]
        assert _verify(f"static:{tree}/multi:1")["via"] == "static-tree"
        # fsdgimg serve applies the artifactType filter itself (OCI-Filters-Applied); nginx, Apache
        # and Caddy serve the whole listing and the client filters. All answer the referrers API.
        for kind in ("fsdgimg-serve", "nginx", "apache", "caddy"):
            server = start(kind, tree, tmp_path / kind)
            try:
                assert _verify(f"docker://127.0.0.1:{server.port}/multi:1")["via"] == "referrers-api", kind
            finally:
                server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _referrer_requests(reg: HostileRegistry) -> list[dict]:
    return [r for r in reg.requests if "/referrers/" in r["path"]]


def test_push_to_a_registry_with_the_referrers_api_writes_no_fallback_tag(layout, tmp_path):
    children = _children(layout)
    with HostileRegistry(referrers_api=True) as reg:
        ref = f"docker://{reg.host}/multi:1"
        _ok(run_cli("publish", f"oci:{layout}:multi", "--to", ref))
        _attach_reports(ref)
        tags = {r for (_, r) in reg.store.manifests}
        assert not [t for t in tags if t.startswith("sha256-")], tags
        before = len(_referrer_requests(reg))
        v = _verify(ref)
        assert {c["via"] for c in v["platforms"]} == {"referrers-api"}
        asked = _referrer_requests(reg)[before:]
        assert {r["path"].rsplit("/", 1)[1] for r in asked} == set(children.values())
    # The same pushes to a registry without the API keep the fallback tag up to date.
    with HostileRegistry() as reg:
        ref = f"docker://{reg.host}/multi:1"
        _ok(run_cli("publish", f"oci:{layout}:multi", "--to", ref))
        _attach_reports(ref)
        tags = {r for (_, r) in reg.store.manifests}
        assert {f"sha256-{d[7:]}" for d in children.values()} <= tags
        assert {c["via"] for c in _verify(ref)["platforms"]} == {"tag-schema"}


def _index(manifests: list[dict]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": manifests}).encode()


INDEX_TYPE = {"Content-Type": "application/vnd.oci.image.index.v1+json"}


def test_hostile_referrers_listings_are_one_line_and_nothing_trusted(layout, tmp_path):
    children = _children(layout)
    amd64, arm64 = children["linux/amd64"], children["linux/arm64"]
    with HostileRegistry(referrers_api=True) as reg:
        ref = f"docker://{reg.host}/multi:1"
        _ok(run_cli("publish", f"oci:{layout}:multi", "--to", ref))
        _attach_reports(ref)
        arm64_sbom = json.loads(_ok(run_cli("sbom", ref, "--platform", "linux/arm64", "--attach",
                                            "--json")).stdout)["attached"]
        verify = ["verify", ref, "--platform", "linux/amd64", "--from-layers", "--json"]
        honest = json.loads(_ok(run_cli(*verify)).stdout)
        assert honest["verified"] and honest["platforms"][0]["sbom"]
        size = len(reg.store.manifests[("multi", arm64_sbom)][0])
        page = f"/v2/multi/referrers/{amd64}"
        cases = {
            # The pages of the listing loop: the next page is this one.
            "pages loop": (_index([]), {**INDEX_TYPE, "Link": f'<{page}>; rel="next"'}),
            "is over 4 MiB": (b" " * (5 << 20) + _index([]), INDEX_TYPE),
            "at most 1000": (_index([{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                                      "digest": "sha256:" + f"{n:064x}", "artifactType": SBOM}
                                     for n in range(1001)]), INDEX_TYPE),
            # The arm64 image's SBOM listed as the amd64 image's: its subject says otherwise.
            f"its subject is {arm64}, not {amd64}": (
                _index([{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm64_sbom,
                         "size": size, "artifactType": SBOM}]), INDEX_TYPE),
            # The image listed as its own SBOM.
            "attachment loop": (_index([{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                         "digest": amd64, "size": 1, "artifactType": SBOM}]), INDEX_TYPE),
        }
        # The listing is never trusted: a broken one is one note; the entries of a plausible one
        # are unsigned reports, listed as ignored and never fetched (nor their subjects read).
        listed_only = {f"its subject is {arm64}, not {amd64}": arm64_sbom, "attachment loop": amd64}
        for needle, answer in cases.items():
            reg.referrers_answer = answer
            proc = run_cli(*verify)
            assert proc.returncode == 0 and "Traceback" not in proc.stderr, (needle, proc.stderr)
            v = json.loads(proc.stdout)
            c = v["platforms"][0]
            assert v["verified"] and c["sbom"]["signed_by"] is None and c["audit"]["verdict"] == "pass"
            expected = (f"unsigned SBOM attached as {listed_only[needle]}: ignored" if needle in listed_only
                        else needle)
            assert len(c["ignored"]) == 1 and expected in c["ignored"][0], (needle, c["ignored"])
            assert v["ignored"] == [f"linux/amd64: {c['ignored'][0]}"]
        # A 200 that is not an index (a web server's page for every path) is no referrers API: the
        # client reads the fallback tag, which this registry (it has the API) never got.
        reg.referrers_answer = (b"<html>not here</html>", {"Content-Type": "text/html"})
        v = json.loads(run_cli(*verify).stdout)
        assert v["platforms"][0]["via"] == "tag-schema" and v["verified"] and v["ignored"] == []


def test_nested_and_hostile_indexes(layout, tmp_path):
    """`sign` walks a nested index as cosign's --recursive does (children first); an index nested
    too deep, one listing too many manifests or a malformed descriptor is one line, nothing signed."""
    children = _children(layout)
    key = tmp_path / "k"
    _ok(run_cli("sign", "--generate-key", key, env={"COSIGN_PASSWORD": "pw"}))
    with HostileRegistry() as reg:
        _ok(run_cli("publish", f"oci:{layout}:multi", "--to", f"docker://{reg.host}/multi:1"))
        inner = reg.manifest_digest_of("multi", "1")

        def put_index(tag: str, manifests: list[dict]) -> str:
            data = _index(manifests)
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            for ref in (tag, digest):
                reg.store.manifests[("multi", ref)] = (data, INDEX_TYPE["Content-Type"])
            return digest

        def entry(digest: str) -> dict:
            return {"mediaType": INDEX_TYPE["Content-Type"], "digest": digest,
                    "size": len(reg.store.manifests[("multi", digest)][0])}
        outer = put_index("outer", [entry(inner)])
        out = json.loads(_ok(run_cli("sign", f"docker://{reg.host}/multi:outer", "--key", key.with_suffix(".key"),
                                     "--json", env={"COSIGN_PASSWORD": "pw"})).stdout)
        assert out["digest"] == outer
        assert [c["digest"] for c in out["children"]] == [*children.values(), inner]
        deep = outer
        for n in range(3):
            deep = put_index(f"deep{n}", [entry(deep)])
        before = {r for (_, r) in reg.store.manifests if r.endswith(".sig")}
        for tag, needle in (("deep2", "nested more than 3 deep"),
                            ("many", "index lists 300 manifests (at most 256)"),
                            ("bad", "index entry 1 has an invalid digest")):
            if tag == "many":
                put_index(tag, [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                                 "digest": "sha256:" + f"{n:064x}"} for n in range(300)])
            elif tag == "bad":
                put_index(tag, [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                                 "digest": "sha256:not-hex"}])
            # verify walks the same tree with the same bounds
            verify = ["verify", f"docker://{reg.host}/multi:{tag}", "--key", key.with_suffix(".pub")]
            for cmd in [["sign", f"docker://{reg.host}/multi:{tag}", "--key", key.with_suffix(".key")], verify]:
                proc = run_cli(*cmd, env={"COSIGN_PASSWORD": "pw"})
                assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, (tag, cmd[0], proc.stderr)
                assert needle in proc.stderr and "Traceback" not in proc.stderr, (tag, cmd[0], proc.stderr)
        assert {r for (_, r) in reg.store.manifests if r.endswith(".sig")} == before
