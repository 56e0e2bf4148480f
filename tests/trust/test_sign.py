"""Signatures in cosign's format, checked by the real clients: Debian sid's cosign (offline) and
skopeo with a sigstoreSigned policy. In every case the client accepts the signed image and refuses
a tampered one, a wrong key and an unsigned tag; keys made by cosign sign with fsdgimg too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.guixarchive import make_guix_archive
from servers import FsdgimgServe, Registry

from .conftest import run_cli
from .sid import cosign_verify, sid, skopeo_copy


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def images(tmp_path_factory, guix_env):
    """Two different OCI layouts (A to sign, B left unsigned), a key pair made by fsdgimg and one
    made by cosign (the wrong key, and a cosign key file fsdgimg must read)."""
    work = tmp_path_factory.mktemp("sign")
    for name, content in (("a", b"signed\n"), ("b", b"unsigned\n")):
        archive = make_guix_archive(work / f"{name}.tar.gz", files={f"etc/{name}": content}, repository="hello")
        _ok(run_cli("convert", archive, f"oci:{work / name}:1"))
    _ok(run_cli("sign", "--generate-key", work / "fsdg", env={"COSIGN_PASSWORD": "s3cret"}))
    (work / "cosign").mkdir()
    _ok(sid("sh", "-c", f"cd {work / 'cosign'} && cosign generate-key-pair", env={"COSIGN_PASSWORD": "pw"}))
    return work


def _policy(work: Path, host: str, pub: Path) -> tuple[Path, Path]:
    """What `fsdgimg web-config policy` and `registries.d` emit for the official registry."""
    policy = work / f"policy-{pub.parent.name}-{pub.stem}.json"
    policy.write_bytes(_ok(run_cli("web-config", "policy", "--registry", host, "--sigstore-key", pub)).stdout.encode())
    assert json.loads(policy.read_text())["transports"]["docker"][host][0]["type"] == "sigstoreSigned"
    regd = work / "registries.d"
    regd.mkdir(exist_ok=True)
    (regd / "default.yaml").write_text(_ok(run_cli("web-config", "registries.d", "--registry", host)).stdout)
    return policy, regd


def _check_clients(work: Path, host: str, out: Path):
    """Signed A passes; a wrong key, an unsigned tag (B) fail, for cosign and skopeo."""
    good, wrong = work / "fsdg.pub", work / "cosign" / "cosign.pub"
    verified = _ok(cosign_verify(f"{host}/hello:1", good))
    assert '"docker-reference":"' + host + '/hello"' in verified.stdout
    assert cosign_verify(f"{host}/hello:1", wrong).returncode != 0
    unsigned = cosign_verify(f"{host}/hello:unsigned", good)
    assert unsigned.returncode != 0 and "no signatures found" in unsigned.stderr
    policy, regd = _policy(work, host, good)
    _ok(skopeo_copy(f"{host}/hello:1", out / "copy-signed", policy, regd))
    refused = skopeo_copy(f"{host}/hello:unsigned", out / "copy-unsigned", policy, regd)
    assert refused.returncode != 0 and "rejected" in refused.stderr.lower(), refused.stderr
    wrong_policy, _ = _policy(work, host, wrong)
    refused = skopeo_copy(f"{host}/hello:1", out / "copy-wrong", wrong_policy, regd)
    assert refused.returncode != 0 and "rejected" in refused.stderr.lower(), refused.stderr


def test_registry_signatures_checked_by_cosign_and_skopeo(images, tmp_path):
    work = images
    with Registry(tmp_path / "registry") as reg:
        ref = f"docker://{reg.host}/hello"
        # publish --sign-key: pushed and signed in one command.
        published = json.loads(_ok(run_cli("publish", f"oci:{work / 'a'}:1", "--to", f"{ref}:1", "--sign-key",
                                           work / "fsdg.key", "--json", env={"COSIGN_PASSWORD": "s3cret"})).stdout)
        signed = published["signature"]
        assert signed["signature"].endswith(f"/hello:sha256-{signed['digest'][7:]}.sig")
        _ok(run_cli("publish", f"oci:{work / 'b'}:1", "--to", f"{ref}:unsigned"))
        _check_clients(work, reg.host, tmp_path)
        # A second key (cosign's own encrypted key file) adds a signature; both verify.
        twice = json.loads(_ok(run_cli("sign", f"{ref}:1", "--key", work / "cosign" / "cosign.key", "--json",
                                       env={"COSIGN_PASSWORD": "pw"})).stdout)
        assert twice["signatures"] == 2
        _ok(cosign_verify(f"{reg.host}/hello:1", work / "cosign" / "cosign.pub"))
        _ok(cosign_verify(f"{reg.host}/hello:1", work / "fsdg.pub"))
        # Tampered: the tag now serves other bits; the signatures are for the signed digest only.
        _ok(run_cli("publish", f"oci:{work / 'b'}:1", "--to", f"{ref}:1"))
        assert cosign_verify(f"{reg.host}/hello:1", work / "fsdg.pub").returncode != 0
        policy, regd = _policy(work, reg.host, work / "fsdg.pub")
        refused = skopeo_copy(f"{reg.host}/hello:1", tmp_path / "copy-tampered", policy, regd)
        assert refused.returncode != 0 and "rejected" in refused.stderr.lower(), refused.stderr


def test_static_tree_signatures_checked_by_cosign_and_skopeo(images, tmp_path):
    work, tree = images, tmp_path / "public"
    _ok(run_cli("publish", f"oci:{work / 'a'}:1", "--to", f"static:{tree}", "--name", "hello:1"))
    _ok(run_cli("publish", f"oci:{work / 'b'}:1", "--to", f"static:{tree}", "--name", "hello:unsigned"))
    with FsdgimgServe(tmp_path / "serve", tree) as server:
        host = f"127.0.0.1:{server.port}"
        missing = run_cli("sign", f"static:{tree}/hello:1", "--key", work / "fsdg.key")
        assert missing.returncode == 2 and "--identity" in missing.stderr
        _ok(run_cli("sign", f"static:{tree}/hello:1", "--key", work / "fsdg.key", "--identity", f"{host}/hello",
                    env={"COSIGN_PASSWORD": "s3cret"}))
        _check_clients(work, host, tmp_path)
        # Tampered tree: the tag re-pointed at other bits is refused.
        _ok(run_cli("publish", f"oci:{work / 'b'}:1", "--to", f"static:{tree}", "--name", "hello:1"))
        assert cosign_verify(f"{host}/hello:1", work / "fsdg.pub").returncode != 0


def test_bad_keys_are_one_line(images, tmp_path):
    work = images
    not_a_key = tmp_path / "notakey.pem"
    not_a_key.write_text("hello\n")
    (tmp_path / "v2").mkdir()
    proc = run_cli("sign", f"static:{tmp_path}/x:1", "--key", not_a_key, "--identity", "h/x")
    assert proc.returncode == 1 and "not a private key" in proc.stderr and "Traceback" not in proc.stderr
    wrong_pw = run_cli("sign", f"static:{tmp_path}/x:1", "--key", work / "fsdg.key", "--identity", "h/x",
                       env={"COSIGN_PASSWORD": "nope"})
    assert wrong_pw.returncode == 1 and "wrong password" in wrong_pw.stderr
    assert wrong_pw.stderr.count("\n") == 1
    again = run_cli("sign", "--generate-key", work / "fsdg")
    assert again.returncode == 1 and "not overwriting" in again.stderr
