"""One writer for every destination: no command changes its source, no writer leaves a blob nothing
references, and the same source and options give the same manifest digest by every path."""

from __future__ import annotations

import itertools
import json
import tarfile
from pathlib import Path

import pytest

from publish.conftest import run, run_json

GUIX = Path(__file__).resolve().parent.parent / "fixtures"


def tree_bytes(root: Path) -> dict[str, bytes]:
    if root.is_file():
        return {"": root.read_bytes()}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def layout_unreferenced(layout: Path) -> set[str]:
    """Blobs of an OCI layout that index.json does not reach (through indexes, manifests, configs)."""
    blobs = {p.name for p in (layout / "blobs" / "sha256").iterdir() if not p.name.startswith(".")}
    seen: set[str] = set()
    todo = list(json.loads((layout / "index.json").read_text())["manifests"])
    while todo:
        desc = todo.pop()
        hexd = desc["digest"].split(":", 1)[1]
        if hexd in seen:
            continue
        seen.add(hexd)
        if "manifest" in desc["mediaType"] or "index" in desc["mediaType"]:
            doc = json.loads((layout / "blobs" / "sha256" / hexd).read_bytes())
            todo += doc.get("manifests", []) + doc.get("layers", []) + ([doc["config"]] if "config" in doc else [])
    return blobs - seen


def static_unreferenced(tree: Path) -> dict:
    report = run_json("gc", f"static:{tree}", "--grace", "0", "--dry-run")
    return {k: report[k] for k in ("manifests_removed", "blob_links_removed", "store_files_removed")}


@pytest.fixture(scope="module")
def archive(tmp_path_factory, images) -> Path:
    """A docker archive of image a (a source of another kind than an OCI layout)."""
    path = tmp_path_factory.mktemp("archive") / "a.tar"
    run("convert", images.src(images.a), f"docker-archive:{path}")
    return path


def destinations(tmp: Path, registry, label: str) -> dict[str, str]:
    return {"oci": f"oci:{tmp / label / 'layout'}:t",
            "docker-archive": f"docker-archive:{tmp / label / 'image.tar'}",
            "static": f"static:{tmp / label / 'tree'}",
            "docker": f"docker://{registry.host}/{label}:t"}


def command(cmd: str, src: str, dest: str, *extra: str) -> dict:
    name = ["--name", "img:t"] if dest.startswith("static:") else []
    if cmd == "convert":
        return run_json("convert", src, dest, *extra)
    return run_json("publish", src, "--to", dest, *name, *extra)


@pytest.fixture(scope="module")
def tree(tmp_path_factory, images) -> Path:
    """A static tree holding image a (a source read in place)."""
    path = tmp_path_factory.mktemp("tree") / "tree"
    run("publish", images.src(images.a), "--to", f"static:{path}", "--name", "lib/a:v1")
    return path


OPTIONS = {"plain": [], "annotated": ["--annotation", "org.example.k=v"],
           "zstd": ["--compression", "zstd", "--annotation", "org.example.k=v", "--source-date-epoch", "7"]}
CASES = [("plain", "oci"), ("annotated", "oci"), ("zstd", "oci"), ("plain", "archive"), ("zstd", "archive"),
         ("annotated", "static"), ("zstd", "static"), ("plain", "registry"), ("zstd", "registry")]


