"""fsdgimg convert: Guix archives (every shape) into OCI layouts that independent readers accept."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from fixtures.cli import fsdgimg
from fixtures.guixarchive import layer_tars, make_guix_archive

ARCHIVES = ["single.tar", "single.tar.gz", "layered.tar", "layered.tar.gz"]


def skopeo(*args: str) -> dict:
    out = subprocess.run(["skopeo", *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out) if out.strip().startswith(("{", "[")) else {}


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ARCHIVES)
def test_guix_archive_converts_and_skopeo_reads_it(guix_archives, tmp_path, name):
    archive = guix_archives[name]
    out = tmp_path / "layout"
    result = json.loads(fsdgimg("convert", archive, f"oci:{out}:v1", "--json").stdout)

    info = skopeo("inspect", f"oci:{out}:v1")
    assert info["Digest"] == result["digest"]
    config = skopeo("inspect", "--config", f"oci:{out}:v1")
    expected = ["sha256:" + hashlib.sha256(t).hexdigest() for t in layer_tars(archive)]
    # The diff IDs skopeo reports are the sha256 of each layer.tar Guix wrote.
    assert config["rootfs"]["diff_ids"] == expected
    assert len(info["Layers"]) == len(expected)
    # Guix's lowercase config keys come out in the spec's spelling.
    assert config["config"]["Env"] == ["PATH=/gnu/store/2ccccccccccccccccccccccccccccccc-profile/bin"]
    manifest = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci:{out}:v1"],
                                         check=True, capture_output=True).stdout)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["annotations"]["org.opencontainers.image.created"] == "1970-01-01T00:00:01Z"
    # The tag names the image in index.json only: it is not part of the manifest (nor its digest).
    assert "org.opencontainers.image.ref.name" not in manifest["annotations"]
    index = json.loads((out / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "v1"
    assert manifest["annotations"]["org.opencontainers.image.title"] == "hello"
    for layer in manifest["layers"]:
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        assert layer["annotations"]["org.fsdgimg.compressor"].startswith("gzip;isa-l=")


@pytest.mark.parametrize("name", ["single.tar.gz", "layered.tar"])
def test_skopeo_copy_and_umoci_accept_the_layout(guix_archives, tmp_path, name):
    out = tmp_path / "layout"
    fsdgimg("convert", guix_archives[name], f"oci:{out}:latest")
    copy = tmp_path / "copy"
    subprocess.run(["skopeo", "copy", "-q", f"oci:{out}:latest", f"oci:{copy}:latest"], check=True)
    assert skopeo("inspect", f"oci:{copy}:latest")["Digest"] == skopeo("inspect", f"oci:{out}:latest")["Digest"]
    stat = subprocess.run(["umoci", "stat", "--json", "--image", f"{out}:latest"],
                          check=True, capture_output=True, text=True)
    assert json.loads(stat.stdout)["history"] is not None or True  # umoci parsed the whole image
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{out}:latest", str(bundle)], check=True,
                   capture_output=True)
    hello = bundle / "rootfs/gnu/store/0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-2.12.2/bin/hello"
    assert hello.read_bytes().startswith(b"\x7fELF")
    link = bundle / "rootfs/gnu/store/2ccccccccccccccccccccccccccccccc-profile/bin/hello"
    assert os.readlink(link).endswith("-hello-2.12.2/bin/hello")


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_second_conversion_is_byte_identical(guix_archives, tmp_path, compression):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        fsdgimg("convert", guix_archives["layered.tar.gz"], f"oci:{out}:latest", "--compression", compression)
    assert tree_bytes(a) == tree_bytes(b)
    # and skopeo reads every compression back
    assert skopeo("inspect", f"oci:{a}:latest")["Layers"]


def test_zstd_layers_are_read_back_by_skopeo_copy(guix_archives, tmp_path):
    out, copy = tmp_path / "zstd", tmp_path / "copy"
    fsdgimg("convert", guix_archives["single.tar"], f"oci:{out}:z", "--compression", "zstd", "--level", "9")
    manifest = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci:{out}:z"], check=True,
                                         capture_output=True).stdout)
    assert manifest["layers"][0]["mediaType"].endswith("+zstd")
    assert "level=9" in manifest["layers"][0]["annotations"]["org.fsdgimg.compressor"]
    # skopeo decompresses the zstd layer to recompress it as gzip: it must read our bytes.
    subprocess.run(["skopeo", "copy", "-q", "--dest-compress-format", "gzip", f"oci:{out}:z",
                    f"oci:{copy}:z"], check=True)
    assert skopeo("inspect", "--config", f"oci:{copy}:z")["rootfs"]["diff_ids"] == \
        skopeo("inspect", "--config", f"oci:{out}:z")["rootfs"]["diff_ids"]


def test_source_date_epoch_sets_created(guix_archives, tmp_path):
    out = tmp_path / "layout"
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    fsdgimg("convert", guix_archives["single.tar"], f"oci:{out}:t", env=env)
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci:{out}:t"], check=True,
                                    capture_output=True).stdout)
    assert raw["annotations"]["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"
    fsdgimg("convert", guix_archives["single.tar"], f"oci:{out}:u", "--source-date-epoch", "0",
            "--annotation", "org.opencontainers.image.source=https://example.org/fsdg.git",
            "--annotation", "org.opencontainers.image.revision=abc123", env=env)
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci:{out}:u"], check=True,
                                    capture_output=True).stdout)
    assert raw["annotations"]["org.opencontainers.image.created"] == "1970-01-01T00:00:00Z"
    assert raw["annotations"]["org.opencontainers.image.source"] == "https://example.org/fsdg.git"
    assert raw["annotations"]["org.opencontainers.image.revision"] == "abc123"


def test_tags_accumulate_in_an_existing_layout(guix_archives, tmp_path):
    out = tmp_path / "layout"
    fsdgimg("convert", guix_archives["single.tar"], f"oci:{out}:one")
    fsdgimg("convert", guix_archives["layered.tar"], f"oci:{out}:two")
    fsdgimg("convert", guix_archives["layered.tar"], f"oci:{out}:one")  # retag replaces
    index = json.loads((out / "index.json").read_text())
    tags = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
    assert sorted(tags) == ["one", "two"]
    # the same image under both tags: one manifest, one digest (tags never change digests)
    assert skopeo("inspect", f"oci:{out}:one")["Digest"] == skopeo("inspect", f"oci:{out}:two")["Digest"]
    assert len({m["digest"] for m in index["manifests"]}) == 1


def test_docker_archive_round_trip(guix_archives, tmp_path):
    """OCI layout -> docker archive (read by skopeo) -> OCI layout: same diff IDs and config."""
    layout = tmp_path / "layout"
    fsdgimg("convert", guix_archives["layered.tar.gz"], f"oci:{layout}:latest")
    archive = tmp_path / "image.tar"
    fsdgimg("convert", f"oci:{layout}:latest", f"docker-archive:{archive}")
    assert skopeo("inspect", f"docker-archive:{archive}")["Layers"]
    with tarfile.open(archive) as tf:
        assert json.load(tf.extractfile("manifest.json"))[0]["RepoTags"] == ["hello:latest"]
    back = tmp_path / "back"
    fsdgimg("convert", f"docker-archive:{archive}", f"oci:{back}:latest")
    a = skopeo("inspect", "--config", f"oci:{layout}:latest")
    b = skopeo("inspect", "--config", f"oci:{back}:latest")
    assert a == b
    assert skopeo("inspect", f"oci:{back}:latest")["Digest"] == skopeo("inspect", f"oci:{layout}:latest")["Digest"]


def test_docker_archive_reference_split_like_skopeo(oci_image, tmp_path):
    """docker-archive:FILE:NAME:TAG names the file up to the first ':' (skopeo's syntax): the
    archive is FILE, tagged NAME:TAG, and that reference selects it again when read."""
    archive = tmp_path / "b.tar"
    fsdgimg("convert", f"oci:{oci_image}:latest", f"docker-archive:{archive}:pushed/b:v1")
    assert archive.is_file() and not (tmp_path / "b.tar:pushed").exists()
    assert skopeo("inspect", f"docker-archive:{archive}:pushed/b:v1")["Layers"]
    with tarfile.open(archive) as tf:
        assert json.load(tf.extractfile("manifest.json"))[0]["RepoTags"] == ["pushed/b:v1"]
    back = json.loads(fsdgimg("convert", f"docker-archive:{archive}:pushed/b:v1", f"oci:{tmp_path / 'back'}",
                              "--json").stdout)
    assert back["tag"] == "v1"
    bad = fsdgimg("convert", f"oci:{oci_image}:latest", f"docker-archive:{tmp_path / 'c.tar'}:x@sha256:{'0' * 64}",
                  check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c.tar").exists()


def test_docker_save_archive_written_by_skopeo_is_read(guix_archives, tmp_path):
    layout = tmp_path / "layout"
    fsdgimg("convert", guix_archives["single.tar"], f"oci:{layout}:latest")
    archive = tmp_path / "saved.tar"
    subprocess.run(["skopeo", "copy", "-q", f"oci:{layout}:latest", f"docker-archive:{archive}:fsdg/hello:1.0"],
                   check=True)
    back = tmp_path / "back"
    result = json.loads(fsdgimg("convert", archive, f"oci:{back}", "--json").stdout)
    assert result["tag"] == "1.0"
    assert skopeo("inspect", "--config", f"oci:{back}:1.0")["rootfs"] == \
        skopeo("inspect", "--config", f"oci:{layout}:latest")["rootfs"]


def test_rootfs_directory_and_tarball(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text("NAME=Test\n")
    (root / "bin").mkdir()
    (root / "bin/sh").write_bytes(b"#!shell")
    os.symlink("sh", root / "bin/bash")
    os.utime(root / "etc/os-release", (2_000_000_000, 2_000_000_000))
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1000"}
    a, b = tmp_path / "a", tmp_path / "b"
    fsdgimg("convert", root, f"oci:{a}:r", "--platform", "linux/arm64", env=env)
    fsdgimg("convert", f"rootfs:{root}", f"oci:{b}:r", "--platform", "linux/arm64", env=env)
    assert tree_bytes(a) == tree_bytes(b)
    config = skopeo("inspect", "--config", f"oci:{a}:r")
    assert config["architecture"] == "arm64" and config["created"] == "1970-01-01T00:16:40Z"
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "raw", "unpack", "--image", f"{a}:r", str(bundle)], check=True, capture_output=True)
    assert (bundle / "etc/os-release").read_text() == "NAME=Test\n"
    # mtimes later than SOURCE_DATE_EPOCH are clamped to it
    assert (bundle / "etc/os-release").stat().st_mtime == 1000
    assert os.readlink(bundle / "bin/bash") == "sh"
    tarball = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
    c = tmp_path / "c"
    fsdgimg("convert", tarball, f"oci:{c}:r")
    assert skopeo("inspect", "--config", f"oci:{c}:r")["rootfs"]["diff_ids"] == \
        ["sha256:" + hashlib.sha256(tarball.read_bytes()).hexdigest()]


def test_inspect_text_and_json(oci_image, guix_archives):
    text = fsdgimg("inspect", f"oci:{oci_image}:latest").stdout.decode()
    assert "linux/amd64" in text and "layer 3:" in text and "hello:latest" in text
    info = json.loads(fsdgimg("inspect", guix_archives["layered.tar.gz"], "--json").stdout)
    assert info["name"] == "hello" and info["tag"] == "latest"
    assert [l["diffID"] for l in info["layers"]] == \
        ["sha256:" + hashlib.sha256(t).hexdigest() for t in layer_tars(guix_archives["layered.tar.gz"])]
    assert info["platform"] == "linux/amd64"


def test_recompressing_an_oci_layout_keeps_diff_ids(oci_image, tmp_path):
    out = tmp_path / "zstd"
    fsdgimg("convert", f"oci:{oci_image}:latest", f"oci:{out}:latest", "--compression", "zstd")
    assert skopeo("inspect", "--config", f"oci:{out}:latest")["rootfs"] == \
        skopeo("inspect", "--config", f"oci:{oci_image}:latest")["rootfs"]
    # unchanged compression copies blobs byte for byte
    same = tmp_path / "same"
    fsdgimg("convert", f"oci:{oci_image}:latest", f"oci:{same}:latest")
    assert skopeo("inspect", f"oci:{same}:latest")["Layers"] == skopeo("inspect", f"oci:{oci_image}:latest")["Layers"]


def test_entry_point_survives(tmp_path):
    archive = make_guix_archive(tmp_path / "ep.tar", entry_point=["/bin/hello", "--greeting=hi"], gzip=False)
    out = tmp_path / "layout"
    fsdgimg("convert", archive, f"oci:{out}:latest")
    assert skopeo("inspect", "--config", f"oci:{out}:latest")["config"]["Entrypoint"] == \
        ["/bin/hello", "--greeting=hi"]


def test_a_new_destination_is_one_module_and_one_registration(oci_image, tmp_path, monkeypatch):
    """The example of docs/core-api.md, as written there, is a working destination."""
    import re
    import sys
    import types

    from fsdgimg.transports.kinds import WRITERS
    from fsdgimg.transports.read import open_source
    from fsdgimg.transports.write import write
    doc = (Path(__file__).resolve().parents[2] / "docs" / "core-api.md").read_text()
    code = re.search(r"```python\n(# fsdgimg/transports/blobdir.py.*?)```", doc, re.S).group(1)
    module = types.ModuleType("blobdir_example")
    exec(compile(code, "core-api.md", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, "blobdir_example", module)
    monkeypatch.setitem(WRITERS, "blobdir", "blobdir_example")
    with open_source(f"oci:{oci_image}") as image:
        written = write(image, f"blobdir:{tmp_path / 'out'}")
        assert written.digest == str(image.digest)
        assert (tmp_path / "out" / "top").read_text() == written.digest
        assert (tmp_path / "out" / "blobs" / "sha256" / image.digest.hex).is_file()
        for d in image.layers:
            assert (tmp_path / "out" / "blobs" / "sha256" / d.digest.hex).is_file()


def test_convert_digestfile_reports_the_manifest_and_is_checked_first(oci_image, tmp_path):
    out = tmp_path / "o"
    bad = fsdgimg("convert", f"oci:{oci_image}", f"oci:{out}:t", "--digestfile", tmp_path / "no" / "d", check=False)
    assert bad.returncode == 2 and "--digestfile" in bad.stderr.decode() and not out.exists()
    result = json.loads(fsdgimg("convert", f"oci:{oci_image}", f"oci:{out}:t", "--digestfile", tmp_path / "d",
                                "--json").stdout)
    assert (tmp_path / "d").read_text() == result["digest"]
    assert json.loads((out / "index.json").read_text())["manifests"][0]["digest"] == result["digest"]
