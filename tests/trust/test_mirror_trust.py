"""A mirror keeps the trust: `fsdgimg sync` from a signed static tree (cosign signature, OpenPGP
lookaside signature, an attached SBOM, recorded signers) to a new tree served by nginx and to a
registry. skopeo accepts the mirrored image under the `signedBy` (Debian's) and `sigstoreSigned`
(sid's) policies `fsdgimg web-config policy --mirror MIRROR=ORIGIN` prints, and refuses it without
the remap; sid's oras discovers its SBOM, sid's cosign verifies it on the registry; the mirror's
index.html names the origin's signers; a tampered mirrored signature is refused; `--no-signatures`
carries none; a second sync adds only what is new and never replaces a signature-N."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from fixtures.guixarchive import make_guix_archive
from fixtures.multiplatform import make_index_layout
from fixtures.openpgp import gpg_key
from publish.conftest import public_tree
from servers import Nginx, Registry, free_port

from .conftest import run_cli
from .sid import cosign_verify, sid, skopeo_copy
from .test_openpgp import _skopeo

ORIGIN = "images.example.org"   # where the origin publishes: the identity both signatures name
SBOM = "application/spdx+json"


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def origin(tmp_path_factory, guix_env):
    """A static tree with hello:1 signed with a cosign-format key and an OpenPGP key (identity
    images.example.org/hello), its SBOM attached; hello:2 unsigned."""
    work = tmp_path_factory.mktemp("mirror-trust")
    base = public_tree("mirror-origin")
    tree = base / "tree"
    for name, content in (("a", b"signed\n"), ("b", b"unsigned\n")):
        archive = make_guix_archive(work / f"{name}.tar.gz", files={f"etc/{name}": content}, repository="hello")
        _ok(run_cli("convert", archive, f"oci:{work / name}:1"))
    _ok(run_cli("publish", f"oci:{work / 'a'}:1", "--to", f"static:{tree}", "--name", "hello:1"))
    _ok(run_cli("publish", f"oci:{work / 'b'}:1", "--to", f"static:{tree}", "--name", "hello:2"))
    keyring = gpg_key(work / "release", "Release Key <release@example.org>")
    _ok(run_cli("sign", "--generate-key", work / "cosign", env={"COSIGN_PASSWORD": "pw"}))
    signed = json.loads(_ok(run_cli("sign", f"static:{tree}/hello:1", "--gpg-key", "release@example.org",
                                    "--gnupghome", work / "release", "--identity", f"{ORIGIN}/hello",
                                    "--json")).stdout)
    _ok(run_cli("sign", f"static:{tree}/hello:1", "--key", work / "cosign.key", "--identity", f"{ORIGIN}/hello",
                env={"COSIGN_PASSWORD": "pw"}))
    _ok(run_cli("sbom", f"static:{tree}/hello:1", "--attach"))
    yield {"tree": tree, "work": work, "keyring": keyring, "pub": work / "cosign.pub", "digest": signed["digest"],
           "fingerprint": signed["fingerprint"]}
    shutil.rmtree(base, ignore_errors=True)


def _client(work, host: str, *, keyring=None, pub=None, mirror: str | None = None, origin: str = ORIGIN,
            name: str = "policy"):
    """policy.json and registries.d as `fsdgimg web-config` prints them for a client of the mirror
    `mirror` (HOST[/PATH]) of `origin` (`--mirror MIRROR=ORIGIN`), or with `mirror=None` for a
    client that takes `host` for the origin (`--registry HOST`: no remap)."""
    which = ["--gpg-key", keyring] if keyring else ["--sigstore-key", pub]
    scope = ["--mirror", f"{mirror}={origin}"] if mirror else ["--registry", host]
    policy = work / f"{name}-{'gpg' if keyring else 'sigstore'}.json"
    policy.write_text(_ok(run_cli("web-config", "policy", *scope, *which)).stdout)
    regd = work / "registries.d"
    if not regd.exists():
        regd.mkdir()
        (regd / "default.yaml").write_text(_ok(run_cli("web-config", "registries.d", *scope)).stdout)
    return policy, regd


def _sync(*args):
    return json.loads(_ok(run_cli("sync", *args, "--json")).stdout)


def _discover(ref: str) -> list[dict]:
    proc = sid("oras", "discover", "--format", "json", ref, "--plain-http")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    return doc.get("referrers") or doc.get("manifests") or []


@pytest.mark.timeout(900)
def test_tree_to_tree_mirror_verifies_like_the_origin(origin, tmp_path):
    src, digest = origin["tree"], origin["digest"]
    base = public_tree("mirror-dest")
    try:
        mirror = base / "tree"
        report = _sync(f"static:{src}", "--to", f"static:{mirror}")
        assert report["copied"] == 2 and report["signatures"] is True
        assert report["signatures_copied"] == 1 and report["attachments_copied"] == 1
        assert report["openpgp_signatures_copied"] == 1 and report["signers_recorded"] == 3
        # cosign's tag travelled with its image, not as an image of its own
        assert sorted(i["tag"] for i in report["images"]) == ["1", "2"]
        lookaside = f"sigstore/hello@sha256={digest[7:]}/signature-1"
        assert (mirror / lookaside).read_bytes() == (src / lookaside).read_bytes()
        page = (mirror / "index.html").read_text()
        assert origin["fingerprint"] in page and "Release Key" in page and "not verified" not in page
        port = free_port()
        host = f"127.0.0.1:{port}"
        site = _ok(run_cli("web-config", "nginx", "--root", mirror, "--listen", host)).stdout
        with Nginx(tmp_path / "nginx", site, port):
            # OpenPGP signatures name the tag pulled: the whole host is remapped (remapIdentity).
            gpg_policy, regd = _client(tmp_path, host, keyring=origin["keyring"], mirror=host)
            assert json.loads(gpg_policy.read_text())["transports"]["docker"][host][0]["signedIdentity"] == \
                {"type": "remapIdentity", "prefix": host, "signedPrefix": ORIGIN}
            _ok(_skopeo(f"{host}/hello:1", tmp_path / "gpg-ok", gpg_policy, regd))
            refused = _skopeo(f"{host}/hello:2", tmp_path / "gpg-unsigned", gpg_policy, regd)
            assert refused.returncode != 0 and "rejected" in refused.stderr.lower(), refused.stderr
            # cosign's name the repository without a tag: a mirror per repository (exactRepository).
            cosign_policy, regd = _client(tmp_path, host, pub=origin["pub"], mirror=f"{host}/hello",
                                          origin=f"{ORIGIN}/hello")
            assert json.loads(cosign_policy.read_text())["transports"]["docker"][f"{host}/hello"][0][
                "signedIdentity"] == {"type": "exactRepository", "dockerRepository": f"{ORIGIN}/hello"}
            _ok(skopeo_copy(f"{host}/hello:1", tmp_path / "cosign-ok", cosign_policy, regd))
            refused = skopeo_copy(f"{host}/hello:2", tmp_path / "cosign-unsigned", cosign_policy, regd)
            assert refused.returncode != 0, refused.stderr
            # cosign's tagless identity is one remapIdentity never accepts: a whole host is refused.
            proc = run_cli("web-config", "policy", "--mirror", f"{host}={ORIGIN}", "--sigstore-key", origin["pub"])
            assert proc.returncode == 2 and not proc.stdout, proc.stdout
            [line] = proc.stderr.strip().splitlines()
            assert f"MIRROR/NAME={ORIGIN}/NAME" in line, line
            # Without the remap the client takes the mirror for the origin: the origin's signatures
            # name another repository and both kinds are refused.
            for kind, copy, key in (("gpg", _skopeo, {"keyring": origin["keyring"]}),
                                    ("sigstore", skopeo_copy, {"pub": origin["pub"]})):
                plain, regd = _client(tmp_path, host, name="plain", **key)
                refused = copy(f"{host}/hello:1", tmp_path / f"plain-{kind}", plain, regd)
                assert refused.returncode != 0 and "rejected" in refused.stderr.lower(), refused.stderr
            found = {r["artifactType"]: r for r in _discover(f"{host}/hello:1")}
            assert SBOM in found, found
            # Syncing again adds nothing.
            again = _sync(f"static:{src}", "--to", f"static:{mirror}")
            assert again["unchanged"] == 2 and again["openpgp_signatures_copied"] == 0
            assert again["signatures_copied"] == again["attachments_copied"] == again["signers_recorded"] == 0
            # A mirror that alters the signature it serves is refused.
            sig = mirror / lookaside
            data = bytearray(sig.read_bytes())
            data[len(data) // 2] ^= 0x01
            sig.write_bytes(bytes(data))
            refused = _skopeo(f"{host}/hello:1", tmp_path / "gpg-tampered", gpg_policy, regd)
            assert refused.returncode != 0, refused.stderr
        # A sync never rewrites a signature-N (the altered one stays): the origin's signature-1 and
        # its new signature-2 are added after it.
        _ok(run_cli("sign", f"static:{src}/hello:1", "--gpg-key", "release@example.org", "--gnupghome",
                    origin["work"] / "release", "--identity", f"{ORIGIN}/hello"))
        third = _sync(f"static:{src}", "--to", f"static:{mirror}")
        assert third["openpgp_signatures_copied"] == 2   # origin's signature-2, and signature-1 as it was
        assert (mirror / lookaside).read_bytes() == bytes(data)
        names = sorted(p.name for p in (mirror / lookaside).parent.iterdir())
        assert names == ["signature-1", "signature-2", "signature-3"], names
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_no_signatures_carries_none(origin):
    base = public_tree("mirror-bare")
    try:
        mirror = base / "tree"
        report = _sync(f"static:{origin['tree']}", "--to", f"static:{mirror}", "--no-signatures")
        assert report["copied"] == 2 and report["signatures"] is False
        assert not (mirror / "sigstore").exists() and not (mirror / "_web" / "signers").exists()
        assert not (mirror / "v2" / "hello" / "_referrers").exists()
        assert not [t for t in (mirror / "v2" / "hello" / "_tags").iterdir() if t.name.startswith("sha256-")]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_hostile_source_signature_refused_nothing_tagged(origin):
    """A source tree whose signature-1 is 1 MiB of junk: one line, and no tag of the mirror moves."""
    base = public_tree("mirror-hostile")
    try:
        src, mirror = base / "src", base / "mirror"
        subprocess.run(["cp", "-a", origin["tree"], src], check=True)
        sig = src / "sigstore" / f"hello@sha256={origin['digest'][7:]}" / "signature-1"
        sig.unlink()
        sig.write_bytes(b"\0" * (1 << 20))
        proc = run_cli("sync", f"static:{src}", "--to", f"static:{mirror}")
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        [line] = proc.stderr.strip().splitlines()
        assert "signature-1" in line and "not an image signature" in line, line
        assert not (mirror / "v2" / "hello" / "_tags" / "1").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_dry_run_tells_the_trust_it_would_carry(origin, tmp_path):
    """--dry-run lists, per image, the signatures and attachments a sync would carry (counts in
    text, each one in --json) and writes nothing, to a tree and to a registry; once mirrored,
    nothing is left to carry."""
    src, digest = origin["tree"], origin["digest"]
    lookaside = sorted(p.relative_to(src).as_posix()
                       for p in (src / "sigstore" / f"hello@sha256={digest[7:]}").iterdir())
    base = public_tree("mirror-dry")
    try:
        mirror = base / "tree"
        with Registry(tmp_path / "registry") as reg:
            for source, dest, openpgp in ((f"static:{src}", f"static:{mirror}", lookaside),
                                          (f"static:{src}/hello", f"docker://{reg.host}/mirror", [])):
                report = _sync(source, "--to", dest, "--dry-run")
                assert report["dry_run"] and report["copied"] == 0
                trust = {i["tag"]: i["trust"] for i in report["images"]}
                assert not trust["2"]["carried"] and trust["2"]["signatures"] == 0
                one = trust["1"]
                assert (one["signatures"], one["attachments"], one["openpgp"]) == (1, 1, len(openpgp)), one
                assert [c["tag"] for c in one["carried"] if c["kind"] == "cosign"] == [f"sha256-{digest[7:]}.sig"]
                [sbom] = [c for c in one["carried"] if c["kind"] == "attachment"]
                assert sbom["artifactType"] == SBOM and sbom["of"] == digest
                assert [c["signature"] for c in one["carried"] if c["kind"] == "openpgp"] == openpgp
                assert report["signatures_copied"] == 1 and report["attachments_copied"] == 1
                assert report["openpgp_signatures_copied"] == len(openpgp)
                assert len(report["signer_records"]) == (3 if openpgp else 0)
                text = _ok(run_cli("sync", source, "--to", dest, "--dry-run"))
                assert f"would carry 1 cosign signature image(s), 1 attachment(s), {len(openpgp)} OpenPGP " \
                       "signature(s)" in text.stdout, text.stdout
                assert text.stdout.count("would carry") == 1     # hello:2 carries nothing
            assert not mirror.exists()
            assert reg.manifest_digest("mirror", "1") is None
            assert reg.manifest_digest("mirror", f"sha256-{digest[7:]}.sig") is None
            # Mirrored: nothing left to carry.
            _sync(f"static:{src}", "--to", f"static:{mirror}")
            again = _sync(f"static:{src}", "--to", f"static:{mirror}", "--dry-run")
            assert all(not i["trust"]["carried"] for i in again["images"]) and not again["signer_records"]
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.timeout(900)
def test_tree_to_registry_mirror_verified_by_cosign_and_oras(origin, tmp_path):
    with Registry(tmp_path / "registry") as reg:
        report = _sync(f"static:{origin['tree']}/hello", "--to", f"docker://{reg.host}/hello")
        assert report["signatures_copied"] == 1 and report["attachments_copied"] == 1
        verified = _ok(cosign_verify(f"{reg.host}/hello:1", origin["pub"]))
        assert f'"docker-reference":"{ORIGIN}/hello"' in verified.stdout
        assert cosign_verify(f"{reg.host}/hello:2", origin["pub"]).returncode != 0
        found = {r["artifactType"]: r for r in _discover(f"{reg.host}/hello:1")}
        assert SBOM in found, found
        # registry to tree: the same signature and attachment arrive again
        base = public_tree("mirror-from-registry")
        try:
            back = _sync(f"docker://{reg.host}/hello", "--to", f"static:{base / 'tree'}")
            assert back["copied"] == 2 and back["signatures_copied"] == 1 and back["attachments_copied"] == 1
        finally:
            shutil.rmtree(base, ignore_errors=True)
        # The mirror signs too; the origin adds a second key's signature (the same payload): a sync
        # adds that layer to the mirror's .sig and keeps the mirror's own.
        _ok(run_cli("sign", "--generate-key", tmp_path / "mirror", env={"COSIGN_PASSWORD": "pw"}))
        _ok(run_cli("sign", f"docker://{reg.host}/hello:1", "--key", tmp_path / "mirror.key",
                    env={"COSIGN_PASSWORD": "pw"}))
        _ok(run_cli("sign", "--generate-key", tmp_path / "second", env={"COSIGN_PASSWORD": "pw"}))
        _ok(run_cli("sign", f"static:{origin['tree']}/hello:1", "--key", tmp_path / "second.key", "--identity",
                    f"{ORIGIN}/hello", env={"COSIGN_PASSWORD": "pw"}))
        again = _sync(f"static:{origin['tree']}/hello", "--to", f"docker://{reg.host}/hello")
        assert again["unchanged"] == 2 and again["signatures_copied"] == 1 and again["attachments_copied"] == 0
        for pub in (origin["pub"], tmp_path / "second.pub", tmp_path / "mirror.pub"):
            _ok(cosign_verify(f"{reg.host}/hello:1", pub))
        bare = _sync(f"static:{origin['tree']}/hello", "--to", f"docker://{reg.host}/bare", "--no-signatures")
        assert bare["copied"] == 2
        unsigned = cosign_verify(f"{reg.host}/bare:1", origin["pub"])
        assert unsigned.returncode != 0 and "no signatures found" in unsigned.stderr


def test_index_mirror_keeps_every_platform_signature(origin, tmp_path):
    """An index signed as cosign --recursive (the index and each platform's image) and with OpenPGP:
    every signature travels, and `fsdgimg verify` of the mirror checks each platform like the origin."""
    base = public_tree("mirror-index")
    try:
        src, mirror = base / "src", base / "mirror"
        make_index_layout(tmp_path / "layout", tmp_path / "rootfs")
        _ok(run_cli("publish", f"oci:{tmp_path / 'layout'}:multi", "--to", f"static:{src}", "--name", "multi:1"))
        env = {"COSIGN_PASSWORD": "pw"}
        signed = json.loads(_ok(run_cli("sign", f"static:{src}/multi:1", "--key", origin["work"] / "cosign.key",
                                        "--identity", f"{ORIGIN}/multi", "--json", env=env)).stdout)
        children = [c["digest"] for c in signed["children"]]
        assert len(children) == 2
        _ok(run_cli("sign", f"static:{src}/multi:1", "--gpg-key", "release@example.org", "--gnupghome",
                    origin["work"] / "release", "--identity", f"{ORIGIN}/multi"))
        report = _sync(f"static:{src}", "--to", f"static:{mirror}")
        assert [i["tag"] for i in report["images"]] == ["1"]
        assert report["signatures_copied"] == 3 and report["openpgp_signatures_copied"] == 3
        for digest in [signed["digest"], *children]:
            assert (mirror / "v2/multi/_tags" / f"sha256-{digest[7:]}.sig").is_symlink(), digest
            assert (mirror / "sigstore" / f"multi@sha256={digest[7:]}" / "signature-1").is_file(), digest
        out = json.loads(_ok(run_cli("verify", f"static:{mirror}/multi:1", "--key", origin["pub"], "--gpg-keyring",
                                     origin["keyring"], "--identity", f"{ORIGIN}/multi", "--no-sbom",
                                     "--json")).stdout)
        assert out["verified"] and len(out["platforms"]) == 2
        assert all(p["openpgp_signatures"][0]["fingerprint"] == origin["fingerprint"] for p in out["platforms"])
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("value", ["mirror.example.net", "=images.example.org", "mirror.example.net=",
                                   "mirror.example.net=images.example.org\n  evil: true",
                                   "a b=images.example.org", "mirror.example.net=images.example.org/../x",
                                   "images.example.org=images.example.org"])
def test_mirror_values_are_checked(value, tmp_path):
    for server in ("policy", "registries.d"):
        proc = run_cli("web-config", server, "--mirror", value, "--gpg-key", tmp_path / "k.gpg")
        assert proc.returncode == 2 and not proc.stdout and "Traceback" not in proc.stderr, proc.stderr
        [line] = proc.stderr.strip().splitlines()
        assert "--mirror" in line, line
    # a scope given twice would be two requirements for one key of policy.json
    proc = run_cli("web-config", "policy", "--registry", "m.example.net", "--mirror",
                   "m.example.net=images.example.org", "--gpg-key", tmp_path / "k.gpg")
    assert proc.returncode == 2 and "given twice" in proc.stderr, proc.stderr
