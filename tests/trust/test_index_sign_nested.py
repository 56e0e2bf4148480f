"""`fsdgimg verify` of nested indexes walks the tree `sign` signs (cosign's --recursive walk, with
its bounds): every image manifest's signature and every index's own, on the Distribution
registry. A nested child left unsigned is one line naming its path, exit 1."""

from __future__ import annotations

import json
import urllib.request

import pytest
from fixtures.multiplatform import make_index_layout
from servers import Registry

from .conftest import run_cli

ENV = {"COSIGN_PASSWORD": "pw"}
INDEX = "application/vnd.oci.image.index.v1+json"


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """A (amd64, arm64), B (other bits) and T: A's amd64 beside B's arm64; a key pair."""
    work = tmp_path_factory.mktemp("nested")
    make_index_layout(work / "a", work / "rootfs-a")
    make_index_layout(work / "b", work / "rootfs-b", marker=" other")
    _ok(run_cli("index", f"oci:{work / 'a'}:amd64", f"oci:{work / 'b'}:arm64", "--to", f"oci:{work / 't'}:multi"))
    _ok(run_cli("sign", "--generate-key", work / "k", env=ENV))
    return work


def _put_index(reg: Registry, tag: str, children: list[str]) -> str:
    """An OCI index listing the indexes `children` (digests in repository multi), pushed as `tag`."""
    manifests = []
    for digest in children:
        with urllib.request.urlopen(urllib.request.Request(
                f"http://{reg.host}/v2/multi/manifests/{digest}", headers={"Accept": INDEX}), timeout=10) as r:
            manifests.append({"mediaType": INDEX, "digest": digest, "size": len(r.read())})
    data = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}).encode()
    req = urllib.request.Request(f"http://{reg.host}/v2/multi/manifests/{tag}", data=data, method="PUT",
                                 headers={"Content-Type": INDEX})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["Docker-Content-Digest"]


def test_verify_walks_nested_indexes(layouts, tmp_path):
    work = layouts
    key, pub = work / "k.key", work / "k.pub"
    with Registry(tmp_path / "registry") as reg:
        ref = f"docker://{reg.host}/multi"
        _ok(run_cli("publish", f"oci:{work / 'a'}:multi", "--to", f"{ref}:a"))
        _ok(run_cli("publish", f"oci:{work / 't'}:multi", "--to", f"{ref}:t"))
        inner_a, inner_t = reg.manifest_digest("multi", "a"), reg.manifest_digest("multi", "t")
        nested = _put_index(reg, "nested", [inner_a])
        signed = json.loads(_ok(run_cli("sign", f"{ref}:nested", "--key", key, "--json", env=ENV)).stdout)
        assert signed["digest"] == nested and signed["children"][-1]["digest"] == inner_a
        # Signed recursively: the outer index, the nested one and both images verify; --json lists each.
        v = json.loads(_ok(run_cli("verify", f"{ref}:nested", "--key", pub, "--no-sbom", "--json")).stdout)
        short = f"index {inner_a[:19]}"
        assert v["verified"] and v["signatures"]
        assert [(c["platform"], c.get("index", False)) for c in v["platforms"]] == [
            (f"{short} > linux/amd64", False), (f"{short} > linux/arm64", False), (short, True)]
        assert all(c["signatures"] and c["verified"] for c in v["platforms"])
        text = _ok(run_cli("verify", f"{ref}:nested", "--key", pub, "--no-sbom")).stdout
        assert "2 platforms checked, 1 nested index" in text
        # T alone (not its children): its amd64 image is A's (signed above), its arm64 image is B's,
        # never signed — the one failure, named by its path.
        _ok(run_cli("sign", f"{ref}:t", "--key", key, "--no-recursive", env=ENV))
        mixed = _put_index(reg, "mixed", [inner_t])
        _ok(run_cli("sign", f"{ref}@{mixed}", "--key", key, "--no-recursive", env=ENV))
        proc = run_cli("verify", f"{ref}:mixed", "--key", pub, "--no-sbom")
        lines = proc.stderr.splitlines()
        assert proc.returncode == 1 and len(lines) == 1, proc.stdout + proc.stderr
        assert lines[0].startswith(f"fsdgimg verify: index {inner_t[:19]} > linux/arm64: signature:"), lines
        assert "no signatures" in lines[0]
        v = json.loads(run_cli("verify", f"{ref}:mixed", "--key", pub, "--no-sbom", "--json").stdout)
        assert not v["verified"] and len(v["platforms"]) == 3 and v["failures"] == [lines[0][len("fsdgimg verify: "):]]
        # --platform picks the images of the tree; the nested indexes are checked all the same.
        one = json.loads(_ok(run_cli("verify", f"{ref}:mixed", "--key", pub, "--no-sbom", "--json",
                                     "--platform", "linux/amd64")).stdout)
        assert [c["platform"] for c in one["platforms"]] == [f"index {inner_t[:19]} > linux/amd64",
                                                             f"index {inner_t[:19]}"]
