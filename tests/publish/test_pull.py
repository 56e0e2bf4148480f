"""Reading images from registries and static trees: inspect, convert and publish from docker:// and
static:, against the real Distribution registry, nginx and `fsdgimg serve`; blobs stream (nothing
staged, nothing recompressed) and are checked against their digests as they arrive."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from servers import FsdgimgServe, Registry, have

from publish.conftest import public_tree, run, run_json, start_nginx

USER, PASSWORD = "alice", "s3cret-PaSs"


@pytest.fixture(scope="module")
def filled(images, registry):
    """The registry holding every manifest kind of the test images."""
    for layout, name in ((images.a, "pull/a"), (images.multi, "pull/multi"), (images.docker, "pull/docker"),
                         (images.docker_list, "pull/dlist")):
        run("publish", images.src(layout), "--to", f"docker://{registry.host}/{name}:{images.tag(layout)}")
    return registry


def _blob_files(root: Path) -> set[str]:
    return {p.name for p in root.rglob("*") if p.is_file() and len(p.name) == 64}


@pytest.mark.parametrize("layout,name", [("a", "pull/a"), ("multi", "pull/multi"), ("docker", "pull/docker"),
                                         ("docker_list", "pull/dlist")])
def test_inspect_from_registry(images, filled, layout, name):
    layout = getattr(images, layout)
    info = run_json("inspect", f"docker://{filled.host}/{name}:{images.tag(layout)}")
    assert info["digest"] == images.digest(layout)


def test_registry_to_static_streams_byte_for_byte(images, filled, skopeo, tmp_path):
    tree = public_tree("pulled")
    report = run_json("publish", f"docker://{filled.host}/pull/multi:multi", "--to", f"static:{tree}",
                      "--name", "mirror/multi:multi")
    assert report["digest"] == images.digest(images.multi)
    assert report["blobs_linked"] == 0 and report["blobs_written"] == report["blobs_total"] > 0
    # the same blobs as the source layout: nothing recompressed
    assert _blob_files(tree / "v2" / "_store") <= _blob_files(images.multi / "blobs")
    # and the tree reads back as a source, by tag and by digest
    assert run_json("inspect", f"static:{tree}/mirror/multi:multi")["digest"] == images.digest(images.multi)
    child = images.pulled_digest(images.multi)
    assert run_json("inspect", f"static:{tree}/mirror/multi@{child}")["digest"] == child
    assert run_json("inspect", f"static:{tree}/mirror/multi:multi", "--platform", "linux/amd64")["digest"] == child


def test_registry_to_registry_and_platform_selection(images, filled, tmp_path):
    with Registry(tmp_path / "second") as other:
        report = run_json("publish", f"docker://{filled.host}/pull/dlist:dlist", "--to",
                          f"docker://{other.host}/copy/dlist:dlist")
        assert report["digest"] == images.digest(images.docker_list)
        assert other.manifest_digest("copy/dlist", "dlist") == images.digest(images.docker_list)
        one = run_json("publish", f"docker://{filled.host}/pull/multi:multi", "--to",
                       f"docker://{other.host}/copy/arm:arm", "--platform", "linux/arm64")
        arm = images.pulled_digest(images.multi, "linux/arm64")
        assert one["digest"] == arm and other.manifest_digest("copy/arm", "arm") == arm


def test_registry_to_oci_layout_keeps_the_blobs(images, filled, tmp_path):
    out = tmp_path / "out"
    run("convert", f"docker://{filled.host}/pull/a:v1", f"oci:{out}:v1")
    layers = json.loads(run("inspect", f"oci:{out}:v1", "--json").out)["layers"]
    assert layers and all(layer["digest"].split(":")[1] in _blob_files(images.a / "blobs") for layer in layers)


def test_static_tree_to_oci_and_registry(images, filled, tmp_path, registry):
    tree = public_tree("src")
    run("publish", images.src(images.docker), "--to", f"static:{tree}", "--name", "lib/d:d2")
    out = tmp_path / "from-static"
    run("convert", f"static:{tree}/lib/d:d2", f"oci:{out}:d2")
    assert run_json("inspect", f"static:{tree}")["digest"] == images.digest(images.docker)
    report = run_json("publish", f"static:{tree}/lib/d:d2", "--to", f"docker://{registry.host}/fromstatic/d:d2")
    assert report["digest"] == images.digest(images.docker)


def test_missing_tag_and_repository_are_one_line(images, filled, tmp_path):
    for ref, needle in ((f"docker://{filled.host}/pull/a:nope", "no manifest nope"),
                        (f"docker://{filled.host}/pull/absent:v1", "no manifest v1")):
        proc = run("inspect", ref, check=False)
        assert proc.returncode == 1 and proc.err.count("\n") == 1 and needle in proc.err, proc.err
    tree = public_tree("missing")
    run("publish", images.src(images.a), "--to", f"static:{tree}", "--name", "x/a:v1")
    for ref, needle in ((f"static:{tree}/x/a:v9", "no tag 'v9'"), (f"static:{tree}/x/b:v1", "no repository")):
        proc = run("inspect", ref, check=False)
        assert proc.returncode == 1 and proc.err.count("\n") == 1 and needle in proc.err, proc.err


def test_credentials_in_reference_are_a_clear_line(filled):
    proc = run("inspect", f"docker://user:pw-Secret@{filled.host}/pull/a:v1", check=False)
    assert proc.returncode == 2 and proc.err.count("\n") == 1
    assert "credentials do not go into an image reference" in proc.err and "pw-Secret" not in proc.err
    assert "invalid digest" not in proc.err


def test_pull_with_basic_auth(images, auth_registry, tmp_path):
    env = {"FSDGIMG_REGISTRY_USERNAME": USER, "FSDGIMG_REGISTRY_PASSWORD": PASSWORD}
    run("publish", images.src(images.b), "--to", f"docker://{auth_registry.host}/priv/b:v2", env=env)
    proc = run("inspect", f"docker://{auth_registry.host}/priv/b:v2", check=False)
    assert proc.returncode == 1 and "authentication required" in proc.err and proc.err.count("\n") == 1
    info = run_json("inspect", f"docker://{auth_registry.host}/priv/b:v2", env=env)
    assert info["digest"] == images.digest(images.b)
    tree = public_tree("auth")
    report = run_json("publish", f"docker://{auth_registry.host}/priv/b:v2", "--to", f"static:{tree}",
                      "--name", "b:v2", env=env)
    assert report["digest"] == images.digest(images.b)


@pytest.fixture(scope="module")
def served_tree(images):
    tree = public_tree("served")
    run("publish", images.src(images.multi), "--to", f"static:{tree}", "--name", "srv/multi:multi")
    run("publish", images.src(images.docker), "--to", f"static:{tree}", "--name", "srv/d:d2")
    return tree


@pytest.mark.parametrize("server", ["nginx", "serve"])
def test_pull_from_served_static_tree(images, served_tree, tmp_path, server, registry):
    if server == "nginx":
        if not have("nginx"):
            pytest.skip("nginx is not installed")
        srv = start_nginx(tmp_path / "nginx", served_tree)
    else:
        srv = FsdgimgServe(tmp_path / "serve", served_tree).start()
    try:
        host = f"127.0.0.1:{srv.port}"
        assert run_json("inspect", f"docker://{host}/srv/d:d2")["digest"] == images.digest(images.docker)
        out = tmp_path / "out"
        tree = public_tree("copy")
        report = run_json("publish", f"docker://{host}/srv/multi:multi", "--to", f"static:{tree}",
                          "--name", "srv/multi:multi")
        assert report["digest"] == images.digest(images.multi)
        run("convert", f"docker://{host}/srv/multi:multi", f"oci:{out}:m", "--platform", "linux/arm64")
        assert os.path.isfile(out / "index.json")
        pushed = run_json("publish", f"docker://{host}/srv/d:d2", "--to",
                          f"docker://{registry.host}/from-{server}/d:d2")
        assert registry.manifest_digest(f"from-{server}/d", "d2") == pushed["digest"] == images.digest(images.docker)
    finally:
        srv.stop()


def test_chunked_push_from_a_registry_reads_each_blob_once(images, filled, tmp_path, monkeypatch):
    """Registry -> registry in PATCH chunks: the chunks continue one download of the source blob
    (a fresh download per chunk would read the blob again and again)."""
    import importlib
    push_module = importlib.import_module("fsdgimg.transports.registry.push")  # (the package exports a push function)
    from fsdgimg.oci.reference import Reference
    from fsdgimg.transports.registry.connect import connect
    from fsdgimg.transports.registry.pull import read_registry
    monkeypatch.setattr(push_module, "MONOLITHIC_MAX", 256 << 10)
    src = connect(filled.host, "pull/a")
    image = read_registry(src, Reference(filled.host, "pull/a", "v1"))
    opened = []
    real_open = image.blobs.open
    monkeypatch.setattr(image.blobs, "open", lambda desc, what=None: opened.append(desc.digest) or real_open(desc, what))
    with Registry(tmp_path / "dest") as other:
        dest = connect(other.host, "chunked/a", push=True)
        try:
            report = push_module.Pusher(dest, "chunked/a", chunk_size=512 << 10).push(
                image, Reference(other.host, "chunked/a", "v1"))
        finally:
            dest.close()
            src.close()
        assert report.bytes_sent > 2 << 20 and other.manifest_digest("chunked/a", "v1") == images.digest(images.a)
    layer = image.layers[0]
    assert layer.size > 4 * (512 << 10) and opened.count(layer.digest) == 1
