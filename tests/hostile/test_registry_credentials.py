"""Hostile registries (a Python server on loopback, a second port as "the other host"): credentials
stay with the origin they belong to, plain HTTP elsewhere is refused, a server that is not a
distribution registry is named as such, a hung registry fails in bounded time, a server's error text
cannot drive the terminal, and a blob whose bytes differ from its name is refused with nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.cli import fsdgimg
from fixtures.hostile_registry import HostileRegistry, Silent

USER, PASSWORD = "bob", "pa55-Secret-word"


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("image")
    (root / "rootfs" / "etc").mkdir(parents=True)
    (root / "rootfs" / "etc" / "payload").write_bytes(os.urandom(300_000))
    fsdgimg("convert", root / "rootfs", f"oci:{root / 'oci'}:v1", "--source-date-epoch", "1")
    return root / "oci"


def _digest(layout: Path) -> str:
    return json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]


def cli(tmp_path: Path, *args, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """The command line with no auth file, credential variable or cache of the machine's user."""
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True, exist_ok=True)
    full = {k: v for k, v in os.environ.items()
            if k not in ("REGISTRY_AUTH_FILE", "FSDGIMG_REGISTRY_USERNAME", "FSDGIMG_REGISTRY_PASSWORD")}
    full.update(HOME=str(home), DOCKER_CONFIG=str(home / ".docker"), XDG_RUNTIME_DIR=str(home / "run"),
                XDG_CACHE_HOME=str(home / "cache"), NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    full.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "fsdgimg", *map(str, args)], capture_output=True, env=full,
                          input=input.encode() if input is not None else None, timeout=300)
    proc.out, proc.err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    return proc


def one_line(proc, *needles) -> None:
    assert proc.returncode == 1, proc.err
    assert proc.err.count("\n") == 1 and "Traceback" not in proc.err, proc.err
    for needle in needles:
        assert needle in proc.err, proc.err
    assert PASSWORD not in proc.err + proc.out


def push(tmp_path, layout, reg, name="h/a:v1", *extra):
    return cli(tmp_path, "publish", f"oci:{layout}:v1", "--to", f"docker://{reg.host}/{name}", "--no-state",
               "--retries", "1", "--username", USER, "--password-stdin", *extra, input=PASSWORD)


def test_upload_to_another_origin_gets_no_credentials(layout, tmp_path):
    with HostileRegistry(users={USER: PASSWORD}) as reg, HostileRegistry(reg.store) as other:
        reg.upload_to = other.base
        proc = push(tmp_path, layout, reg)
        assert proc.returncode == 0, proc.err
        assert reg.store.manifests[("h/a", "v1")]
        assert any(r["method"] == "PUT" for r in other.requests)  # the blobs did go there
        assert reg.saw_credentials() and not other.saw_credentials()


def test_redirected_download_gets_no_credentials(layout, tmp_path):
    with HostileRegistry(users={USER: PASSWORD}) as reg, HostileRegistry(reg.store) as other:
        assert push(tmp_path, layout, reg).returncode == 0
        reg.redirect_blobs_to = other.base
        env = {"FSDGIMG_REGISTRY_USERNAME": USER, "FSDGIMG_REGISTRY_PASSWORD": PASSWORD}
        proc = cli(tmp_path, "publish", f"docker://{reg.host}/h/a:v1", "--to", f"static:{tmp_path / 'tree'}",
                   "--name", "a:v1", "--json", env=env)
        assert proc.returncode == 0, proc.err
        assert json.loads(proc.out)["digest"] == _digest(layout)
        assert any(r["path"].startswith("/blob/") for r in other.requests)
        assert not other.saw_credentials()


def test_plain_http_upload_to_a_remote_host_is_refused(layout, tmp_path):
    with HostileRegistry(users={USER: PASSWORD}) as reg:
        reg.upload_to = "http://192.0.2.1:9"  # TEST-NET-1: never contacted
        one_line(push(tmp_path, layout, reg), "refusing plain HTTP to 192.0.2.1:9")


def test_web_server_answering_200_is_not_a_registry(layout, tmp_path):
    with HostileRegistry(ok_everything=True, api_header=False) as web:
        proc = push(tmp_path, layout, web)
        one_line(proc, web.host, "not an OCI distribution registry")
        assert not any(r["method"] in ("PUT", "PATCH", "POST") for r in web.requests)


def test_registry_claiming_a_blob_of_another_size(layout, tmp_path):
    with HostileRegistry(claim_size=1 << 40) as reg:
        one_line(push(tmp_path, layout, reg), "claims to have blob")
        assert not reg.store.manifests


def test_manifest_put_must_be_confirmed(layout, tmp_path):
    with HostileRegistry(manifest_status=200) as reg:
        one_line(push(tmp_path, layout, reg), "without the digest it stored")


