"""What the channel's services generate, run by real servers and clients: the config.yml of
registry-service-type starts the Distribution registry (Debian's docker-registry), the nginx
server of static-registry-service-type serves a fsdgimg static tree that skopeo pulls, and the
registries.conf of containers-registries-service-type is what podman and skopeo resolve with."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from guixrun import guix, guix_chroot, scheme, scheme_string  # noqa: F401 (fixture)
from servers import Nginx, Podman, ServerProcess, Skopeo, _http_status, free_port, have

pytestmark = pytest.mark.usefixtures("guix_chroot", "tools")

REGISTRY = os.environ.get("FSDGIMG_REGISTRY_BIN", "docker-registry")


@pytest.fixture(scope="module")
def tools():
    missing = [c for c in (REGISTRY, "nginx", "skopeo", "podman", "htpasswd") if not have(c)]
    if missing:
        pytest.fail(f"missing {missing}: run `bash scripts/setup.sh`", pytrace=False)


@pytest.fixture
def short_dir():
    """A world-readable directory with a short name: nginx's workers (not root) read the static tree
    there, and podman refuses a run root longer than 50 characters."""
    path = Path(tempfile.mkdtemp(prefix="fsdgch-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def fsdgimg(*args: str) -> str:
    """Run the checkout's real command line; its standard output."""
    proc = subprocess.run([sys.executable, "-m", "fsdgimg", *map(str, args)], capture_output=True, text=True)
    assert proc.returncode == 0, f"fsdgimg {' '.join(map(str, args))}: {proc.stderr[-3000:]}"
    return proc.stdout


def http(url: str, method: str = "GET", auth: tuple[str, str] | None = None):
    """(status, headers, body) of a request, errors included."""
    req = urllib.request.Request(url, method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class GeneratedRegistry(ServerProcess):
    """The registry serving the config.yml that registry-service-type generates: Debian's
    docker-registry (2.8), or the binary FSDGIMG_REGISTRY_BIN names (e.g. a 3.x `registry`)."""

    name = "registry"

    def __init__(self, workdir: Path, **fields: str):
        super().__init__(workdir)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        settings = {"address": scheme_string(self.host),
                    "storage-root": scheme_string(str(self.workdir / "storage")), **fields}
        expression = "(registry-configuration->yaml (registry-configuration {}))".format(
            " ".join(f"({k} {v})" for k, v in settings.items()))
        self.config_path = self.workdir / "config.yml"
        self.config_path.write_text(scheme(expression))

    def command(self) -> list[str]:
        return [REGISTRY, "serve", str(self.config_path)]

    def ready(self) -> bool:
        return _http_status(f"http://{self.host}/v2/") in (200, 401)


@pytest.fixture(scope="module")
def registry_with_image(tmp_path_factory, oci_image):
    """The generated registry (delete on), holding hello:latest pushed by skopeo."""
    work = tmp_path_factory.mktemp("generated-registry")
    with GeneratedRegistry(work / "registry", **{"delete?": "#t"}) as registry:
        Skopeo(work / "skopeo").copy(f"oci:{oci_image}:latest", f"docker://{registry.host}/hello:latest")
        yield registry


def test_generated_config_starts_the_registry(registry_with_image):
    status, headers, body = http(f"http://{registry_with_image.host}/v2/")
    assert status == 200 and json.loads(body) == {}
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, _, body = http(f"http://{registry_with_image.host}/v2/hello/tags/list")
    assert status == 200 and json.loads(body)["tags"] == ["latest"]
    text = registry_with_image.config_path.read_text()
    assert str(registry_with_image.workdir / "storage") in text
    assert (registry_with_image.workdir / "storage/docker/registry/v2/repositories/hello").is_dir()


def test_generated_read_only_config_refuses_pushes(tmp_path):
    with GeneratedRegistry(tmp_path, **{"read-only?": "#t"}) as registry:
        assert http(f"http://{registry.host}/v2/")[0] == 200
        status, _, body = http(f"http://{registry.host}/v2/hello/blobs/uploads/", method="POST")
        assert status == 405, body


def test_generated_htpasswd_config_asks_for_a_user(tmp_path):
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-B", "-b", "-c", str(htpasswd), "alice", "s3cret"], check=True,
                   capture_output=True)
    with GeneratedRegistry(tmp_path / "registry", **{"htpasswd-file": scheme_string(str(htpasswd))}) as registry:
        status, headers, _ = http(f"http://{registry.host}/v2/")
        assert status == 401 and "fsdgimg-registry" in headers["WWW-Authenticate"]
        assert http(f"http://{registry.host}/v2/", auth=("alice", "s3cret"))[0] == 200
        assert http(f"http://{registry.host}/v2/", auth=("alice", "wrong"))[0] == 401


