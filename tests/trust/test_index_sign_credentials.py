"""What follows the publish of a multi-platform build (fsdgimg.build.multiplatform: each platform's
reports attached to its own manifest, then the index and every child signed) uses the credentials
the index was published with — on the Distribution registry with htpasswd, with no credentials in
the environment or auth files — and `build --gpg-key` of several architectures signs every child
into a static tree's lookaside storage. The builds themselves are stood in for by a two-platform
index (tests/multiarch builds real ones): only what follows the publish is under test here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fixtures.multiplatform import make_index_layout
from servers import Registry

from .conftest import run_cli
from .test_index_sign import _children

USER, PASSWORD = "release", "s3cret-pw"


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _no_credentials(tmp_path, monkeypatch) -> None:
    """No auth file anywhere a registry client looks (set once the registry runs: it reads REGISTRY_*
    variables as its own configuration)."""
    for var in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")


def _outcomes(layout, children: dict[str, str]) -> dict:
    """platform -> the per-platform build outcome (only its digest is read after the publish)."""
    from fsdgimg.build.pipeline import BuildOutcome
    return {plat: BuildOutcome("multi", layout, plat, digest, [digest], None) for plat, digest in children.items()}


def test_index_build_published_to_an_authenticated_registry_signs_with_its_credentials(tmp_path, monkeypatch):
    from fsdgimg.build.multiplatform import _attach_and_sign
    from fsdgimg.build.pipeline import BuildOptions
    from fsdgimg.errors import FsdgimgError
    from fsdgimg.signature import artifacts
    from fsdgimg.transports.options import RegistryOptions, WriteOptions
    make_index_layout(tmp_path / "a", tmp_path / "rootfs")
    children = _children(tmp_path / "a")
    _ok(run_cli("sign", "--generate-key", tmp_path / "fsdg", env={"COSIGN_PASSWORD": "pw"}))
    with Registry(tmp_path / "registry", users={USER: PASSWORD}) as reg:
        _no_credentials(tmp_path, monkeypatch)
        ref = f"docker://{reg.host}/multi:1"
        _ok(subprocess.run([sys.executable, "-m", "fsdgimg", "publish", f"oci:{tmp_path / 'a'}:multi", "--to", ref,
                            "--username", USER, "--password-stdin"], input=PASSWORD + "\n", capture_output=True,
                           text=True, timeout=300))
        per = _outcomes(tmp_path / "a", children)
        sbom = artifacts.Attachment(artifacts.SBOM_TYPE, b'{"spdxVersion": "SPDX-2.3"}', "sbom.spdx.json")
        from fsdgimg.trust.publishing import Reports
        kept = {"linux/arm64": Reports([sbom], None, [("https://spdx.dev/Document", {"spdxVersion": "SPDX-2.3"})])}
        published = WriteOptions(registry=RegistryOptions(USER, PASSWORD))
        opts = BuildOptions(out=tmp_path / "out", sign_key=tmp_path / "fsdg.key", write_options=published)
        # The environment has no credentials: signing with them is refused, by the registry.
        with pytest.raises(FsdgimgError, match="authentication required"):
            _attach_and_sign(ref, per, kept, BuildOptions(out=tmp_path / "out", sign_key=tmp_path / "fsdg.key"))
        out = _attach_and_sign(ref, per, kept, opts)
        signature = out["signature"]
        assert {c["platform"]: c["digest"] for c in signature["children"]} == children
        assert [a["artifactType"] for a in out["platforms"]["linux/arm64"]["attachments"]] == [artifacts.SBOM_TYPE]
        # its attestation too, with the same credentials, about the arm64 manifest
        [attested] = out["platforms"]["linux/arm64"]["attestations"]
        assert attested["digest"] == children["linux/arm64"]
        assert reg.manifest_digest("multi", f"sha256-{attested['digest'][7:]}.att", auth=(USER, PASSWORD)) is not None
        for digest in [signature["digest"], *children.values()]:
            assert reg.manifest_digest("multi", f"sha256-{digest[7:]}.sig", auth=(USER, PASSWORD)) is not None
        verified = json.loads(_ok(run_cli("verify", ref, "--key", tmp_path / "fsdg.pub", "--no-sbom", "--json",
                                          "--src-creds", f"{USER}:{PASSWORD}")).stdout)
        assert verified["verified"] and len(verified["platforms"]) == 2


def test_build_options_for_a_registry_only_with_a_registry(tmp_path):
    proc = run_cli("build", "guix-hello", "--publish", f"static:{tmp_path}", "--username", USER)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--publish docker://" in proc.stderr
