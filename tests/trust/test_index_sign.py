"""Multi-platform indexes signed as `cosign sign --recursive` signs them (the index and every
platform's image), checked by the real clients from Debian sid: cosign verifies the index and a
child by digest; skopeo (`copy --all`, and one platform with --override-arch) and podman
(`pull --platform linux/arm64`) with a sigstoreSigned policy accept the signed index and refuse an
unsigned index, a wrong key and a tampered child — on the Distribution registry and on a static
tree served by `fsdgimg serve`. `fsdgimg verify` of an index checks the same, per platform."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fixtures.multiplatform import make_index_layout
from servers import FsdgimgServe, Registry

from .conftest import run_cli
from .sid import cosign_verify, podman_pull, sid

PASSWORD = {"COSIGN_PASSWORD": "s3cret"}


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _refused(proc):
    assert proc.returncode != 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, guix_env):
    """Index A (to sign) and index B (other bits, left unsigned), each of linux/amd64 and
    linux/arm64; T, A's index with its arm64 image swapped for B's (a tampered child); a key pair
    made by fsdgimg and one made by cosign (the wrong key)."""
    work = tmp_path_factory.mktemp("index-sign")
    make_index_layout(work / "a", work / "rootfs-a")
    make_index_layout(work / "b", work / "rootfs-b", marker=" other")
    _ok(run_cli("index", f"oci:{work / 'a'}:amd64", f"oci:{work / 'b'}:arm64", "--to", f"oci:{work / 't'}:multi"))
    _ok(run_cli("sign", "--generate-key", work / "fsdg", env=PASSWORD))
    (work / "cosign").mkdir()
    _ok(sid("sh", "-c", f"cd {work / 'cosign'} && cosign generate-key-pair", env={"COSIGN_PASSWORD": "pw"}))
    return work


def _children(layout: Path) -> dict[str, str]:
    """platform -> digest of the index tagged 'multi' in an OCI layout."""
    index_json = json.loads((layout / "index.json").read_text())
    [desc] = [d for d in index_json["manifests"]
              if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == "multi"]
    index = json.loads((layout / "blobs" / "sha256" / desc["digest"][7:]).read_text())
    return {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"] for m in index["manifests"]}


def _policy(work: Path, host: str, pub: Path) -> tuple[Path, Path]:
    """What `fsdgimg web-config` emits: policy.json (sigstoreSigned) and registries.d."""
    policy = work / f"policy-{host.replace(':', '-')}-{pub.parent.name}-{pub.stem}.json"
    policy.write_text(_ok(run_cli("web-config", "policy", "--registry", host, "--sigstore-key", pub)).stdout)
    regd = work / f"registries.d-{host.replace(':', '-')}"
    regd.mkdir(exist_ok=True)
    (regd / "default.yaml").write_text(_ok(run_cli("web-config", "registries.d", "--registry", host)).stdout)
    return policy, regd


def _skopeo(ref: str, dest: Path, policy: Path, regd: Path, *how: str):
    """sid's skopeo: `copy --all` or `--override-arch ARCH copy` of REF under a policy."""
    arch = [a for a in how if a != "--all"]
    return sid("skopeo", "--policy", policy, "--registries.d", regd, *(["--override-arch", *arch] if arch else []),
               "copy", *(["--all"] if "--all" in how else []), "--remove-signatures", "--src-tls-verify=false",
               f"docker://{ref}", f"oci:{dest}")


def _rejected(proc) -> None:
    _refused(proc)
    err = proc.stderr.lower()
    assert "rejected" in err or "signature" in err or "digest" in err, proc.stderr


def _check_clients(work: Path, host: str, tmp: Path, *, signed: str, unsigned: str, arm64: str) -> None:
    """The signed index passes cosign (index, and its arm64 child by digest), skopeo (all, and arm64)
    and podman (linux/arm64); the unsigned index and a wrong key are refused by each."""
    good, wrong = work / "fsdg.pub", work / "cosign" / "cosign.pub"
    name = signed.rsplit(":", 1)[0]
    verified = _ok(cosign_verify(signed, good))
    assert f'"docker-reference":"{name}"' in verified.stdout
    _ok(cosign_verify(f"{name}@{arm64}", good))
    assert _refused(cosign_verify(signed, wrong))
    assert "no signatures found" in _refused(cosign_verify(unsigned, good)).stderr
    policy, regd = _policy(work, host, good)
    wrong_policy, _ = _policy(work, host, wrong)
    _ok(_skopeo(signed, tmp / "all", policy, regd, "--all"))
    assert len(json.loads((tmp / "all" / "index.json").read_text())["manifests"]) == 1
    _ok(_skopeo(signed, tmp / "arm64", policy, regd, "arm64"))
    [desc] = json.loads((tmp / "arm64" / "index.json").read_text())["manifests"]
    assert desc["digest"] == arm64
    _ok(podman_pull(signed, tmp / "podman-signed", policy, regd, "linux/arm64"))
    for ref, pol, what in ((unsigned, policy, "unsigned"), (signed, wrong_policy, "wrong-key")):
        _rejected(_skopeo(ref, tmp / f"all-{what}", pol, regd, "--all"))
        _rejected(_skopeo(ref, tmp / f"arm64-{what}", pol, regd, "arm64"))
        _rejected(podman_pull(ref, tmp / f"podman-{what}", pol, regd, "linux/arm64"))


