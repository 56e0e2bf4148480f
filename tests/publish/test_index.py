"""fsdgimg index SRC... --to DEST: one multi-platform index from single-platform images of any source."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import dump_json
from publish.conftest import run, run_json
from publish.test_one_writer import layout_unreferenced, static_unreferenced


def _top(layout: Path) -> dict:
    return json.loads((layout / "index.json").read_text())["manifests"][0]


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def _put(layout: Path, data: bytes) -> str:
    d = Digest.of(data)
    (layout / "blobs" / "sha256" / d.hex).write_bytes(data)
    return str(d)


@pytest.fixture(scope="module")
def arm(images) -> Path:
    return images.root / "arm"


@pytest.fixture(scope="module")
def archive_arm(arm, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "arm.tar"
    run("convert", f"oci:{arm}:arm", f"docker-archive:{path}")
    return path


def test_index_of_two_platforms_to_every_destination(images, arm, archive_arm, registry, tmp_path):
    srcs = [images.src(images.a), f"docker-archive:{archive_arm}"]
    out = tmp_path / "layout"
    result = run_json("index", *srcs, "--to", f"oci:{out}:multi")
    index = json.loads(_blob(out, result["digest"]))
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [m["platform"] for m in index["manifests"]] == [{"architecture": "amd64", "os": "linux"},
                                                           {"architecture": "arm64", "os": "linux"}]
    # The image from a layout is named by its own digest: assembling rewrites nothing in it.
    assert index["manifests"][0]["digest"] == images.digest(images.a)
    assert _top(out)["annotations"]["org.opencontainers.image.ref.name"] == "multi"
    assert layout_unreferenced(out) == set()
    # The archive's image is the one `convert` makes of it.
    single = run_json("convert", f"docker-archive:{archive_arm}", f"oci:{tmp_path / 'single'}:x")
    assert index["manifests"][1]["digest"] == single["digest"]
    # Same sources, same options: the same index digest in a registry and a static tree.
    pushed = run_json("index", *srcs, "--to", f"docker://{registry.host}/lib/multi:t")
    tree = tmp_path / "tree"
    static = run_json("index", *srcs, "--to", f"static:{tree}", "--name", "lib/multi:t")
    assert pushed["digest"] == static["digest"] == result["digest"]
    assert static_unreferenced(tree) == {"manifests_removed": 0, "blob_links_removed": 0,
                                         "store_files_removed": 0}
    # skopeo reads the index back and picks the arm64 image.
    raw = subprocess.run(["skopeo", "inspect", "--override-arch", "arm64", f"oci:{out}:multi"],
                         capture_output=True, text=True)
    assert raw.returncode == 0, raw.stderr
    assert json.loads(raw.stdout)["Architecture"] == "arm64"


def test_index_with_recompression_writes_only_what_it_references(images, arm, tmp_path):
    out = tmp_path / "zstd"
    result = run_json("index", images.src(images.a), f"oci:{arm}:arm", "--to", f"oci:{out}:z",
                      "--compression", "zstd", "--annotation", "org.example.k=v")
    index = json.loads(_blob(out, result["digest"]))
    assert index["annotations"] == {"org.example.k": "v"}
    for child in index["manifests"]:
        assert all(l["mediaType"].endswith("+zstd") for l in json.loads(_blob(out, child["digest"]))["layers"])
    assert layout_unreferenced(out) == set()


def test_duplicate_platform_is_one_line_and_nothing_is_written(images, tmp_path):
    out = tmp_path / "dup"
    proc = run("index", images.src(images.a), images.src(images.b), "--to", f"oci:{out}", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.err
    assert len(proc.err.strip().splitlines()) == 1
    assert "platform linux/amd64 is already given by" in proc.err
    assert not out.exists()


def test_missing_platform_and_an_index_as_source_are_refused(images, tmp_path):
    layout = tmp_path / "noplatform"
    shutil.copytree(images.a, layout)
    top = _top(layout)
    manifest = json.loads(_blob(layout, top["digest"]))
    config = json.loads(_blob(layout, manifest["config"]["digest"]))
    del config["architecture"], config["os"]
    data = dump_json(config)
    manifest["config"] = {**manifest["config"], "digest": _put(layout, data), "size": len(data)}
    mdata = dump_json(manifest)
    top = {**top, "digest": _put(layout, mdata), "size": len(mdata)}
    (layout / "index.json").write_bytes(dump_json({"schemaVersion": 2, "manifests": [top]}))
    before = {p: p.read_bytes() for p in layout.rglob("*") if p.is_file()}
    proc = run("index", f"oci:{layout}", images.src(images.b), "--to", f"oci:{tmp_path / 'o'}", check=False)
    assert proc.returncode == 1 and len(proc.err.strip().splitlines()) == 1, proc.err
    assert "names no platform" in proc.err
    proc = run("index", images.src(images.multi), "--to", f"oci:{tmp_path / 'o'}", check=False)
    assert proc.returncode == 1 and "is an index already" in proc.err, proc.err
    assert not (tmp_path / "o").exists()
    assert {p: p.read_bytes() for p in layout.rglob("*") if p.is_file()} == before


def test_assemble_is_a_library_function(images, arm):
    """What a per-platform build calls: assemble() on opened images, then the one writer."""
    from fsdgimg.oci.assemble import assemble
    from fsdgimg.transports.read import open_source
    with open_source(images.src(images.a)) as a, open_source(f"oci:{arm}:arm") as b:
        index = assemble([a, b], annotations={"org.example.k": "v"})
        assert [str(d.platform) for d in index.index.manifests] == ["linux/amd64", "linux/arm64"]
        assert [c.digest for c in index.children] == [a.digest, b.digest]
