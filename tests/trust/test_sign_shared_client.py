"""A publish followed by attachments and a signature in the same process (build --publish,
publish --sign-key) goes through one registry client: /v2/ is probed once, and what was pushed
verifies. A client shared for one repository is never used for another (its credentials were found
for that registry and namespace)."""

from __future__ import annotations

from pathlib import Path

from fixtures.guixarchive import make_guix_archive
from servers import Registry

from fsdgimg.signature import artifacts
from fsdgimg.transports.options import RegistryOptions, WriteOptions
from fsdgimg.transports.read import open_source
from fsdgimg.transports.registry.client import RegistryClient
from fsdgimg.transports.registry.connect import sharing
from fsdgimg.transports.write import write
from fsdgimg.trust.publishing import after_publish
from fsdgimg.trust.remote import target

from .conftest import run_cli

PASSWORD = "shared-pw"


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_publish_attach_sign_probe_the_registry_once(tmp_path: Path, monkeypatch, guix_env):
    archive = make_guix_archive(tmp_path / "a.tar.gz", files={"etc/a": b"shared\n"}, repository="hello")
    _ok(run_cli("convert", archive, f"oci:{tmp_path / 'layout'}:1"))
    _ok(run_cli("sign", "--generate-key", tmp_path / "k", env={"COSIGN_PASSWORD": PASSWORD}))
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    pings = []
    real_ping = RegistryClient._ping

    def counted(self):
        pings.append(self.registry)
        return real_ping(self)

    monkeypatch.setattr(RegistryClient, "_ping", counted)
    with Registry(tmp_path / "registry") as reg:
        dest = f"docker://{reg.host}/hello:1"
        registry = sharing(RegistryOptions(), dest)
        with open_source(f"oci:{tmp_path / 'layout'}:1") as image:
            written = write(image, dest, WriteOptions(registry=registry))
        report = artifacts.Attachment(artifacts.AUDIT_TYPE, b'{"verdict":"pass"}\n', "audit.json", "pass")
        out = after_publish(dest, attachments=[report], sign_key=tmp_path / "k.key", registry=registry)
        assert pings == [reg.host]
        assert out["signature"]["digest"] == written.digest and len(out["attachments"]) == 1
        verified = _ok(run_cli("verify", dest, "--key", tmp_path / "k.pub", "--no-sbom",
                               "--json"))
        assert written.digest in verified.stdout


def test_a_shared_client_serves_its_own_registry_only():
    registry = sharing(RegistryOptions(), "docker://127.0.0.1:1/a/b:1")  # no request is made here
    assert registry.client.registry == "127.0.0.1:1"
    assert target("docker://127.0.0.1:1/a/b:2", options=registry).client() is registry.client
    # Another repository of the same registry: credentials may be per namespace, so not shared.
    assert target("docker://127.0.0.1:1/a/c:2", options=registry).client() is not registry.client
    other = target("docker://127.0.0.2:1/a/b:1", options=registry).client()
    assert other is not registry.client and other.registry == "127.0.0.2:1"
    assert sharing(registry, "docker://127.0.0.2:1/a/b:1") is registry   # keeps the client it has
    assert sharing(RegistryOptions(), "oci:/tmp/x:1").client is None