def _check_tampered(work: Path, host: str, tmp: Path, ref: str, *, cosign: bool) -> None:
    """REF now serves an index whose arm64 image is not the signed one: every client refuses it.
    (cosign verifies the signatures of a digest without fetching its manifest: it has a say only
    when the tag itself moved.)"""
    policy, regd = _policy(work, host, work / "fsdg.pub")
    if cosign:
        _refused(cosign_verify(ref, work / "fsdg.pub"))
    _rejected(_skopeo(ref, tmp / "all-tampered", policy, regd, "--all"))
    _rejected(_skopeo(ref, tmp / "arm64-tampered", policy, regd, "arm64"))
    _rejected(podman_pull(ref, tmp / "podman-tampered", policy, regd, "linux/arm64"))


def test_signed_index_on_a_registry_checked_by_cosign_skopeo_and_podman(indexes, tmp_path):
    work = indexes
    children = _children(work / "a")
    with Registry(tmp_path / "registry") as reg:
        ref = f"docker://{reg.host}/multi"
        out = json.loads(_ok(run_cli("publish", f"oci:{work / 'a'}:multi", "--to", f"{ref}:1", "--sign-key",
                                     work / "fsdg.key", "--json", env=PASSWORD)).stdout)["signature"]
        assert {c["platform"]: c["digest"] for c in out["children"]} == children
        for digest in [out["digest"], *children.values()]:
            assert reg.manifest_digest("multi", f"sha256-{digest[7:]}.sig") is not None
        _ok(run_cli("publish", f"oci:{work / 'b'}:multi", "--to", f"{ref}:unsigned"))
        _check_clients(work, reg.host, tmp_path, signed=f"{reg.host}/multi:1", unsigned=f"{reg.host}/multi:unsigned",
                       arm64=children["linux/arm64"])
        # fsdgimg verify: the index and each child, one line per failure.
        v = json.loads(_ok(run_cli("verify", f"{ref}:1", "--key", work / "fsdg.pub", "--no-sbom", "--json")).stdout)
        assert v["verified"] and [c["platform"] for c in v["platforms"]] == ["linux/amd64", "linux/arm64"]
        assert all(c["signatures"] and c["digest"] == children[c["platform"]] for c in v["platforms"])
        one = json.loads(_ok(run_cli("verify", f"{ref}:1", "--key", work / "fsdg.pub", "--no-sbom", "--json",
                                     "--platform", "linux/arm64")).stdout)
        assert [c["digest"] for c in one["platforms"]] == [children["linux/arm64"]] and one["signatures"]
        # Tampered: the tag moved to an index whose arm64 child is other bits.
        _ok(run_cli("publish", f"oci:{work / 't'}:multi", "--to", f"{ref}:1"))
        _check_tampered(work, reg.host, tmp_path, f"{reg.host}/multi:1", cosign=True)
        proc = run_cli("verify", f"{ref}:1", "--key", work / "fsdg.pub", "--no-sbom")
        lines = proc.stderr.splitlines()
        assert proc.returncode == 1 and len(lines) == 2, proc.stderr
        assert lines[0].startswith("fsdgimg verify: index signature:") and "no signatures" in lines[0]
        assert lines[1].startswith("fsdgimg verify: linux/arm64: signature:") and "no signatures" in lines[1]


def test_signed_index_in_a_static_tree_checked_by_cosign_skopeo_and_podman(indexes, tmp_path):
    work, tree = indexes, tmp_path / "public"
    children = _children(work / "a")
    _ok(run_cli("publish", f"oci:{work / 'a'}:multi", "--to", f"static:{tree}", "--name", "multi:1"))
    _ok(run_cli("publish", f"oci:{work / 'b'}:multi", "--to", f"static:{tree}", "--name", "multi:unsigned"))
    with FsdgimgServe(tmp_path / "serve", tree) as server:
        host = f"127.0.0.1:{server.port}"
        # --no-recursive signs the index alone (cosign's default): a client pulling one platform refuses it.
        only = json.loads(_ok(run_cli("sign", f"static:{tree}/multi:1", "--key", work / "fsdg.key", "--identity",
                                      f"{host}/multi", "--no-recursive", "--json", env=PASSWORD)).stdout)
        assert "children" not in only
        policy, regd = _policy(work, host, work / "fsdg.pub")
        _ok(cosign_verify(f"{host}/multi:1", work / "fsdg.pub"))
        _rejected(_skopeo(f"{host}/multi:1", tmp_path / "index-only", policy, regd, "arm64"))
        signed = _ok(run_cli("sign", f"static:{tree}/multi:1", "--key", work / "fsdg.key", "--identity",
                             f"{host}/multi", env=PASSWORD)).stdout
        assert "linux/arm64: " + children["linux/arm64"] in signed
        _check_clients(work, host, tmp_path, signed=f"{host}/multi:1", unsigned=f"{host}/multi:unsigned",
                       arm64=children["linux/arm64"])
        # Tampered in place: the mirror serves other bytes for the arm64 child's digest.
        arm64 = children["linux/arm64"]
        [path] = (tree / "v2" / "multi" / "_manifests").glob(f"{arm64}.*")
        other = _children(work / "b")["linux/arm64"]
        path.unlink()
        shutil.copyfile(work / "b" / "blobs" / "sha256" / other[7:], path)
        _check_tampered(work, host, tmp_path, f"{host}/multi:1", cosign=False)
        proc = run_cli("verify", f"static:{tree}/multi:1", "--key", work / "fsdg.pub", "--no-sbom")
        [line] = proc.stderr.splitlines()
        assert proc.returncode == 1 and "linux/arm64" in line and "does not match its digest" in line, proc.stderr