def test_never_answering_registry_fails_in_bounded_time(layout, tmp_path):
    from fsdgimg.transports.registry.client import CONNECT_TIMEOUT, DEADLINE, READ_TIMEOUT
    assert DEADLINE <= 60 and CONNECT_TIMEOUT + READ_TIMEOUT <= DEADLINE
    with Silent() as silent:
        start = time.monotonic()
        proc = cli(tmp_path, "inspect", f"docker://{silent.host}/h/a:v1", env={"FSDGIMG_REGISTRY_TIMEOUT": "4"})
        took = time.monotonic() - start
    one_line(proc, silent.host)
    assert took < 15, took


def test_registry_error_text_cannot_drive_the_terminal(layout, tmp_path):
    with HostileRegistry(error_text="evil\x1b[2J\x1b[31m\nfake: second line\x07") as reg:
        proc = cli(tmp_path, "inspect", f"docker://{reg.host}/h/a:v1")
        one_line(proc, "\\x1b[2J", "DENIED")
        assert "\x1b" not in proc.err and "\x07" not in proc.err


def test_blob_not_matching_its_digest_is_refused_and_nothing_written(layout, tmp_path):
    index = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs" / "sha256" / index.split(":")[1]).read_text())
    layer = manifest["layers"][0]["digest"]
    with HostileRegistry() as reg:
        assert push(tmp_path, layout, reg).returncode == 0
        reg.corrupt = {layer}
        tree = tmp_path / "tree"
        proc = cli(tmp_path, "publish", f"docker://{reg.host}/h/a:v1", "--to", f"static:{tree}", "--name", "c:v1")
        one_line(proc, layer)
        assert not (tree / "v2" / "c" / "_tags").exists()
        assert not (tree / "v2" / "_store" / "sha256" / layer.split(":")[1]).exists()
        assert not (tree / "v2" / "c" / "_manifests").exists()
        out = tmp_path / "oci"
        proc = cli(tmp_path, "convert", f"docker://{reg.host}/h/a:v1", f"oci:{out}:v1")
        one_line(proc, layer)
        assert not (out / "index.json").exists() or "manifests\": []" in (out / "index.json").read_text() \
            or json.loads((out / "index.json").read_text())["manifests"] == []
        assert not (out / "blobs" / "sha256" / layer.split(":")[1]).exists()


def test_download_cut_short_resumes_with_range(tmp_path):
    (tmp_path / "rootfs" / "srv").mkdir(parents=True)
    (tmp_path / "rootfs" / "srv" / "noise").write_bytes(os.urandom(3_500_000))
    big = tmp_path / "big"
    fsdgimg("convert", tmp_path / "rootfs", f"oci:{big}:v1", "--source-date-epoch", "1")
    with HostileRegistry(cut_blobs=2_500_000) as reg:
        assert push(tmp_path, big, reg).returncode == 0
        reg.requests.clear()
        tree = tmp_path / "tree"
        proc = cli(tmp_path, "publish", f"docker://{reg.host}/h/a:v1", "--to", f"static:{tree}", "--name", "r:v1",
                   "--json")
        assert proc.returncode == 0, proc.err
        assert json.loads(proc.out)["digest"] == _digest(big)
        ranges = [r["headers"].get("Range") for r in reg.requests if "/blobs/" in r["path"] and r["method"] == "GET"]
        resumed = [r for r in ranges if r and r.startswith("bytes=")]
        assert resumed and all(0 < int(r[6:-1]) <= 2_500_000 for r in resumed), ranges


def test_large_blob_not_matching_its_digest_is_refused(tmp_path):
    """A blob above the read-ahead threshold is checked on the read-ahead thread: the same one line."""
    (tmp_path / "rootfs" / "srv").mkdir(parents=True)
    (tmp_path / "rootfs" / "srv" / "noise").write_bytes(os.urandom(2_500_000))
    big = tmp_path / "big"
    fsdgimg("convert", tmp_path / "rootfs", f"oci:{big}:v1", "--source-date-epoch", "1")
    manifest = json.loads((big / "blobs" / "sha256" / _digest(big).split(":")[1]).read_text())
    layer = manifest["layers"][0]["digest"]
    with HostileRegistry() as reg:
        assert push(tmp_path, big, reg).returncode == 0
        reg.corrupt = {layer}
        for dest, out in ((f"static:{tmp_path / 'tree'}", tmp_path / "tree"), (f"oci:{tmp_path / 'oci'}:v1", tmp_path / "oci")):
            extra = ["--name", "c:v1"] if dest.startswith("static:") else []
            proc = cli(tmp_path, "publish", f"docker://{reg.host}/h/a:v1", "--to", dest, *extra)
            one_line(proc, layer, "content has digest")
            assert not list(out.rglob(layer.split(":")[1])), list(out.rglob("*"))
