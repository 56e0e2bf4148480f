"""The image model: references, manifests in both formats, multi-platform indexes."""

from __future__ import annotations

import json
import subprocess

import pytest
from fixtures.cli import fsdgimg
from fixtures.multiplatform import make_index_layout

from fsdgimg.errors import InputError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.descriptor import Descriptor, Platform
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.manifest import ImageIndex, ImageManifest, parse_manifest, to_docker, to_oci
from fsdgimg.oci.reference import Reference


@pytest.mark.parametrize("text,registry,name,tag", [
    ("trisquel", None, "trisquel", None),
    ("trisquel:11", None, "trisquel", "11"),
    ("localhost:5000/fsdg/trisquel:11.0_x", "localhost:5000", "fsdg/trisquel", "11.0_x"),
    ("registry.example.org/a__b/c-d.e:latest", "registry.example.org", "a__b/c-d.e", "latest"),
    ("[::1]:5000/x", "[::1]:5000", "x", None),
])
def test_references(text, registry, name, tag):
    ref = Reference.parse(text)
    assert (ref.registry, ref.name, ref.tag) == (registry, name, tag)
    assert str(ref) == text


@pytest.mark.parametrize("text", ["Trisquel", "a//b", "-a", "a:", "a:-x", "a@sha256:12", "a_", "a:" + "x" * 129,
                                  "a" * 256])
def test_bad_references(text):
    with pytest.raises(InputError):
        Reference.parse(text)


def test_digest_parse():
    d = Digest.of(b"x")
    assert Digest.parse(str(d)) == d
    for bad in ["sha256:XYZ", "md5:" + "0" * 32, "sha256:" + "0" * 63, "sha256" + "0" * 64]:
        with pytest.raises(InputError):
            Digest.parse(bad)


def test_docker_and_oci_manifests_convert_both_ways():
    layer = Descriptor(mt.OCI_LAYER_GZIP, Digest.of(b"l"), 10)
    oci = ImageManifest(mt.OCI_MANIFEST, Descriptor(mt.OCI_CONFIG, Digest.of(b"c"), 3), [layer])
    docker = to_docker(oci)
    assert docker.media_type == mt.DOCKER_MANIFEST
    assert docker.layers[0].media_type == mt.DOCKER_LAYER_GZIP
    parsed = parse_manifest(docker.to_bytes(), "d")
    assert isinstance(parsed, ImageManifest) and parsed.is_docker
    assert to_oci(parsed).to_bytes() == oci.to_bytes()
    zstd = ImageManifest(mt.OCI_MANIFEST, oci.config, [Descriptor(mt.OCI_LAYER_ZSTD, Digest.of(b"z"), 1)])
    with pytest.raises(InputError):
        to_docker(zstd)
    lst = ImageIndex(mt.DOCKER_MANIFEST_LIST, [docker.descriptor(platform=Platform("linux", "arm64", "v8"))])
    back = parse_manifest(lst.to_bytes(), "l")
    assert isinstance(back, ImageIndex) and back.manifests[0].platform == Platform("linux", "arm64", "v8")


def test_manifest_media_type_must_agree():
    data = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}).encode()
    with pytest.raises(InputError):
        parse_manifest(data, "x", mt.OCI_MANIFEST)
    with pytest.raises(InputError):
        parse_manifest(json.dumps({"schemaVersion": 1}).encode(), "x")


def test_multi_platform_layout_converts_whole_or_by_platform(tmp_path):
    layout = make_index_layout(tmp_path / "multi", tmp_path)
    info = json.loads(fsdgimg("inspect", f"oci:{layout}:multi", "--json").stdout)
    assert sorted(m["platform"] for m in info["manifests"]) == ["linux/amd64", "linux/arm64"]
    out = tmp_path / "zstd"
    result = json.loads(fsdgimg("convert", f"oci:{layout}:multi", f"oci:{out}:multi", "--compression", "zstd",
                                "--json").stdout)
    assert result["mediaType"] == mt.OCI_INDEX
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci:{out}:multi"], check=True,
                                    capture_output=True).stdout)
    assert [m["platform"]["architecture"] for m in raw["manifests"]] == ["amd64", "arm64"]
    copy = tmp_path / "copy"
    subprocess.run(["skopeo", "copy", "-q", "--all", f"oci:{out}:multi", f"oci:{copy}:multi"], check=True)
    one = tmp_path / "one"
    fsdgimg("convert", f"oci:{layout}:multi", f"oci:{one}:arm", "--platform", "linux/arm64")
    config = json.loads(subprocess.run(["skopeo", "inspect", "--config", f"oci:{one}:arm"], check=True,
                                       capture_output=True).stdout)
    assert config["architecture"] == "arm64"
    proc = fsdgimg("convert", f"oci:{layout}:multi", f"oci:{tmp_path}/none:x", "--platform", "linux/s390x",
                   check=False)
    assert proc.returncode == 1 and b"no image for linux/s390x" in proc.stderr
