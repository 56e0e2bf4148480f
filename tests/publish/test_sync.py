"""fsdgimg sync: a 3-repository static tree to another tree and to a registry, a registry repository
to a tree; skopeo and podman then pull every tag with the digests of the source. Only missing blobs
move, unchanged tags are left alone, --dry-run writes nothing, --tag selects."""

from __future__ import annotations

import json
import os

import pytest
from servers import Registry

from publish.conftest import public_tree, run, run_json

REPOS = {"distro/base": ("a", ["v1", "latest"]), "distro/multi": ("multi", ["multi"]), "tools/d": ("docker", ["d2"])}


@pytest.fixture(scope="module")
def source_tree(images):
    tree = public_tree("sync-src")
    for name, (attr, tags) in REPOS.items():
        layout = getattr(images, attr)
        extra = [a for t in tags[1:] for a in ("--additional-tag", t)]
        run("publish", images.src(layout), "--to", f"static:{tree}", "--name", f"{name}:{tags[0]}", *extra)
    return tree


def expected(images) -> dict[tuple[str, str], str]:
    return {(name, tag): images.digest(getattr(images, attr)) for name, (attr, tags) in REPOS.items() for tag in tags}


def _files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_dry_run_writes_nothing(images, source_tree, registry):
    dest = public_tree("sync-dry")
    before = _files(dest)
    report = run_json("sync", f"static:{source_tree}", "--to", f"static:{dest}", "--dry-run")
    assert report["dry_run"] and report["copied"] == 0
    assert {(i["name"], i["tag"]): i["digest"] for i in report["images"]} == expected(images)
    assert all(i["state"] == "would copy" and i["blobs_missing"] > 0 for i in report["images"])
    assert _files(dest) == before
    report = run_json("sync", f"static:{source_tree}", "--to", f"docker://{registry.host}/dry", "--dry-run")
    assert report["copied"] == 0 and registry.manifest_digest("dry/distro/base", "v1") is None


def test_tree_to_tree_then_clients_pull_every_tag(images, source_tree, skopeo, podman, tmp_path):
    dest = public_tree("sync-tree")
    report = run_json("sync", f"static:{source_tree}", "--to", f"static:{dest}")
    want = expected(images)
    assert {(i["name"], i["tag"]): i["digest"] for i in report["images"]} == want
    assert report["copied"] == len(want) == report["tags_moved"]
    for (name, tag), digest in want.items():
        assert run_json("inspect", f"static:{dest}/{name}:{tag}")["digest"] == digest
    from servers import FsdgimgServe
    with FsdgimgServe(tmp_path / "serve", dest) as server:
        host = f"127.0.0.1:{server.port}"
        for (name, tag), digest in want.items():
            assert skopeo.digest(f"docker://{host}/{name}:{tag}") == digest
            pulled = podman.pull(f"{host}/{name}:{tag}")
            layout = getattr(images, REPOS[name][0])
            assert images.pulled_digest(layout) in pulled
    again = run_json("sync", f"static:{source_tree}", "--to", f"static:{dest}")
    assert again["unchanged"] == len(want) and again["copied"] == 0 and again["blobs_sent"] == 0


def test_tree_to_registry_then_clients_pull_every_tag(images, source_tree, skopeo, podman, tmp_path):
    with Registry(tmp_path / "mirror") as reg:
        report = run_json("sync", f"static:{source_tree}", "--to", f"docker://{reg.host}/mirror")
        want = expected(images)
        assert report["copied"] == len(want)
        for (name, tag), digest in want.items():
            assert reg.manifest_digest(f"mirror/{name}", tag) == digest
            assert skopeo.digest(f"docker://{reg.host}/mirror/{name}:{tag}") == digest
            assert images.pulled_digest(getattr(images, REPOS[name][0])) in podman.pull(f"{reg.host}/mirror/{name}:{tag}")
        again = run_json("sync", f"static:{source_tree}", "--to", f"docker://{reg.host}/mirror")
        assert again["unchanged"] == len(want) and again["copied"] == 0


