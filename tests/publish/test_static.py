"""fsdgimg publish --to static:DIR, served by nginx (with the generated configuration) and by
`fsdgimg serve`, pulled back by skopeo, podman and containerd; gc; the human page."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
from pathlib import Path

import pytest
from servers import FsdgimgServe

from publish.conftest import public_tree, run, run_json, start_nginx

# (repository, layout attribute): every manifest kind, and a second repository sharing blobs
PUBLISHED = [("static/a", "a"), ("static/multi", "multi"), ("static/d2", "docker"), ("static/dlist", "docker_list"),
             ("other/a", "a")]


def publish(images, layout, tree, name, *extra) -> dict:
    return run_json("publish", images.src(layout), "--to", f"static:{tree}", "--name",
                    f"{name}:{images.tag(layout)}", *extra)


@pytest.fixture(scope="module")
def tree(images):
    base = public_tree("static")
    root = base / "tree"
    for name, attr in PUBLISHED:
        layout = getattr(images, attr)
        report = publish(images, layout, root, name)
        assert report["digest"] == images.digest(layout)
    yield root
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def nginx(tree, tmp_path_factory):
    server = start_nginx(tmp_path_factory.mktemp("nginx"), tree)
    yield server
    server.stop()
    assert "[crit]" not in server.error_log() and "[emerg]" not in server.error_log(), server.error_log()


@pytest.fixture(scope="module")
def fsdgimg_serve(tree, tmp_path_factory):
    with FsdgimgServe(tmp_path_factory.mktemp("serve"), tree) as server:
        yield server


def _start_other(kind: str, cls, tree: Path, workdir: Path):
    from servers import free_port, have
    if not have(cls.name if cls.name != "apache" else "apache2"):
        pytest.skip(f"{cls.name} is not installed")
    port = free_port()
    site = run("web-config", kind, "--root", tree, "--listen", f"127.0.0.1:{port}").out
    return cls(workdir, site, port).start()


@pytest.fixture(scope="module")
def apache(tree, tmp_path_factory):
    from servers import Apache
    server = _start_other("apache", Apache, tree, tmp_path_factory.mktemp("apache"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def caddy(tree, tmp_path_factory):
    from servers import Caddy
    server = _start_other("caddy", Caddy, tree, tmp_path_factory.mktemp("caddy"))
    yield server
    server.stop()


@pytest.fixture(params=["nginx", "fsdgimg-serve", "apache", "caddy"])
def server(request):
    return request.getfixturevalue(request.param.replace("-", "_"))


def fetch(port: int, path: str, method: str = "GET", headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def test_base_and_catalog(server):
    status, headers, body = fetch(server.port, "/v2/")
    assert status == 200 and json.loads(body) == {} and headers["content-type"].startswith("application/json")
    assert headers["docker-distribution-api-version"] == "registry/2.0"
    assert fetch(server.port, "/v2/", "HEAD")[0] == 200
    status, _, body = fetch(server.port, "/v2/_catalog")
    assert status == 200 and json.loads(body)["repositories"] == sorted({n for n, _ in PUBLISHED})


@pytest.mark.parametrize("name,attr", PUBLISHED)
def test_manifests_tags_and_blobs(images, server, name, attr):
    layout = getattr(images, attr)
    digest, media_type, tag = images.digest(layout), images.media_type(layout), images.tag(layout)
    for ref in (tag, digest):
        status, headers, body = fetch(server.port, f"/v2/{name}/manifests/{ref}")
        assert status == 200
        assert headers["content-type"] == media_type
        assert headers["docker-content-digest"] == digest
        assert "sha256:" + hashlib.sha256(body).hexdigest() == digest
        status, head_headers, head_body = fetch(server.port, f"/v2/{name}/manifests/{ref}", "HEAD")
        assert status == 200 and head_body == b""
        assert head_headers["content-type"] == media_type and head_headers["docker-content-digest"] == digest
        assert int(head_headers["content-length"]) == len(body)
    status, _, body = fetch(server.port, f"/v2/{name}/tags/list")
    assert status == 200 and json.loads(body) == {"name": name, "tags": [tag]}
    manifest = json.loads(fetch(server.port, f"/v2/{name}/manifests/{digest}")[2])
    if "manifests" in manifest:
        for child in manifest["manifests"]:
            status, headers, _ = fetch(server.port, f"/v2/{name}/manifests/{child['digest']}", "HEAD")
            assert status == 200 and headers["content-type"] == child["mediaType"]
        manifest = json.loads(fetch(server.port, f"/v2/{name}/manifests/{manifest['manifests'][0]['digest']}")[2])
    for blob in [manifest["config"], *manifest["layers"]]:
        status, headers, body = fetch(server.port, f"/v2/{name}/blobs/{blob['digest']}")
        assert status == 200 and len(body) == blob["size"]
        assert "sha256:" + hashlib.sha256(body).hexdigest() == blob["digest"]
        assert headers["docker-content-digest"] == blob["digest"]
        status, headers, head_body = fetch(server.port, f"/v2/{name}/blobs/{blob['digest']}", "HEAD")
        assert status == 200 and head_body == b"" and int(headers["content-length"]) == blob["size"]
        status, headers, part = fetch(server.port, f"/v2/{name}/blobs/{blob['digest']}", headers={"Range": "bytes=5-14"})
        assert status == 206 and part == body[5:15]
        assert headers["content-range"] == f"bytes 5-14/{blob['size']}"


def test_unknown_and_hidden_paths(server, tree):
    missing = "sha256:" + "0" * 64
    for path in ["/v2/static/a/manifests/nope", f"/v2/static/a/manifests/{missing}", f"/v2/static/a/blobs/{missing}",
                 "/v2/nope/manifests/v1", "/v2/nope/tags/list", "/v2/static/a/_tags/v1", "/_web/tags.map",
                 "/.fsdgimg-lock", "/v2/static/a/_tags.json", "/v2/Bad_Name/manifests/v1"]:
        for method in ("GET", "HEAD"):
            assert fetch(server.port, path, method)[0] == 404, (method, path)
    store = next((tree / "v2" / "_store" / "sha256").iterdir()).name
    assert fetch(server.port, f"/v2/_store/sha256/{store}")[0] == 404


def test_serve_keeps_inside_its_directory(fsdgimg_serve, tree, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("not for the web")
    digest = "sha256:" + hashlib.sha256(b"not for the web").hexdigest()
    # a planted symlink pointing outside the tree is not followed out of it
    planted = tree / "v2" / "static" / "a" / "_blobs" / digest
    os.symlink(secret, planted)
    try:
        assert fetch(fsdgimg_serve.port, f"/v2/static/a/blobs/{digest}")[0] == 404
    finally:
        planted.unlink()
    for path in ["/v2/../../../etc/passwd", "/v2/%2e%2e/%2e%2e/etc/passwd", "/v2/static/a/blobs/../../../../etc/passwd",
                 "//etc/passwd", "/v2/static/a/manifests/..%2f..%2fv1", "/v2/static/../a/manifests/v1"]:
        assert fetch(fsdgimg_serve.port, path)[0] in (400, 404), path
    assert fetch(fsdgimg_serve.port, "/v2/", "PUT")[0] == 405


@pytest.mark.parametrize("name,attr", [("static/a", "a"), ("static/multi", "multi"), ("static/dlist", "docker_list")])
def test_clients_pull(images, server, skopeo, podman, containerd, name, attr, tmp_path):
    layout = getattr(images, attr)
    digest, tag = images.digest(layout), images.tag(layout)
    host = f"127.0.0.1:{server.port}"
    info = skopeo.inspect(f"docker://{host}/{name}:{tag}")
    assert info["RepoTags"] == [tag]
    assert skopeo.digest(f"docker://{host}/{name}:{tag}") == digest
    skopeo.copy(f"docker://{host}/{name}:{tag}", f"oci:{tmp_path / 'copy'}:x", "--all")
    assert images.pulled_digest(layout) in podman.pull(f"{host}/{name}:{tag}")
    assert images.pulled_digest(layout) in podman.pull(f"{host}/{name}@{digest}")
    assert containerd.pull(f"{host}/{name}:{tag}") == digest


def _snapshot(root: Path) -> dict:
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            st = os.lstat(os.path.join(dirpath, f))
            out[os.path.join(dirpath, f)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def test_republish_rewrites_nothing(images, tree):
    before = _snapshot(tree)
    report = publish(images, images.multi, tree, "static/multi")
    assert report["blobs_written"] == 0 and report["manifests_written"] == 0 and not report["tag_moved"]
    assert report["files_rewritten"] == []
    assert _snapshot(tree) == before


def test_shared_blobs_stored_once(images, tree):
    a, other = tree / "v2" / "static" / "a" / "_blobs", tree / "v2" / "other" / "a" / "_blobs"
    names = sorted(os.listdir(a))
    assert names == sorted(os.listdir(other))
    for n in names:
        assert os.path.samefile(a / n, other / n)
        hexdigest = n.split(":", 1)[1]
        assert os.path.samefile(a / n, tree / "v2" / "_store" / "sha256" / hexdigest)
    total = sum(os.path.getsize(p) for p in (tree / "v2" / "_store" / "sha256").iterdir())
    assert total == sum(os.stat(p).st_size for p in (tree / "v2" / "_store" / "sha256").iterdir())


def test_index_page(images, tree):
    page = (tree / "index.html").read_text()
    for name, attr in PUBLISHED:
        assert f'id="{name}"' in page
        assert images.digest(getattr(images, attr)) in page
    assert "linux/arm64" in page and "linux/amd64" in page
    assert "podman pull" in page and "skopeo copy" in page
    assert "2023-11-14T22:13:20Z" in page  # --source-date-epoch 1700000000


def test_web_config_locations_only(tree, tmp_path):
    out = run("web-config", "nginx", "--locations-only", "--root", tree).out
    assert "server {" not in out and "listen" not in out
    depth, top_level = 0, []
    for line in out.splitlines():
        stripped = line.strip()
        if depth == 0 and stripped and not stripped.startswith("#"):
            top_level.append(stripped.split()[0])
        depth += line.count("{") - line.count("}")
    assert depth == 0 and set(top_level) == {"location"}
    # it is a valid nginx configuration inside a server of someone else's
    from servers import Nginx, free_port
    port = free_port()
    ngx = Nginx(tmp_path, f"server {{ listen 127.0.0.1:{port}; root {tree};\n{out}\n}}", port)
    check = ngx.check_config()
    assert check.returncode == 0, check.stderr
    # stable: the same bytes each time
    assert run("web-config", "nginx", "--locations-only", "--root", tree).out == out


def test_gc_removes_what_no_tag_reaches(images, tmp_path, skopeo):
    root = tmp_path / "tree"
    publish(images, images.a, root, "gc/x")
    old = images.digest(images.a)
    run("publish", images.src(images.b), "--to", f"static:{root}", "--name", "gc/x:v1")
    new = images.digest(images.b)
    kept = run_json("gc", f"static:{root}")  # default grace: the old image stays served a while
    assert kept["manifests_removed"] == 0 and kept["store_files_removed"] == 0
    assert (root / "v2" / "gc" / "x" / "_manifests" / f"{old}.oci-manifest").exists()
    dry = run_json("gc", f"static:{root}", "--grace", "0", "--dry-run")
    assert dry["manifests_removed"] == 1 and (root / "v2" / "gc" / "x" / "_manifests" / f"{old}.oci-manifest").exists()
    report = run_json("gc", f"static:{root}", "--grace", "0")
    assert report["manifests_removed"] == 1 and report["store_files_removed"] >= 2 and report["bytes_freed"] > 0
    assert not (root / "v2" / "gc" / "x" / "_manifests" / f"{old}.oci-manifest").exists()
    left = {p.name for p in (root / "v2" / "_store" / "sha256").iterdir()}
    manifest = json.loads((root / "v2" / "_store" / "sha256" / new.split(":")[1]).read_bytes())
    assert left == {new.split(":")[1], manifest["config"]["digest"][7:], *(l["digest"][7:] for l in manifest["layers"])}
    with FsdgimgServe(tmp_path / "serve", root) as server:
        skopeo.copy(f"docker://127.0.0.1:{server.port}/gc/x:v1", f"oci:{tmp_path / 'out'}:x")
        assert skopeo.digest(f"docker://127.0.0.1:{server.port}/gc/x:v1") == new


def test_name_defaults_and_errors(images, tmp_path):
    proc = run("publish", images.src(images.a), "--to", f"static:{tmp_path / 't'}", check=False)
    assert proc.returncode != 0 and "--name" in proc.err and proc.err.count("\n") == 1
    proc = run("publish", images.src(images.a), "--to", f"static:{tmp_path / 't'}", "--name", "Bad/Name:v1", check=False)
    assert proc.returncode != 0 and "invalid repository name" in proc.err
    report = run_json("publish", images.src(images.a), "--to", f"static:{tmp_path / 't'}", "--name", "only/name")
    assert report["tag"] == "v1"  # the image's own tag


def test_blobs_linked_from_the_source_or_copied(images, tmp_path):
    linked = publish(images, images.b, tmp_path / "linked", "mode/b")
    copied = publish(images, images.b, tmp_path / "copied", "mode/b", "--copy-blobs")
    assert linked["blobs_linked"] == linked["blobs_written"] == linked["blobs_total"]
    assert copied["blobs_linked"] == 0 and copied["blobs_written"] == copied["blobs_total"]
    for tree, same in (("linked", True), ("copied", False)):
        blobs = sorted((tmp_path / tree / "v2" / "mode" / "b" / "_blobs").iterdir())
        assert len(blobs) == linked["blobs_total"]
        for stored in blobs:  # config and layers; manifests are always written by fsdgimg itself
            source = images.b / "blobs" / "sha256" / stored.name.split(":")[1]
            assert os.path.samefile(source, stored) is same
            assert stored.read_bytes() == source.read_bytes()


def test_tree_readable_by_the_web_server_whatever_the_umask(images, tmp_path):
    tree = tmp_path / "tree"
    run("publish", images.src(images.a), "--to", f"static:{tree}", "--name", "umask/a", "--copy-blobs",
        preexec_umask=0o077)
    for dirpath, dirnames, filenames in os.walk(tree):
        for d in dirnames:
            assert os.stat(os.path.join(dirpath, d)).st_mode & 0o755 == 0o755, d
        for f in filenames:
            if not f.startswith("."):
                assert os.stat(os.path.join(dirpath, f)).st_mode & 0o444 == 0o444, f


def test_additional_tags(images, tmp_path, skopeo):
    tree = tmp_path / "tree"
    report = run_json("publish", images.src(images.b), "--to", f"static:{tree}", "--name", "tags/b:2024.1",
                      "--additional-tag", "latest")
    assert report["tag_moved"]
    tags = json.loads((tree / "v2" / "tags" / "b" / "_tags.json").read_text())["tags"]
    assert tags == ["2024.1", "latest"]
    with FsdgimgServe(tmp_path / "serve", tree) as server:
        for tag in tags:
            assert skopeo.digest(f"docker://127.0.0.1:{server.port}/tags/b:{tag}") == images.digest(images.b)
    proc = run("publish", images.src(images.b), "--to", f"oci:{tmp_path / 'l'}", "--additional-tag", "x", check=False)
    assert proc.returncode == 2 and "--additional-tag" in proc.err


def test_gc_spares_a_pull_in_progress(images, tmp_path):
    """A client resolved the tag, the tag moved, gc ran: within the grace period the client still gets
    every blob of the image it resolved; with no grace it would not."""
    tree = tmp_path / "tree"
    publish(images, images.a, tree, "race/x")
    with FsdgimgServe(tmp_path / "serve", tree) as server:
        status, _, body = fetch(server.port, "/v2/race/x/manifests/v1")
        assert status == 200
        old = json.loads(body)
        run("publish", images.src(images.b), "--to", f"static:{tree}", "--name", "race/x:v1")
        run("gc", f"static:{tree}")  # default grace: 1 h
        for blob in [old["config"], *old["layers"]]:
            status, _, data = fetch(server.port, f"/v2/race/x/blobs/{blob['digest']}")
            assert status == 200 and "sha256:" + hashlib.sha256(data).hexdigest() == blob["digest"]
        run("gc", f"static:{tree}", "--grace", "0")
        assert fetch(server.port, f"/v2/race/x/blobs/{old['layers'][0]['digest']}", "HEAD")[0] == 404
        new = json.loads(fetch(server.port, "/v2/race/x/manifests/v1")[2])
        for blob in [new["config"], *new["layers"]]:
            assert fetch(server.port, f"/v2/race/x/blobs/{blob['digest']}", "HEAD")[0] == 200
