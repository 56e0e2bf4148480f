"""OpenPGP signatures (containers simple signing) with lookaside storage served by nginx, checked by
skopeo under the `signedBy` policy `fsdgimg web-config policy --gpg-key` emits: the signed image
passes; an unsigned tag, a wrong keyring and a tampered tag are refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fixtures.guixarchive import make_guix_archive
from fixtures.openpgp import gpg_key
from publish.conftest import public_dir  # noqa: F401  (a fixture)
from servers import Nginx, Registry, free_port

from .conftest import run_cli


def _skopeo(ref: str, dest: Path, policy: Path, regd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["skopeo", "--policy", str(policy), "--registries.d", str(regd), "copy",
                           "--remove-signatures", "--src-tls-verify=false", f"docker://{ref}", f"oci:{dest}"],
                          capture_output=True, text=True, timeout=300)


def _policy(tmp: Path, host: str, keyring: Path, lookaside: str) -> tuple[Path, Path]:
    policy = tmp / f"policy-{keyring.stem}.json"
    proc = run_cli("web-config", "policy", "--registry", host, "--gpg-key", keyring)
    assert proc.returncode == 0, proc.stderr
    policy.write_text(proc.stdout)
    assert json.loads(proc.stdout)["transports"]["docker"][host][0]["type"] == "signedBy"
    regd = tmp / "registries.d"
    regd.mkdir(exist_ok=True)
    proc = run_cli("web-config", "registries.d", "--registry", host, "--lookaside", lookaside)
    assert proc.returncode == 0, proc.stderr
    (regd / "default.yaml").write_text(proc.stdout)
    return policy, regd


@pytest.mark.timeout(600)
def test_openpgp_signatures_checked_by_skopeo(tmp_path, public_dir):
    for name, content in (("a", b"signed\n"), ("b", b"unsigned\n")):
        archive = make_guix_archive(tmp_path / f"{name}.tar.gz", files={f"etc/{name}": content},
                                    repository="hello")
        assert run_cli("convert", archive, f"oci:{tmp_path / name}:1").returncode == 0
    keyring = gpg_key(tmp_path / "release", "Release Key <release@example.org>")
    wrong = gpg_key(tmp_path / "other", "Other Key <other@example.org>")
    lookaside = public_dir / "lookaside"      # nginx's workers (nobody) must read it
    port = free_port()
    server = f"server {{\n  listen 127.0.0.1:{port};\n  root {lookaside};\n  location = /v2/ {{ return 200; }}\n}}\n"
    with Registry(tmp_path / "registry") as reg, Nginx(tmp_path / "nginx", server, port):
        ref = f"docker://{reg.host}/hello"
        assert run_cli("publish", f"oci:{tmp_path / 'a'}:1", "--to", f"{ref}:1").returncode == 0
        assert run_cli("publish", f"oci:{tmp_path / 'b'}:1", "--to", f"{ref}:unsigned").returncode == 0
        proc = run_cli("sign", f"{ref}:1", "--gpg-key", "release@example.org", "--lookaside", lookaside,
                       "--gnupghome", tmp_path / "release", "--json")
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["signature"].endswith(f"/hello@sha256={out['digest'][7:]}/signature-1")
        policy, regd = _policy(tmp_path, reg.host, keyring, f"http://127.0.0.1:{port}")
        ok = _skopeo(f"{reg.host}/hello:1", tmp_path / "c1", policy, regd)
        assert ok.returncode == 0, ok.stderr
        for tag, pol in (("unsigned", policy), ("1", _policy(tmp_path, reg.host, wrong, f"http://127.0.0.1:{port}")[0])):
            refused = _skopeo(f"{reg.host}/hello:{tag}", tmp_path / f"c-{tag}", pol, regd)
            assert refused.returncode != 0 and "rejected" in refused.stderr.lower(), refused.stderr
        assert run_cli("publish", f"oci:{tmp_path / 'b'}:1", "--to", f"{ref}:1").returncode == 0
        refused = _skopeo(f"{reg.host}/hello:1", tmp_path / "c-tampered", policy, regd)
        assert refused.returncode != 0 and "rejected" in refused.stderr.lower(), refused.stderr
