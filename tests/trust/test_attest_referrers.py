"""Attestations on a registry with the OCI 1.1 referrers API: besides the `.att` tag, each envelope
is attached as a sigstore bundle referring to the image, as cosign 3 stores attestations there. The
registry is go-containerregistry's (tests/servers.py ReferrersRegistry: Debian has no Distribution
3.x); the proof is Debian sid's cosign 3.1.1 `verify-attestation --new-bundle-format=true`, which
accepts the bundles alone once the `.att` tag is gone, and `fsdgimg verify`, which reads them too
(also from a static mirror `sync` made), and what cosign attests in its new bundle format (referrers API, or the referrers tag schema on
Distribution 2.8). A forged bundle is one line and changes nothing."""

from __future__ import annotations

import base64
import json
import shutil
import urllib.request
from pathlib import Path

import pytest
from servers import ReferrersRegistry

from fsdgimg.oci.digest import Digest

from .conftest import KEY_PASSWORD, run_cli
from .sid import sid
from .test_attest import AUDIT, COSIGN_TYPES, ENV, PROVENANCE, SPDX, _envelope, _ok, _statements

BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"


@pytest.fixture(scope="module")
def referrers_registry(tmp_path_factory):
    with ReferrersRegistry(tmp_path_factory.mktemp("referrers-registry")) as reg:
        yield reg


def _publish(free_build, signing_key, host: str, name: str) -> tuple[str, dict]:
    work, _, _ = free_build
    ref = f"{host}/{name}:1"
    out = json.loads(_ok(run_cli("publish", f"oci:{work / 'layout'}:latest", "--to", f"docker://{ref}",
                                 "--sign-key", signing_key.with_suffix(".key"), "--json", env=ENV)).stdout)
    return ref, out