def test_registry_repository_to_tree_with_tag_globs(images, registry, tmp_path):
    for tag in ("11.0", "11.1", "12.0", "latest"):
        run("publish", images.src(images.b), "--to", f"docker://{registry.host}/globs/b:{tag}")
    dest = public_tree("sync-globs")
    report = run_json("sync", f"docker://{registry.host}/globs/b", "--to", f"static:{dest}",
                      "--tag", "11.*", "--tag", "latest")
    assert sorted(i["tag"] for i in report["images"]) == ["11.0", "11.1", "latest"]
    # one image under three tags: its blobs move once
    assert report["blobs_sent"] == len(json.loads(run("inspect", images.src(images.b), "--json").out)["layers"]) + 1
    assert sorted(os.listdir(dest / "v2" / "globs" / "b" / "_tags")) == ["11.0", "11.1", "latest"]
    everything = run_json("sync", f"docker://{registry.host}/globs/b", "--to", f"static:{dest}")
    assert [i["state"] for i in everything["images"]].count("copied") == 1 and everything["blobs_sent"] == 0
    # an existing tree takes a one-repository source under another name
    renamed = run_json("sync", f"docker://{registry.host}/globs/b:12.0", "--to", f"static:{dest}/mirror/b")
    assert renamed["copied"] == 1 and os.listdir(dest / "v2" / "mirror" / "b" / "_tags") == ["12.0"]


def test_tag_list_follows_link_pagination(images, registry):
    from fsdgimg.mirror.sync import list_tags
    from fsdgimg.transports.registry.connect import connect
    for tag in ("p1", "p2", "p3", "p4", "p5"):
        run("publish", images.src(images.a), "--to", f"docker://{registry.host}/paged/a:{tag}")
    client = connect(registry.host, "paged/a")
    try:
        assert sorted(list_tags(client, "paged/a", page=2)) == ["p1", "p2", "p3", "p4", "p5"]
    finally:
        client.close()


def test_bad_sync_arguments_are_one_line(source_tree, registry):
    for args, needle in (([f"docker://{registry.host}", "--to", f"static:{source_tree}"], "name the repository"),
                         ([f"static:{source_tree}", "--to", f"docker://{registry.host}/x:tag"], "names no tag"),
                         ([f"docker://{registry.host}/absent/repo", "--to", f"static:{source_tree}"], "absent/repo"),
                         (["oci:/nonexistent", "--to", f"static:{source_tree}"], "sync reads and writes")):
        proc = run("sync", *args, check=False)
        assert proc.returncode in (1, 2) and proc.err.count("\n") == 1 and needle in proc.err, proc.err


def test_corrupt_blob_in_a_source_tree_is_refused_and_no_tag_moves(images, tmp_path, registry):
    src = public_tree("sync-corrupt")
    run("publish", images.src(images.b), "--to", f"static:{src}", "--name", "bad/b:v2", "--copy-blobs")
    layer = json.loads(run("inspect", f"static:{src}/bad/b:v2", "--json").out)["layers"][0]["digest"]
    blob = src / "v2" / "_store" / "sha256" / layer.split(":")[1]
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.unlink()  # (its hard links in the repository keep the good bytes: replace them all)
    for link in (src / "v2" / "bad" / "b" / "_blobs").iterdir():
        if link.name == layer:
            link.unlink()
            link.write_bytes(bytes(data))
    blob.write_bytes(bytes(data))
    dest = public_tree("sync-corrupt-dest")
    proc = run("sync", f"static:{src}", "--to", f"static:{dest}", check=False)
    assert proc.returncode == 1 and proc.err.count("\n") == 1 and layer[:19] in proc.err, proc.err
    assert not (dest / "v2" / "bad" / "b" / "_tags").exists()
    assert not (dest / "v2" / "_store" / "sha256" / layer.split(":")[1]).exists()
    proc = run("sync", f"static:{src}", "--to", f"docker://{registry.host}/corrupt", check=False)
    assert proc.returncode == 1 and proc.err.count("\n") == 1 and layer[:19] in proc.err, proc.err
    assert registry.manifest_digest("corrupt/bad/b", "v2") is None
