"""publish reads what the image core reads (here a Guix archive, named by itself) and writes, besides
registries and static trees, OCI layouts and docker archives through the core's writers."""

from __future__ import annotations

import json
import tarfile

from fixtures.guixarchive import make_guix_archive

from publish.conftest import run, run_json


def test_guix_archive_to_static_takes_its_own_name(tmp_path, skopeo):
    archive = make_guix_archive(tmp_path / "hello.tar.gz", repository="hello", max_layers=True)
    tree = tmp_path / "tree"
    report = run_json("publish", archive, "--to", f"static:{tree}")
    assert (report["name"], report["tag"]) == ("hello", "latest")
    from servers import FsdgimgServe
    with FsdgimgServe(tmp_path / "serve", tree) as server:
        assert skopeo.digest(f"docker://127.0.0.1:{server.port}/hello:latest") == report["digest"]
        skopeo.copy(f"docker://127.0.0.1:{server.port}/hello:latest", f"oci:{tmp_path / 'back'}:x",
                    "--preserve-digests")


def test_guix_archive_to_registry(tmp_path, registry, containerd):
    archive = make_guix_archive(tmp_path / "hello.tar.gz", repository="hello")
    report = run_json("publish", archive, "--to", f"docker://{registry.host}/guix/hello")
    assert report["reference"].endswith("guix/hello:latest")
    assert registry.manifest_digest("guix/hello", "latest") == report["digest"]
    assert containerd.pull(f"{registry.host}/guix/hello:latest") == report["digest"]


def test_oci_and_docker_archive_destinations(images, tmp_path, skopeo):
    out = run("publish", images.src(images.a), "--to", f"oci:{tmp_path / 'layout'}:copy").out.split()
    index = json.loads((tmp_path / "layout" / "index.json").read_text())
    assert out[1] == index["manifests"][0]["digest"]
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "copy"
    run("publish", images.src(images.a), "--to", f"docker-archive:{tmp_path / 'image.tar'}")
    with tarfile.open(tmp_path / "image.tar") as tf:
        assert "manifest.json" in tf.getnames()
    skopeo.run("inspect", f"docker-archive:{tmp_path / 'image.tar'}")


def test_unknown_destination_is_a_usage_error(images, tmp_path):
    proc = run("publish", images.src(images.a), "--to", "ftp://example/x", check=False)
    assert proc.returncode == 2 and proc.err.count("\n") == 1


def test_library_entry_point_for_every_destination(images, registry, tmp_path):
    """fsdgimg.transports.write.publish_artifact: what `fsdgimg build --publish` and library users call."""
    from fsdgimg.transports.options import StaticOptions
    from fsdgimg.transports.read import open_source
    from fsdgimg.transports.write import publish_artifact
    with open_source(images.src(images.multi)) as index:
        digest = str(index.digest)
        pushed = publish_artifact(index, f"docker://{registry.host}/lib/multi", tag="t1")
        assert str(pushed) == f"docker://{registry.host}/lib/multi:t1 {digest}"
        assert registry.manifest_digest("lib/multi", "t1") == digest
        static = publish_artifact(index, f"static:{tmp_path / 'tree'}", name="lib/multi:t2",
                                  static=StaticOptions(fsync=False))
        assert str(static) == f"static:{tmp_path / 'tree'}/lib/multi:t2 {digest}"
        assert (tmp_path / "tree" / "v2" / "lib" / "multi" / "_tags" / "t2").is_symlink()
        layout = publish_artifact(index, f"oci:{tmp_path / 'layout'}", tag="t3")
        assert layout.destination == f"oci:{tmp_path / 'layout'}:t3"