def test_static_registry_server_serves_a_tree_skopeo_pulls(tmp_path, short_dir, oci_image):
    tree = short_dir / "tree"
    fsdgimg("publish", f"oci:{oci_image}:latest", "--to", f"static:{tree}", "--name", "hello:latest")
    port = free_port()
    locations = tmp_path / "locations.conf"
    out = guix("repl", "-L", "channel", "--", "tests/guix/static-nginx-server.scm",
               str(tree), f"127.0.0.1:{port}", str(locations)).stdout
    server_block, _, arguments = out.rstrip("\n").rpartition("\n")
    assert f"include {locations};" in server_block
    assert not re.search(r"^\s*location\b", server_block, re.M)  # the locations are fsdgimg's, not described in Scheme
    # What the service's computed-file runs at build time, run here by the checkout's fsdgimg.
    locations.write_text(fsdgimg(*arguments.split()))
    with Nginx(tmp_path / "nginx", server_block, port) as nginx:
        status, _, body = http(f"http://127.0.0.1:{port}/v2/")
        assert status == 200 and json.loads(body) == {}, nginx.error_log()
        skopeo = Skopeo(tmp_path / "skopeo")
        skopeo.copy(f"docker://127.0.0.1:{port}/hello:latest", f"oci:{tmp_path / 'pulled'}:latest")
        assert skopeo.digest(f"docker://127.0.0.1:{port}/hello:latest") == \
            skopeo.run("inspect", "--format", "{{.Digest}}", f"oci:{tmp_path / 'pulled'}:latest").stdout.strip()


class PodmanWithPolicy(Podman):
    def __init__(self, workdir: Path, registries_conf: Path):
        super().__init__(workdir)
        self.registries_conf = registries_conf

    def env(self) -> dict:
        return dict(super().env(), CONTAINERS_REGISTRIES_CONF=str(self.registries_conf))





def registries_conf(path: Path, search: list[str], insecure: list[str]) -> Path:
    def strings(items):
        return "'(" + " ".join(scheme_string(i) for i in items) + ")"
    path.write_text(scheme(
        "(containers-registries-configuration->toml (containers-registries-configuration"
        f" (unqualified-search-registries {strings(search)}) (insecure-registries {strings(insecure)})))"))
    return path


def test_registries_conf_resolves_short_names_on_fsdg_registries_only(tmp_path, short_dir, registry_with_image):
    host = registry_with_image.host
    conf = registries_conf(tmp_path / "registries.conf", [host], [host])
    podman = PodmanWithPolicy(short_dir / "podman", conf)
    try:
        # "hello" has no registry: podman looks it up on the search list, over plain HTTP as the
        # file allows, and finds it on our registry, never on docker.io.
        podman.run("pull", "-q", "hello:latest")
        names = podman.run("image", "list", "--format", "{{.Repository}}").stdout.split()
        assert names == [f"{host}/hello"]
        # skopeo reads the same file (and rejects a malformed one, checked below).
        skopeo = subprocess.run(["skopeo", "--registries-conf", str(conf), "inspect", "--format",
                                 "{{.Name}}", f"docker://{host}/hello:latest"], capture_output=True, text=True)
        assert skopeo.returncode == 0 and skopeo.stdout.strip() == f"{host}/hello", skopeo.stderr
    finally:
        podman.reset()


def test_registries_conf_with_no_search_registry_resolves_no_short_name(tmp_path, short_dir,
                                                                       registry_with_image):
    conf = registries_conf(tmp_path / "registries.conf", [], [registry_with_image.host])
    podman = PodmanWithPolicy(short_dir / "podman", conf)
    try:
        # With no search registry a short name has nowhere to go: podman fails at once, without
        # trying docker.io (which this machine cannot reach: a try would show as a network error).
        proc = podman.run("pull", "-q", "hello:latest", check=False)
        assert proc.returncode != 0
        assert "short-name" in proc.stderr and "unqualified-search" in proc.stderr, proc.stderr
        # A fully qualified name still works.
        podman.run("pull", "-q", f"{registry_with_image.host}/hello:latest")
    finally:
        podman.reset()


def test_skopeo_rejects_a_malformed_registries_conf(tmp_path):
    # The control for the acceptance checks above: skopeo does parse the file it is given.
    bad = tmp_path / "bad.conf"
    bad.write_text("unqualified-search-registries = [\n")
    proc = subprocess.run(["skopeo", "--registries-conf", str(bad), "inspect", "docker://hello:latest"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "registries" in proc.stderr.lower()
