"""What docker, podman and skopeo print when a static tree lacks what they ask for, or when they try
to push to it: the distribution API's error message, never a JSON parse error or an HTML page."""

from __future__ import annotations

import os
import shutil

import pytest
from servers import Dockerd, have

from static.conftest import SERVERS, fetch, public_tree, publish, start

# what each client may print: the registry's message, or (skopeo and podman 4.3 do not read the body
# of a failed blob GET) the status with the blob's digest in the same line
MESSAGES = {"tag": ("manifest unknown to this registry",), "repository": ("repository name not known",),
            "blob": ("blob unknown to this registry", "404 (Not Found)", "unknown blob"), "push": ("read-only static tree",)}
GARBAGE = ("invalid character", "<html", "<!DOCTYPE", "error parsing HTTP")


@pytest.fixture(scope="module")
def broken_tree(images):
    """static/a:v1 with one layer missing from the tree (as a mirror caught mid-copy would have it)."""
    base = public_tree("client-errors")
    tree = base / "tree"
    publish(images, images.a, tree, "static/a")
    import json
    manifest = json.loads((images.a / "blobs" / "sha256" / images.digest(images.a)[7:]).read_bytes())
    layer = manifest["layers"][0]["digest"]
    os.unlink(tree / "v2" / "static" / "a" / "_blobs" / layer)
    yield tree
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def dockerd(tmp_path_factory):
    if not have("dockerd", "docker"):
        pytest.skip("docker.io is not installed")
    # 127.0.0.0/8 is an insecure (plain HTTP) registry range for dockerd by default
    with Dockerd(tmp_path_factory.mktemp("dockerd")) as d:
        yield d


def _check(output: str, what: str, client: str):
    assert any(m in output for m in MESSAGES[what]), f"{client}, {what}: {output}"
    assert not any(g in output for g in GARBAGE), f"{client}, {what}: {output}"


@pytest.mark.parametrize("kind", SERVERS)
def test_skopeo_podman_and_docker_print_the_registry_error(kind, broken_tree, images, skopeo, podman, dockerd,
                                                            tmp_path):
    server = start(kind, broken_tree, tmp_path / kind)
    host = f"127.0.0.1:{server.port}"
    try:
        refs = {"tag": f"{host}/static/a:nope", "repository": f"{host}/no/such:v1", "blob": f"{host}/static/a:v1"}
        assert fetch(server.port, "/v2/static/a/manifests/v1").status == 200
        for what, ref in refs.items():
            proc = skopeo.run("copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{tmp_path / 'out'}:x",
                              check=False)
            assert proc.returncode != 0
            _check(proc.stderr, what, "skopeo")
            proc = podman.run("pull", "--tls-verify=false", ref, check=False)
            assert proc.returncode != 0
            _check(proc.stderr, what, "podman")
            proc = dockerd.docker("pull", ref, check=False)
            assert proc.returncode != 0
            _check(proc.stdout + proc.stderr, what, "docker")
        # a push to the static tree
        proc = skopeo.run("copy", "--dest-tls-verify=false", images.src(images.b), f"docker://{host}/pushed/b:v1",
                          check=False)
        assert proc.returncode != 0
        _check(proc.stderr, "push", "skopeo")
        image_id = podman.run("pull", "-q", f"oci:{images.b}:{images.tag(images.b)}").stdout.strip().splitlines()[-1]
        podman.run("tag", image_id, f"{host}/pushed/b:v1")
        proc = podman.run("push", "--tls-verify=false", f"{host}/pushed/b:v1", check=False)
        assert proc.returncode != 0
        _check(proc.stderr, "push", "podman")
        loaded = dockerd.docker("load", "-i", str(_archive(images, tmp_path))).stdout
        dockerd.docker("tag", loaded.strip().split()[-1], f"{host}/pushed/b:v1")
        proc = dockerd.docker("push", f"{host}/pushed/b:v1", check=False)
        assert proc.returncode != 0
        _check(proc.stdout + proc.stderr, "push", "docker")
    finally:
        server.stop()


def _archive(images, tmp_path):
    from static.conftest import run
    out = tmp_path / "b.tar"
    if not out.exists():
        run("convert", images.src(images.b), f"docker-archive:{out}")
    return out
