"""docker (Debian's docker.io daemon and CLI) against every server of a static tree: pulls by tag, by
digest and by platform, and `docker manifest inspect`."""

from __future__ import annotations

import json
import subprocess

import pytest
from servers import Dockerd, have

from static.conftest import SERVERS


@pytest.fixture(scope="module")
def dockerd(tmp_path_factory):
    if not have("dockerd", "docker"):
        pytest.skip("docker.io is not installed")
    # dockerd treats 127.0.0.0/8 as an insecure (plain HTTP) registry range by default
    with Dockerd(tmp_path_factory.mktemp("dockerd")) as d:
        yield d


def _inspect(dockerd, ref: str) -> dict:
    return json.loads(dockerd.docker("image", "inspect", ref).stdout)[0]


@pytest.mark.parametrize("kind", SERVERS)
def test_docker_pulls_by_tag_digest_and_platform(kind, servers, dockerd, images):
    server = servers(kind)
    host = f"127.0.0.1:{server.port}"
    a, multi = images.digest(images.a), images.digest(images.multi)
    try:
        dockerd.docker("pull", f"{host}/static/a:v1")
        assert f"{host}/static/a@{a}" in _inspect(dockerd, f"{host}/static/a:v1")["RepoDigests"]
        dockerd.docker("pull", f"{host}/other/a@{a}")
        assert f"{host}/other/a@{a}" in _inspect(dockerd, f"{host}/other/a@{a}")["RepoDigests"]
        dockerd.docker("pull", "--platform", "linux/arm64", f"{host}/static/multi:multi")
        image = _inspect(dockerd, f"{host}/static/multi:multi")
        assert image["Architecture"] == "arm64" and f"{host}/static/multi@{multi}" in image["RepoDigests"]
        dockerd.docker("pull", "--platform", "linux/amd64", f"{host}/static/d2:d2")
        assert _inspect(dockerd, f"{host}/static/d2:d2")["Architecture"] == "amd64"
    finally:
        dockerd.docker("image", "rm", "-f", f"{host}/static/a:v1", f"{host}/other/a@{a}",
                       f"{host}/static/multi:multi", f"{host}/static/d2:d2", check=False)


@pytest.mark.parametrize("kind", SERVERS)
def test_docker_manifest_inspect(kind, servers, dockerd, images):
    """Debian's docker CLI (20.10) reads Docker schema 2 manifests and lists with `manifest inspect`
    (OCI media types are beyond that CLI, whatever the server)."""
    server = servers(kind)
    host = f"127.0.0.1:{server.port}"
    d2 = images.digest(images.docker)
    out = dockerd.docker("manifest", "inspect", "--insecure", "-v", f"{host}/static/d2:d2").stdout
    info = json.loads(out)
    assert info["Descriptor"]["digest"] == d2
    assert info["SchemaV2Manifest"]["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    missing = dockerd.docker("manifest", "inspect", "--insecure", f"{host}/static/d2:nope", check=False)
    assert missing.returncode != 0 and "no such manifest" in (missing.stdout + missing.stderr)


NEWER_CLI = "/usr/local/bin/docker"


def _newer_cli() -> bool:
    try:
        out = subprocess.run([NEWER_CLI, "version", "--format", "{{.Client.Version}}"], capture_output=True,
                             text=True, timeout=30).stdout
        return int(out.split(".")[0]) >= 23
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return False


@pytest.mark.parametrize("kind", SERVERS)
def test_newer_docker_cli_manifest_inspect_of_oci_images(kind, servers, dockerd, images):
    """A docker CLI that reads OCI manifests tries HTTPS first and falls back to plain HTTP only when
    the server answers the TLS handshake with an HTTP error: every server does."""
    if not _newer_cli():
        pytest.skip("no docker CLI 23 or newer on this machine (Debian 12 ships 20.10)")
    server = servers(kind)
    host = f"127.0.0.1:{server.port}"
    proc = subprocess.run([NEWER_CLI, "manifest", "inspect", "--insecure", f"{host}/static/a:v1"],
                          capture_output=True, text=True, env=dockerd.client_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(proc.stdout)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["digest"] == json.loads(
        (images.a / "blobs" / "sha256" / images.digest(images.a)[7:]).read_bytes())["config"]["digest"]