def _http(method: str, url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _referrers(host: str, name: str, digest: str) -> list[dict]:
    """The bundle artifacts the registry lists for `digest`, with their manifests' annotations."""
    status, body = _http("GET", f"http://{host}/v2/{name}/referrers/{digest}")
    assert status == 200, body
    out = []
    for d in json.loads(body)["manifests"]:
        status, data = _http("GET", f"http://{host}/v2/{name}/manifests/{d['digest']}",
                             headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        m = json.loads(data)
        if m.get("artifactType") == BUNDLE:
            out.append({"digest": d["digest"], **m})
    return out


def _verify_attestation(ref: str, pub: Path, cosign_type: str, new_bundle_format: bool):
    return sid("cosign", "verify-attestation", "--key", pub, "--type", cosign_type, "--insecure-ignore-tlog=true",
               f"--new-bundle-format={str(new_bundle_format).lower()}", "--allow-insecure-registry=true", ref)


def test_attestations_are_also_bundles_that_cosign_accepts_alone(free_build, signing_key, referrers_registry,
                                                                  guix_env, tmp_path):
    host = referrers_registry.host
    ref, out = _publish(free_build, signing_key, host, "debian-free")
    made = {a["predicate_type"]: a for a in out["attestations"]}
    assert sorted(made) == sorted([SPDX, AUDIT, PROVENANCE])
    digest = out["digest"]
    listed = {r["annotations"]["dev.sigstore.bundle.predicateType"]: r for r in _referrers(host, "debian-free", digest)}
    assert sorted(listed) == sorted(made)
    assert {listed[t]["digest"] for t in made} == {a["referrer"] for a in made.values()}
    assert all(r["subject"]["digest"] == digest for r in listed.values())
    tree = sid("cosign", "tree", "--allow-insecure-registry=true", ref)
    assert tree.returncode == 0 and "Attestations for an image tag" in tree.stdout, tree.stdout + tree.stderr
    assert all(f"{t} artifacts via OCI referrer" in tree.stdout for t in made), tree.stdout
    pub = signing_key.with_suffix(".pub")
    for new_format in (True, False):       # both stored: either of cosign's ways finds its own
        proc = _verify_attestation(ref, pub, "spdxjson", new_format)
        assert proc.returncode == 0 and [s["predicateType"] for s in _statements(proc)].count(SPDX) >= 1, proc.stderr
    # Without the .att tag, cosign's new bundle format still finds every attestation (the bundles),
    # and its old format finds none: the bundles alone carry them.
    status, _ = _http("DELETE", f"http://{host}/v2/debian-free/manifests/sha256-{digest[7:]}.att")
    assert status == 202
    for ptype in made:
        proc = _verify_attestation(ref, pub, COSIGN_TYPES[ptype], True)
        assert proc.returncode == 0, (ptype, proc.stderr)
        [statement] = [s for s in _statements(proc) if s["predicateType"] == ptype]
        assert statement["subject"][0]["digest"] == {"sha256": digest[7:]}
    proc = _verify_attestation(ref, pub, "spdxjson", False)
    assert proc.returncode != 0 and "no matching attestations" in proc.stderr, proc.stderr
    v = json.loads(run_cli("verify", f"docker://{ref}", "--key", pub, "--json").stdout)
    assert v["sbom"]["signed_by"] == str(pub) and v["audit"]["verdict"] == "pass", v
    assert sorted(a["predicate_type"] for a in v["attestations"]) == sorted(made)
    assert {a["envelope"] for a in v["attestations"]} == {a["referrer"] for a in made.values()}
    assert v["verified"] and v["ignored"] == [], v
    # sync carries the bundles (every referrer of the image) into a static tree, whose listing
    # `verify` reads them from.
    tree = tmp_path / "mirror"
    _ok(run_cli("sync", f"docker://{host}/debian-free", "--to", f"static:{tree}"))
    proc = run_cli("verify", f"static:{tree}/debian-free:1", "--key", pub, "--json")
    assert proc.stdout, proc.stderr
    v = json.loads(proc.stdout)
    assert v["sbom"]["signed_by"] == str(pub) and v["via"] == "static-tree", v
    assert {a["envelope"] for a in v["attestations"]} == {a["referrer"] for a in made.values()}, v


def test_no_bundles_where_the_registry_has_no_referrers_api(free_build):
    """Distribution 2.8: the .att tag only (the probe answered 404)."""
    _, outcome, _ = free_build
    assert outcome["attached"]["attestations"] and all("referrer" not in a
                                                       for a in outcome["attached"]["attestations"])


def test_a_new_attestation_replaces_the_keys_earlier_bundle_of_its_type(free_build, signing_key, referrers_registry,
                                                                       tmp_path):
    host = referrers_registry.host
    ref, out = _publish(free_build, signing_key, host, "replaced")
    predicate = tmp_path / "vsa.json"
    for verdict in ("FAILED", "PASSED"):
        predicate.write_text(json.dumps({"verificationResult": verdict}))
        done = json.loads(_ok(run_cli("attest", f"docker://{ref}", "--key", signing_key.with_suffix(".key"),
                                      "--predicate", predicate, "--type", "vsa", "--json", env=ENV)).stdout)
    vsa = "https://slsa.dev/verification_summary/v1"
    listed = [r for r in _referrers(host, "replaced", out["digest"])
              if r["annotations"]["dev.sigstore.bundle.predicateType"] == vsa]
    assert [r["digest"] for r in listed] == [done["referrer"]] and "referrers_kept" not in done
    status, data = _http("GET", f"http://{host}/v2/replaced/blobs/{listed[0]['layers'][0]['digest']}")
    statement = json.loads(base64.b64decode(json.loads(data)["dsseEnvelope"]["payload"]))
    assert statement["predicate"] == {"verificationResult": "PASSED"}
    # The other types' bundles are still there.
    assert len(_referrers(host, "replaced", out["digest"])) == 4


@pytest.mark.parametrize("where", ["referrers-api", "tag-schema"])
def test_what_cosign_attests_in_its_bundle_format_fsdgimg_verifies(free_build, signing_key, referrers_registry,
                                                                    registry, tmp_path, guix_env, where):
    """cosign 3's default: a bundle referrer (through the API, or Distribution 2.8's referrers tag
    schema); no .att tag at all."""
    work, _, _ = free_build
    host = referrers_registry.host if where == "referrers-api" else registry.host
    ref = f"{host}/by-cosign-bundle:1"
    _ok(run_cli("publish", f"oci:{work / 'layout'}:latest", "--to", f"docker://{ref}"))
    shutil.copy(signing_key.with_suffix(".key"), tmp_path / "cosign.key")
    predicate = tmp_path / "sbom.json"
    shutil.copy(work / "layout" / "fsdgimg" / "sbom.spdx.json", predicate)
    proc = sid("cosign", "attest", "-y", "--key", tmp_path / "cosign.key", "--type", "spdxjson", "--predicate",
               predicate, "--tlog-upload=false", "--use-signing-config=false", "--new-bundle-format=true",
               "--allow-insecure-registry=true", ref, env={"COSIGN_PASSWORD": KEY_PASSWORD})
    assert proc.returncode == 0, proc.stderr
    v = json.loads(run_cli("verify", f"docker://{ref}", "--key", signing_key.with_suffix(".pub"), "--json").stdout)
    assert v["sbom"] and v["sbom"]["signed_by"] == str(signing_key.with_suffix(".pub")), v
    assert v["audit"]["verdict"] == "pass" and v["via"] == where, v
    assert [f for f in v["failures"] if "SBOM" in f] == []


def _push_referrer(host: str, name: str, subject: dict, bundle: bytes, ptype: str) -> str:
    """A hostile mirror adds a bundle referrer of its own (monolithic uploads, then the manifest)."""
    for blob in (b"{}", bundle):
        status, body = _http("POST", f"http://{host}/v2/{name}/blobs/uploads/?digest={Digest.of(blob)}", blob,
                             {"Content-Type": "application/octet-stream"})
        assert status == 201, body
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": BUNDLE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": str(Digest.of(b"{}"))},
        "layers": [{"mediaType": BUNDLE, "size": len(bundle), "digest": str(Digest.of(bundle))}],
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": ptype},
        "subject": subject}).encode()
    digest = str(Digest.of(manifest))
    status, body = _http("PUT", f"http://{host}/v2/{name}/manifests/{digest}", manifest,
                         {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert status == 201, body
    return digest


def test_forged_bundles_are_one_line_each_and_the_signed_sbom_is_used(free_build, signing_key, referrers_registry,
                                                                     tmp_path):
    host = referrers_registry.host
    ref, out = _publish(free_build, signing_key, host, "forged")
    digest = out["digest"]
    status, data = _http("GET", f"http://{host}/v2/forged/manifests/{digest}",
                         headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": len(data)}
    other = tmp_path / "other"
    _ok(run_cli("sign", "--generate-key", other, env={"COSIGN_PASSWORD": KEY_PASSWORD}))
    statement = {"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "x", "digest": {"sha256": digest[7:]}}],
                 "predicateType": SPDX, "predicate": {"spdxVersion": "SPDX-2.3", "packages": []}}
    about_another = dict(statement, subject=[{"name": "x", "digest": {"sha256": "0" * 64}}])
    forged = {
        "another key": _envelope(statement, other.with_suffix(".key")),
        "another digest": _envelope(about_another, signing_key.with_suffix(".key")),
    }
    for envelope in forged.values():
        bundle = (b'{"mediaType":"' + BUNDLE.encode() + b'","verificationMaterial":{"publicKey":{"hint":"x"}},'
                  b'"dsseEnvelope":' + envelope + b"}")
        _push_referrer(host, "forged", subject, bundle, SPDX)
    # And one that holds no envelope at all.
    _push_referrer(host, "forged", subject, b'{"mediaType":"' + BUNDLE.encode() + b'"}', SPDX)
    v = json.loads(run_cli("verify", f"docker://{ref}", "--key", signing_key.with_suffix(".pub"), "--json").stdout)
    assert v["sbom"]["signed_by"] == str(signing_key.with_suffix(".pub")) and v["sbom"]["packages"] > 1, v
    ignored = [line for line in v["ignored"] if "referrer" in line]
    assert len(ignored) == 3 and all("\n" not in line for line in ignored), v["ignored"]
    assert any("not signed by the given keys" in line for line in ignored), ignored
    assert any("not " + digest in line for line in ignored), ignored
    assert any("without a DSSE envelope" in line for line in ignored), ignored
    # A flood of bundle referrers: at most 64 are read, the rest is one line; the .att tag still counts.
    for n in range(64):
        _push_referrer(host, "forged", subject, b'{"mediaType":"' + BUNDLE.encode() + b'","n":%d}' % n, SPDX)
    v = json.loads(run_cli("verify", f"docker://{ref}", "--key", signing_key.with_suffix(".pub"), "--json").stdout)
    assert v["sbom"]["signed_by"] == str(signing_key.with_suffix(".pub")), v
    assert sum(1 for line in v["ignored"] if "only the first 64 read" in line) == 1, v["ignored"]
