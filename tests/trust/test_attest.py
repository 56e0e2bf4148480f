"""Signed attestations: the SBOM, the FSDG audit, SLSA provenance and the reproducibility verdict as
in-toto statements in DSSE envelopes, signed with the distribution's cosign key and stored as cosign
stores them (the image's `sha256-<hex>.att` tag). The proof is the real client: Debian sid's
`cosign verify-attestation --key` (offline) accepts each type, from a registry and from a static
tree served by nginx, Apache, Caddy and `fsdgimg serve`; `cosign tree` lists them; what cosign
attests, `fsdgimg verify` accepts. And `verify` trusts nothing unsigned: a forged or unsigned
document is one line and ignored, the signed one is used."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest
from publish.conftest import public_tree
from servers import Apache, Caddy, FsdgimgServe, Nginx, free_port

from fsdgimg.oci.digest import Digest

from .conftest import KEY_PASSWORD, run_cli
from .sid import sid

SPDX = "https://spdx.dev/Document"
AUDIT = "https://fsdgimg.org/fsdg-audit/v1"
PROVENANCE = "https://slsa.dev/provenance/v1"
VSA = "https://slsa.dev/verification_summary/v1"
# cosign's --type for each predicate type (a URI where cosign has no short name).
COSIGN_TYPES = {SPDX: "spdxjson", PROVENANCE: "slsaprovenance1", AUDIT: AUDIT, VSA: VSA}
ENV = {"COSIGN_PASSWORD": KEY_PASSWORD}


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def cosign_verify_attestation(ref: str, pub: Path, cosign_type: str):
    return sid("cosign", "verify-attestation", "--key", pub, "--type", cosign_type, "--insecure-ignore-tlog=true",
               "--allow-insecure-registry=true", ref)


def _statements(proc) -> list[dict]:
    """The statements cosign verify-attestation printed (one envelope a line)."""
    return [json.loads(base64.b64decode(json.loads(line)["payload"])) for line in proc.stdout.splitlines()
            if line.startswith("{")]


def test_a_build_attests_and_cosign_verifies_each_type(free_build, signing_key, guix_env):
    work, outcome, ref = free_build
    made = {a["predicate_type"]: a for a in outcome["attached"]["attestations"]}
    assert sorted(made) == sorted([SPDX, AUDIT, PROVENANCE])        # no --check: no verdict to attest
    assert {a["digest"] for a in made.values()} == {outcome["digest"]}
    pub = signing_key.with_suffix(".pub")
    for ptype in made:
        proc = cosign_verify_attestation(ref, pub, COSIGN_TYPES[ptype])
        assert proc.returncode == 0, (ptype, proc.stderr)
        [statement] = [s for s in _statements(proc) if s["predicateType"] == ptype]
        assert statement["_type"] == "https://in-toto.io/Statement/v1"
        assert statement["subject"] == [{"name": ref.rsplit(":", 1)[0], "digest": {"sha256": outcome["digest"][7:]}}]
    spdx = _statements(cosign_verify_attestation(ref, pub, "spdxjson"))[0]["predicate"]
    on_disk = json.loads((work / "layout" / "fsdgimg" / "sbom.spdx.json").read_text())
    assert spdx == on_disk                       # the SBOM signed is the SBOM the build wrote
    provenance = [s for s in _statements(cosign_verify_attestation(ref, pub, "slsaprovenance1"))
                  if s["predicateType"] == PROVENANCE][0]["predicate"]
    assert provenance["buildDefinition"]["externalParameters"]["catalogEntry"]["name"] == "debian-free"
    assert provenance["buildDefinition"]["internalParameters"]["SOURCE_DATE_EPOCH"] > 0
    tree = sid("cosign", "tree", "--allow-insecure-registry=true", ref)
    assert tree.returncode == 0 and "Attestations for an image tag" in tree.stdout, tree.stdout + tree.stderr
    assert all(a["envelope"][7:] in tree.stdout for a in made.values()), tree.stdout


def test_verify_trusts_the_signed_sbom_and_says_which_key_signed_it(free_build, signing_key):
    _, outcome, ref = free_build
    v = json.loads(_ok(run_cli("verify", f"docker://{ref}", "--key", signing_key.with_suffix(".pub"),
                               "--json")).stdout)
    assert v["verified"] and v["sbom"]["signed_by"] == str(signing_key.with_suffix(".pub"))
    assert v["audit"]["verdict"] == "pass" and v["audit"]["signed_by"] == str(signing_key.with_suffix(".pub"))
    assert sorted(a["predicate_type"] for a in v["attestations"]) == sorted([SPDX, AUDIT, PROVENANCE])
    # The build also attached the reports unsigned (for oras and the referrers API): listed, not used.
    assert any("unsigned SBOM" in line and "ignored" in line for line in v["ignored"]), v["ignored"]
    # A separate attestation key: the image's signature by one key, its attestations by another.
    other = signing_key.parent / "other"
    _ok(run_cli("sign", "--generate-key", other, env=ENV))
    proc = run_cli("verify", f"docker://{ref}", "--key", signing_key.with_suffix(".pub"), "--attestation-key",
                   other.with_suffix(".pub"))
    assert proc.returncode == 1
    assert f"docker://{ref}: no SBOM attestation signed by the given keys" in proc.stderr, proc.stderr
    assert "not signed by the given keys" in proc.stderr     # each attestation it could not trust: a note


def test_from_layers_recomputes_the_sbom_and_agrees(free_build, signing_key):
    _, _, ref = free_build
    v = json.loads(_ok(run_cli("verify", f"docker://{ref}", "--key", signing_key.with_suffix(".pub"),
                               "--from-layers", "--json")).stdout)
    assert v["verified"] and v["sbom"]["recomputed"] == v["sbom"]["packages"] > 20
    # Without a key, the image's own layers are the only SBOM there is to trust.
    v = json.loads(_ok(run_cli("verify", f"docker://{ref}", "--from-layers", "--json")).stdout)
    assert v["verified"] and v["sbom"]["signed_by"] is None and v["audit"]["verdict"] == "pass"
    proc = run_cli("verify", f"docker://{ref}")
    assert proc.returncode == 1 and "nothing to trust it by" in proc.stderr


@pytest.fixture(scope="module")
def attested_tree(free_build, signing_key):
    """The build's layout published to a static tree with `publish --sign-key`: the image signed,
    and the attestations the build left in its layout signed about it."""
    work, outcome, _ = free_build
    base = public_tree("attest")
    tree = base / "tree"
    out = json.loads(_ok(run_cli("publish", f"oci:{work / 'layout'}:latest", "--to", f"static:{tree}",
                                 "--name", "debian-free:bookworm", "--sign-key", signing_key.with_suffix(".key"),
                                 "--sign-identity", "images.example.org/debian-free", "--json",
                                 env=ENV)).stdout)
    yield tree, out
    shutil.rmtree(base, ignore_errors=True)


def _start(kind: str, tree: Path, workdir: Path):
    workdir.mkdir(parents=True, exist_ok=True)
    if kind == "fsdgimg-serve":
        return FsdgimgServe(workdir, tree).start()
    port = free_port()
    site = run_cli("web-config", kind, "--root", tree, "--listen", f"127.0.0.1:{port}").stdout
    return {"nginx": Nginx, "apache": Apache, "caddy": Caddy}[kind](workdir, site, port).start()


@pytest.mark.parametrize("kind", ["nginx", "apache", "caddy", "fsdgimg-serve"])
def test_cosign_verifies_the_attestations_of_a_static_tree(attested_tree, signing_key, guix_env, tmp_path, kind):
    tree, published = attested_tree
    assert sorted(a["predicate_type"] for a in published["attestations"]) == sorted([SPDX, AUDIT, PROVENANCE])
    server = _start(kind, tree, tmp_path / kind)
    try:
        ref = f"127.0.0.1:{server.port}/debian-free:bookworm"
        for ptype in (SPDX, AUDIT, PROVENANCE):
            proc = cosign_verify_attestation(ref, signing_key.with_suffix(".pub"), COSIGN_TYPES[ptype])
            assert proc.returncode == 0, (kind, ptype, proc.stderr)
        # fsdgimg's verify reads them through the server too (the image's signature names the host
        # it was published for, images.example.org: the one failure here).
        v = json.loads(run_cli("verify", f"docker://{ref}", "--key", signing_key.with_suffix(".pub"),
                               "--json").stdout)
        assert v["sbom"]["signed_by"] and v["audit"]["signed_by"] and v["audit"]["verdict"] == "pass"
        assert [f.split(":")[0] for f in v["failures"]] == ["signature"], v["failures"]
    finally:
        server.stop()


def test_what_cosign_attests_fsdgimg_verifies(free_build, signing_key, registry, tmp_path, guix_env):
    """cosign attest (Statement v0.1, its own envelope) of an SBOM: fsdgimg verify takes it."""
    work, outcome, _ = free_build
    ref = f"{registry.host}/by-cosign:1"
    _ok(run_cli("publish", f"oci:{work / 'layout'}:latest", "--to", f"docker://{ref}"))
    shutil.copy(signing_key.with_suffix(".key"), tmp_path / "cosign.key")
    predicate = tmp_path / "sbom.json"
    shutil.copy(work / "layout" / "fsdgimg" / "sbom.spdx.json", predicate)
    proc = sid("cosign", "attest", "-y", "--key", tmp_path / "cosign.key", "--type", "spdxjson", "--predicate",
               predicate, "--tlog-upload=false", "--use-signing-config=false", "--new-bundle-format=false",
               "--allow-insecure-registry=true", ref, env={"COSIGN_PASSWORD": KEY_PASSWORD})
    assert proc.returncode == 0, proc.stderr
    v = json.loads(run_cli("verify", f"docker://{ref}", "--key", signing_key.with_suffix(".pub"), "--json").stdout)
    assert v["sbom"] and v["sbom"]["signed_by"] == str(signing_key.with_suffix(".pub")), v
    assert v["audit"]["verdict"] == "pass"
    # (the image itself was not signed: that is the one failure)
    assert [f for f in v["failures"] if "SBOM" in f] == []


def _att_tag(tree: Path, name: str, digest: str) -> Path:
    return tree / "v2" / name / "_tags" / f"sha256-{digest[7:]}.att"


def _rewrite_att(tree: Path, name: str, digest: str, layers: list[dict], blobs: list[bytes]) -> None:
    """A hostile mirror rewrites the .att manifest (and adds blobs); the tag is a symlink to it."""
    repo = tree / "v2" / name
    tag = _att_tag(tree, name, digest)
    manifest = json.loads(tag.read_bytes())
    manifest["layers"] = layers
    data = json.dumps(manifest).encode()
    for blob in blobs:
        (repo / "_blobs" / str(Digest.of(blob))).write_bytes(blob)
    target = repo / "_manifests" / f"{Digest.of(data)}.oci-manifest"
    target.write_bytes(data)
    tag.unlink()
    tag.symlink_to(os.path.relpath(target, tag.parent))


def _envelope(statement: dict, key_file: Path, payload_type: str = "application/vnd.in-toto+json",
              sig: bytes | None = None) -> bytes:
    from fsdgimg.signature import dsse, keys
    body = json.dumps(statement).encode()
    os.environ["COSIGN_PASSWORD"] = KEY_PASSWORD
    sig = sig if sig is not None else keys.sign(keys.load_private_key(key_file), dsse.pae(payload_type, body))
    return json.dumps({"payload": base64.b64encode(body).decode(), "payloadType": payload_type,
                       "signatures": [{"sig": base64.b64encode(sig).decode()}]}).encode()


def _layer(blob: bytes, ptype: str = SPDX, size: int | None = None) -> dict:
    return {"mediaType": "application/vnd.dsse.envelope.v1+json", "digest": str(Digest.of(blob)),
            "size": len(blob) if size is None else size,
            "annotations": {"dev.cosignproject.cosign/signature": "", "predicateType": ptype}}


def test_hostile_attestations_are_one_line_each_and_the_signed_one_is_used(attested_tree, signing_key, tmp_path):
    tree, published = attested_tree
    digest, name = published["digest"], "debian-free"
    pub, key = signing_key.with_suffix(".pub"), signing_key.with_suffix(".key")
    src = f"static:{tree}/{name}:bookworm"
    original = json.loads(_att_tag(tree, name, digest).read_bytes())["layers"]
    other = tmp_path / "forger"
    _ok(run_cli("sign", "--generate-key", other, env=ENV))
    statement = {"_type": "https://in-toto.io/Statement/v1", "predicateType": SPDX,
                 "subject": [{"name": "x", "digest": {"sha256": digest[7:]}}],
                 "predicate": {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": []}}
    forged = {
        "not signed by the given keys": _envelope(statement, other.with_suffix(".key")),
        "not application/vnd.in-toto+json": _envelope(statement, key, payload_type="text/plain"),
        f"not {digest}": _envelope({**statement, "subject": [{"name": "x", "digest": {"sha256": "0" * 64}}]}, key),
        "listed as https://spdx.dev/Document": _envelope({**statement, "predicateType": VSA}, key),
        "DSSE payload is not base64": json.dumps({"payload": "%%%", "payloadType": "application/vnd.in-toto+json",
                                                  "signatures": [{"sig": "AAAA"}]}).encode(),
    }
    for needle, blob in forged.items():
        # The forged SBOM listed first, the signed one after it: the signed one is used.
        _rewrite_att(tree, name, digest, [_layer(blob)] + original, [blob])
        v = json.loads(run_cli("verify", src, "--key", pub, "--json").stdout)
        notes = [line for line in v["ignored"] if "layer 1" in line]
        assert len(notes) == 1 and needle in notes[0], (needle, v["ignored"])
        assert v["verified"] and v["sbom"]["signed_by"] == str(pub), (needle, v["failures"])
        # Alone, the forged one is not trusted: one note, one failure, no traceback.
        _rewrite_att(tree, name, digest, [_layer(blob)], [blob])
        proc = run_cli("verify", src, "--key", pub)
        lines = proc.stderr.splitlines()
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert any(needle in line for line in lines if line.startswith("fsdgimg verify: note:")), (needle, lines)
        assert any("no SBOM attestation signed by the given keys" in line for line in lines), lines
    # An envelope of 100 MiB (declared): refused from its size, never fetched.
    _rewrite_att(tree, name, digest, [_layer(b"x", size=100 << 20)] + original, [])
    v = json.loads(run_cli("verify", src, "--key", pub, "--json").stdout)
    assert v["verified"] and any("of 104857600 bytes (at most" in line for line in v["ignored"]), v["ignored"]
    # Put back what the build signed: verify is whole again.
    _rewrite_att(tree, name, digest, original, [])
    assert json.loads(run_cli("verify", src, "--key", pub, "--json").stdout)["ignored"] == []


def test_a_thousand_forged_sboms_in_the_referrers_listing_change_nothing(attested_tree, signing_key):
    tree, published = attested_tree
    digest = published["digest"]
    listing = tree / "v2" / "debian-free" / "_referrers" / f"{digest}.json"
    before = listing.read_bytes() if listing.exists() else None
    forged = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + f"{n:064x}", "size": 9,
         "artifactType": "application/spdx+json"} for n in range(1000)]}
    try:
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.unlink(missing_ok=True)
        listing.write_text(json.dumps(forged))
        proc = run_cli("verify", f"static:{tree}/debian-free:bookworm", "--key", signing_key.with_suffix(".pub"),
                       "--json")
        v = json.loads(proc.stdout)
        assert proc.returncode == 0 and v["verified"] and v["sbom"]["signed_by"], v["failures"]
        unsigned = [line for line in v["ignored"] if "unsigned SBOM" in line]
        assert len(unsigned) == 1000 and all("ignored" in line for line in unsigned)
    finally:
        listing.unlink(missing_ok=True)
        if before is not None:
            listing.write_bytes(before)


def test_attest_command_bad_input_is_one_line(attested_tree, signing_key, tmp_path):
    tree, _ = attested_tree
    src = f"static:{tree}/debian-free:bookworm"
    good = tmp_path / "p.json"
    good.write_text("{}")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    cases = [
        (["--predicate", bad, "--type", "spdxjson"], "bad.json"),
        (["--predicate", tmp_path / "missing.json", "--type", "spdxjson"], "missing.json"),
        (["--predicate", good, "--type", "not a type"], "--type"),
        (["--predicate", good, "--type", "vsa"], "--identity"),        # a static tree needs --identity
    ]
    for extra, needle in cases:
        proc = run_cli("attest", src, "--key", signing_key.with_suffix(".key"), *extra, env=ENV)
        lines = proc.stderr.splitlines()
        assert proc.returncode != 0 and len(lines) == 1 and needle in lines[0], (extra, proc.stderr)
    proc = run_cli("attest", src, "--key", signing_key.with_suffix(".key"), "--predicate", good, "--type", "vsa",
                   "--identity", "images.example.org/debian-free", env={"COSIGN_PASSWORD": "wrong"})
    assert proc.returncode != 0 and len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


def test_the_page_shows_which_attestations_are_signed_and_by_which_key(attested_tree, signing_key, tmp_path):
    import re

    from fsdgimg.signature import keys
    from fsdgimg.transports.static.layout import Tree
    from fsdgimg.transports.static.page import describe
    from fsdgimg.transports.static.signers import sigstore_fingerprint
    tree, published = attested_tree
    fingerprint = sigstore_fingerprint(keys.load_public_key(signing_key.with_suffix(".pub")))
    page = (tree / "index.html").read_text()
    shown = re.findall(r'>([A-Za-z ]+) attestation</a>: <span class="signed">signed</span> by key '
                       r'<code class="key"[^>]*>SHA256:([0-9a-f]{64})</code>', page)
    assert sorted(shown) == [("FSDG audit", fingerprint), ("SBOM", fingerprint), ("provenance", fingerprint)]
    assert "FSDG audit: pass (signed)" in page
    # A layer by a key the publisher never recorded: "not verified", never "signed".
    digest = published["digest"]
    original = json.loads(_att_tag(tree, "debian-free", digest).read_bytes())["layers"]
    other = tmp_path / "forger"
    _ok(run_cli("sign", "--generate-key", other, env=ENV))
    statement = {"_type": "https://in-toto.io/Statement/v1", "predicateType": AUDIT,
                 "subject": [{"name": "x", "digest": {"sha256": digest[7:]}}], "predicate": {"verdict": "pass"}}
    forged = _envelope(statement, other.with_suffix(".key"))
    try:
        _rewrite_att(tree, "debian-free", digest, original + [_layer(forged, AUDIT)], [forged])
        [entry] = describe(Tree(tree), ["debian-free"])["debian-free"]
        kinds = [(a.kind, a.signer.fingerprint if a.signer else None) for a in entry.attestations]
        assert kinds[-1] == ("FSDG audit", None) and kinds.count(("FSDG audit", fingerprint)) == 1, kinds
    finally:
        _rewrite_att(tree, "debian-free", digest, original, [])


def test_sync_carries_the_attestations_and_the_mirror_verifies_like_its_origin(attested_tree, signing_key,
                                                                               registry, guix_env):
    tree, published = attested_tree
    pub = signing_key.with_suffix(".pub")
    report = json.loads(_ok(run_cli("sync", f"static:{tree}/debian-free", "--to",
                                    f"docker://{registry.host}/mirror/debian-free", "--json")).stdout)
    assert [i["tag"] for i in report["images"]] == ["bookworm"]
    ref = f"{registry.host}/mirror/debian-free:bookworm"
    for ptype in (SPDX, AUDIT, PROVENANCE):
        proc = cosign_verify_attestation(ref, pub, COSIGN_TYPES[ptype])
        assert proc.returncode == 0, (ptype, proc.stderr)
    v = json.loads(run_cli("verify", f"docker://{ref}", "--key", pub, "--json").stdout)
    assert v["digest"] == published["digest"] and v["sbom"]["signed_by"] == str(pub)
    assert sorted(a["predicate_type"] for a in v["attestations"]) == sorted([SPDX, AUDIT, PROVENANCE])