@pytest.mark.parametrize("options,kind", CASES)
def test_no_command_changes_its_source_and_digests_agree(images, archive, tree, registry, tmp_path, options, kind):
    """convert and publish, to every destination: the source is byte-identical afterwards, no layout
    or tree holds a blob nothing references, and every path reports the same manifest digest."""
    if kind == "registry":
        run("publish", images.src(images.a), "--to", f"docker://{registry.host}/lib/source:v1")
    src_path = {"oci": images.a, "archive": archive, "static": tree, "registry": tree}[kind]
    src = {"oci": images.src(images.a), "archive": f"docker-archive:{archive}",
           "static": f"static:{tree}/lib/a:v1", "registry": f"docker://{registry.host}/lib/source:v1"}[kind]
    before = tree_bytes(src_path)
    digests = {}
    for n, (cmd, dest_kind) in enumerate(itertools.product(
            ("convert", "publish"), ("oci", "docker-archive", "static", "docker"))):
        if cmd == "convert" and dest_kind in ("static", "docker"):
            continue   # convert writes files; publish is the command for registries and trees
        dest = destinations(tmp_path, registry, f"{cmd}-{options}-{kind}-{n}")[dest_kind]
        result = command(cmd, src, dest, *OPTIONS[options])
        digests[(cmd, dest_kind)] = result["digest"]
        assert tree_bytes(src_path) == before, f"{cmd} to {dest_kind} changed its source"
        out = Path(dest.split(":", 1)[1].rsplit(":t", 1)[0]) if dest_kind != "docker" else None
        if dest_kind == "oci":
            assert layout_unreferenced(out) == set()
        elif dest_kind == "static":
            assert static_unreferenced(out) == {"manifests_removed": 0, "blob_links_removed": 0,
                                                "store_files_removed": 0}
    assert len(set(digests.values())) == 1, digests
    if kind == "static":
        assert static_unreferenced(tree) == {"manifests_removed": 0, "blob_links_removed": 0,
                                             "store_files_removed": 0}
    if options == "plain" and kind in ("oci", "static", "registry"):
        # Nothing asked of a copy: the manifest is the source's own, byte for byte.
        assert set(digests.values()) == {images.digest(images.a)}


def test_publish_annotation_leaves_the_source_layout_alone(images, tmp_path):
    before = tree_bytes(images.a)
    out = tmp_path / "annotated"
    result = run_json("publish", images.src(images.a), "--to", f"oci:{out}:x", "--annotation", "k=v")
    assert tree_bytes(images.a) == before
    raw = json.loads((out / "blobs" / "sha256" / result["digest"].split(":")[1]).read_bytes())
    assert raw["annotations"]["k"] == "v"
    assert layout_unreferenced(out) == set()


def test_docker_archive_digestfile_is_the_manifest_digest(images, tmp_path):
    digestfile = tmp_path / "digest"
    out = tmp_path / "a.tar"
    run("publish", images.src(images.a), "--to", f"docker-archive:{out}", "--digestfile", digestfile)
    assert digestfile.read_text() == images.digest(images.a)
    with tarfile.open(out) as tf:
        config = json.load(tf.extractfile("manifest.json"))[0]["Config"]
    assert not images.digest(images.a).endswith(config.split(".")[0])   # the config's is not what is reported
    digestfile2 = tmp_path / "digest2"
    run("convert", images.src(images.a), f"docker-archive:{tmp_path / 'b.tar'}", "--digestfile", digestfile2)
    assert digestfile2.read_text() == images.digest(images.a)


def test_same_input_under_two_tags_is_one_digest(images, tmp_path):
    out = tmp_path / "two"
    one = run_json("convert", images.src(images.b), f"oci:{out}:one", "--compression", "zstd")
    two = run_json("convert", images.src(images.b), f"oci:{out}:two", "--compression", "zstd")
    assert one["digest"] == two["digest"]
    index = json.loads((out / "index.json").read_text())
    assert {m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]} == {"one", "two"}
    manifest = json.loads((out / "blobs" / "sha256" / one["digest"].split(":")[1]).read_bytes())
    assert "org.opencontainers.image.ref.name" not in manifest.get("annotations", {})
    assert layout_unreferenced(out) == set()


def test_recompressing_an_index_writes_only_what_it_references(images, tmp_path):
    out = tmp_path / "multi"
    result = run_json("convert", images.src(images.multi), f"oci:{out}:m", "--compression", "zstd")
    assert layout_unreferenced(out) == set()
    index = json.loads((out / "blobs" / "sha256" / result["digest"].split(":")[1]).read_bytes())
    for child in index["manifests"]:
        m = json.loads((out / "blobs" / "sha256" / child["digest"].split(":")[1]).read_bytes())
        assert all(l["mediaType"].endswith("+zstd") for l in m["layers"])
