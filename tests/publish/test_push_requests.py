"""How a push talks to a registry, read from the registry's own request log. go-containerregistry's
registry (tests/servers.py ReferrersRegistry) stores a blob sent whole with the upload's opening
POST (`?digest=`, the distribution spec's single-request upload): a small blob then costs one
request, where Distribution 2.8 (which answers 202 and opens an upload) costs the POST and a PUT, as
every other test here pushes. A large blob goes in PATCH chunks, which that registry answers 204.
skopeo copies what was pushed, whole (it checks every digest)."""

from __future__ import annotations

from urllib.parse import unquote

from servers import ReferrersRegistry

from fsdgimg.oci.reference import Reference
from fsdgimg.transports.read import open_source
from fsdgimg.transports.registry import push as push_module
from fsdgimg.transports.registry.client import RegistryClient, RegistryError

from .conftest import run_json


def test_small_blobs_go_in_one_request_where_the_registry_takes_it(images, skopeo, tmp_path):
    with ReferrersRegistry(tmp_path / "registry") as reg:
        tag = images.tag(images.multi)
        report = run_json("publish", images.src(images.multi), "--to", f"docker://{reg.host}/single/multi:{tag}")
        assert report["digest"] == images.digest(images.multi)
        log = [unquote(line) for line in reg.log().splitlines()]
        single = [line for line in log if line.startswith("POST /v2/single/multi/blobs/uploads/?digest=sha256:")]
        puts = [line for line in log if line.startswith("PUT /v2/single/multi/blobs/uploads/")]
        # The configs (small) went whole in their POST; every blob was sent once, by one way or the other.
        assert single and len(single) + len(puts) == report["blobs_sent"] == report["blobs_total"]
        # The index's manifest was asked about once (before the blobs), never again before its PUT.
        assert sum(1 for line in log if line.startswith(f"HEAD /v2/single/multi/manifests/{tag}")) == 1
        skopeo.copy(f"docker://{reg.host}/single/multi:{tag}", f"oci:{tmp_path / 'copy'}:x", "--all")


def test_chunked_upload_to_a_registry_that_answers_204(images, tmp_path, monkeypatch):
    monkeypatch.setattr(push_module, "MONOLITHIC_MAX", 0)
    with ReferrersRegistry(tmp_path / "registry") as reg, open_source(images.src(images.b)) as image:
        report = push_module.push(image, Reference.parse(f"{reg.host}/chunks/b:v2"), RegistryClient(reg.host),
                                  jobs=1, chunk_size=512 << 10)
        assert str(report.digest) == images.digest(images.b) and report.blobs_sent == report.blobs_total
        assert any(line.startswith("PATCH /v2/chunks/b/blobs/uploads/") for line in reg.log().splitlines())


def test_a_first_chunk_lost_resumes_from_byte_zero(images, registry, monkeypatch):
    """The first PATCH fails before the registry holds a byte: Distribution then answers the
    upload's state with `Range: 0-0`, which is an empty upload, not one byte."""
    monkeypatch.setattr(push_module, "MONOLITHIC_MAX", 0)
    real_request = RegistryClient.request
    calls = {"patch": 0}

    def flaky(self, method, path, **kw):
        if method == "PATCH":
            calls["patch"] += 1
            if calls["patch"] == 1:
                raise RegistryError("connection reset (simulated)")
        return real_request(self, method, path, **kw)

    monkeypatch.setattr(RegistryClient, "request", flaky)
    with open_source(images.src(images.b)) as image:
        report = push_module.push(image, Reference.parse(f"{registry.host}/first-chunk/b:v2"),
                                  RegistryClient(registry.host, backoff=0.01), jobs=1, chunk_size=512 << 10)
    assert str(report.digest) == images.digest(images.b)
    assert registry.manifest_digest("first-chunk/b", "v2") == images.digest(images.b)

