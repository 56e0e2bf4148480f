"""Attachments and `fsdgimg verify`: the build's SBOM, audit and check reports attached as OCI 1.1
artifacts (a registry without the referrers API: the fallback tag; a static tree: its referrers
file), found and fetched by the real oras from Debian sid; verify checks signatures, SBOM, audit
and a rebuild, and refuses what a hostile mirror could serve."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from servers import FsdgimgServe

from .conftest import KEY_PASSWORD, run_cli
from .sid import sid


def _oras(*args):
    return sid("oras", *args, "--plain-http")


def _discover(ref: str) -> list[dict]:
    proc = _oras("discover", "--format", "json", ref)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    return doc.get("referrers") or doc.get("manifests") or []


def _check_oras(ref: str, layout: Path, out: Path) -> None:
    found = {r["artifactType"]: r for r in _discover(ref)}
    assert {"application/spdx+json", "application/vnd.fsdgimg.audit.v1+json"} <= set(found), found
    name = ref.rsplit(":", 1)[0]
    pulled = _oras("pull", "-o", out, f"{name}@{found['application/spdx+json']['digest']}")
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    def packages(path: Path) -> list:
        return sorted((p["name"], p.get("versionInfo")) for p in json.loads(path.read_text())["packages"]
                      if p["SPDXID"] != "SPDXRef-Image")
    assert packages(out / "sbom.spdx.json") == packages(layout / "fsdgimg" / "sbom.spdx.json")


def test_build_attaches_reports_that_oras_finds_on_a_registry(free_build, guix_env, tmp_path):
    # guix_env: the Guix chroot set up, with sid's oras in it.
    work, outcome, ref = free_build
    types = sorted(a["artifactType"] for a in outcome["attached"]["attachments"])
    assert types == ["application/spdx+json", "application/vnd.fsdgimg.audit.v1+json"]
    assert outcome["attached"]["signature"]["digest"] == outcome["digest"]
    _check_oras(ref, work / "layout", tmp_path)


def test_verify_a_registry_image(free_build, signing_key, tmp_path):
    _, outcome, ref = free_build
    proc = run_cli("verify", f"docker://{ref}", "--key", signing_key.with_suffix(".pub"), "--json")
    assert proc.returncode == 0, proc.stderr
    v = json.loads(proc.stdout)
    assert v["verified"] and v["digest"] == outcome["digest"]
    assert v["signatures"][0]["identity"] == ref.rsplit(":", 1)[0]
    assert v["audit"]["verdict"] == "pass" and v["audit"]["published_verdict"] == "pass"
    assert v["sbom"]["distribution"] == "debian" and v["sbom"]["packages"] > 20
    other = tmp_path / "other"
    assert run_cli("sign", "--generate-key", other).returncode == 0
    wrong = run_cli("verify", f"docker://{ref}", "--key", other.with_suffix(".pub"))
    assert wrong.returncode == 1
    failures = [line for line in wrong.stderr.splitlines() if not line.startswith("fsdgimg verify: note:")]
    assert len(failures) == 2, wrong.stderr
    assert failures[0].startswith("fsdgimg verify: signature:") and "no signature by the given keys" in failures[0]
    # nor are the attestations that key's: no SBOM to trust
    assert failures[1].endswith("no SBOM attestation signed by the given keys")


def test_verify_rebuild_reproduces_the_published_digest(free_build, signing_key):
    _, outcome, ref = free_build
    proc = run_cli("verify", f"docker://{ref}", "--rebuild", "--no-sbom", "--key", signing_key.with_suffix(".pub"),
                   "--tools", "host", "--json")
    assert proc.returncode == 0, proc.stderr
    rebuild = json.loads(proc.stdout)["rebuild"]
    assert rebuild["reproduced"] and rebuild["rebuilt"] == outcome["builds"][0] and rebuild["from"] == "lock"


def test_static_tree_attachments_signature_and_verify(free_build, signing_key, guix_env, tmp_path):
    work, outcome, _ = free_build
    tree = tmp_path / "public"
    assert run_cli("publish", f"oci:{work / 'layout'}:latest", "--to", f"static:{tree}",
                   "--name", "debian-free:bookworm").returncode == 0
    src = f"static:{tree}/debian-free:bookworm"
    with FsdgimgServe(tmp_path / "serve", tree) as server:
        host = f"127.0.0.1:{server.port}"
        # Unsigned attachments for oras; the signature, and the SBOM signed as an attestation, for verify.
        for cmd in (["sbom", src, "--attach"], ["audit", src, "--attach"],
                    ["sign", src, "--key", signing_key.with_suffix(".key"), "--identity", f"{host}/debian-free"],
                    ["attest", src, "--key", signing_key.with_suffix(".key"), "--identity", f"{host}/debian-free",
                     "--predicate", work / "layout" / "fsdgimg" / "sbom.spdx.json", "--type", "spdxjson"]):
            proc = run_cli(*cmd, env={"COSIGN_PASSWORD": KEY_PASSWORD})
            assert proc.returncode == 0, (cmd, proc.stderr)
        _check_oras(f"{host}/debian-free:bookworm", work / "layout", tmp_path / "pulled")
        for ref in (src, f"docker://{host}/debian-free:bookworm"):
            proc = run_cli("verify", ref, "--key", signing_key.with_suffix(".pub"), "--json")
            assert proc.returncode == 0, (ref, proc.stderr)
            assert json.loads(proc.stdout)["audit"]["verdict"] == "pass"


def _tree_with(tmp_path: Path, free_build) -> tuple[Path, str, dict]:
    work, outcome, _ = free_build
    tree = tmp_path / "public"
    assert run_cli("publish", f"oci:{work / 'layout'}:latest", "--to", f"static:{tree}",
                   "--name", "debian-free:bookworm").returncode == 0
    return tree, f"static:{tree}/debian-free:bookworm", outcome


def test_hostile_mirror_is_refused_in_one_line(free_build, signing_key, tmp_path):
    tree, src, outcome = _tree_with(tmp_path, free_build)
    pub = signing_key.with_suffix(".pub")
    env = {"COSIGN_PASSWORD": KEY_PASSWORD}
    # Unsigned, no SBOM: two failures, one line each.
    proc = run_cli("verify", src, "--key", pub)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 2 and "no signatures" in proc.stderr
    assert "no SBOM attestation signed by the given keys" in proc.stderr
    # A signature for another digest, moved under this image's .sig tag by the mirror.
    digest = outcome["digest"]
    assert run_cli("sign", src, "--key", signing_key.with_suffix(".key"), "--identity", "h/debian-free",
                   env=env).returncode == 0
    repo = tree / "v2" / "debian-free"
    sig_tag = repo / "_tags" / f"sha256-{digest[7:]}.sig"
    manifest = json.loads(sig_tag.read_bytes())
    payload_path = repo / "_blobs" / manifest["layers"][0]["digest"]
    forged = payload_path.read_bytes().replace(digest.encode(), b"sha256:" + b"0" * 64)
    # Signed with the right key, but over the other digest: fsdgimg signs it as cosign would.
    import os

    from fsdgimg.signature import keys as k
    os.environ["COSIGN_PASSWORD"] = KEY_PASSWORD
    sig = k.sign(k.load_private_key(signing_key.with_suffix(".key")), forged)
    _replace_signature(tree, sig_tag, forged, sig)
    proc = run_cli("verify", src, "--key", pub, "--no-sbom")
    assert proc.returncode == 1 and f"is for sha256:{'0' * 64}, not {digest}" in proc.stderr
    # A malformed signature (not base64).
    _replace_signature(tree, sig_tag, forged, None, raw="%%%not base64%%%")
    proc = run_cli("verify", src, "--key", pub, "--no-sbom")
    assert proc.returncode == 1 and "signature is not base64" in proc.stderr and proc.stderr.count("\n") == 1
    # A key file that is not a key.
    junk = tmp_path / "junk.pub"
    junk.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    proc = run_cli("verify", src, "--key", junk, "--no-sbom")
    assert proc.returncode == 1 and "not a PEM public key" in proc.stderr
    # An attachment loop: the mirror lists the image itself as its SBOM.
    referrers = repo / "_referrers" / f"{digest}.json"
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 1,
         "artifactType": "application/spdx+json"}]}
    _overwrite(referrers, json.dumps(index).encode())
    # Unsigned, it is never fetched: listed as ignored, and without a key nothing makes an SBOM trusted.
    proc = run_cli("verify", src)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1 and len(lines) == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("fsdgimg verify: note: unsigned SBOM attached as " + digest) and "ignored" in lines[0]
    assert "nothing to trust it by" in lines[1]


def test_malformed_signed_sbom_is_one_line(free_build, signing_key, tmp_path):
    tree, src, outcome = _tree_with(tmp_path, free_build)
    bad = tmp_path / "sbom.json"
    bad.write_text('{"spdxVersion": "SPDX-2.3", "packages": 7}')
    proc = run_cli("attest", src, "--key", signing_key.with_suffix(".key"), "--identity", "h/debian-free",
                   "--predicate", bad, "--type", "spdxjson", env={"COSIGN_PASSWORD": KEY_PASSWORD})
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("verify", src, "--key", signing_key.with_suffix(".pub"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert [line for line in lines if "SBOM" in line] == [
        f"fsdgimg verify: {src}: signed SBOM: SPDX document has no packages list"], lines


def _overwrite(path: Path, data: bytes) -> None:
    """A hostile mirror rewrites files in place (breaking hard links to the shared store first)."""
    path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _replace_signature(tree: Path, sig_tag: Path, payload: bytes, sig: bytes | None, raw: str | None = None):
    from fsdgimg.oci.digest import Digest
    repo = sig_tag.parent.parent
    manifest = json.loads(sig_tag.read_bytes())
    layer = manifest["layers"][0]
    layer["digest"], layer["size"] = str(Digest.of(payload)), len(payload)
    layer["annotations"]["dev.cosignproject.cosign/signature"] = raw or base64.b64encode(sig).decode()
    blob = repo / "_blobs" / layer["digest"]
    if not blob.exists():
        blob.write_bytes(payload)
    data = json.dumps(manifest).encode()
    target = repo / "_manifests" / f"{Digest.of(data)}.oci-manifest"
    target.write_bytes(data)
    sig_tag.unlink()
    sig_tag.symlink_to(f"../_manifests/{target.name}")
