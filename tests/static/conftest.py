"""Fixtures for the static-tree tests: one published tree (every manifest kind, a second repository
sharing blobs, a referrer) served by nginx, Apache, Caddy and `fsdgimg serve` with the generated
configurations, plus helpers to publish artifacts with a subject and to talk raw HTTP."""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
from pathlib import Path

import pytest
from publish.conftest import (  # noqa: F401
    containerd,
    images,
    isolated_credentials,
    podman,
    public_tree,
    run,
    run_json,
    skopeo,
)
from servers import Apache, Caddy, FsdgimgServe, Nginx, free_port, have

from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.blobstore import BlobStore
from fsdgimg.oci.image import Image
from fsdgimg.oci.manifest import parse_manifest

REPO_PYTHON = Path(__file__).resolve().parents[2] / "python"
SERVERS = ["nginx", "fsdgimg-serve", "apache", "caddy"]
BINARIES = {"nginx": "nginx", "apache": "apache2", "caddy": "caddy"}
CLASSES = {"nginx": Nginx, "apache": Apache, "caddy": Caddy}


def publish(images, layout, tree: Path, name: str, *extra) -> dict:
    return run_json("publish", images.src(layout), "--to", f"static:{tree}", "--name",
                    f"{name}:{images.tag(layout)}", *extra)


def referrer_image(where: Path, subject: dict, artifact_type: str = "application/vnd.example.signature") -> Image:
    """An OCI artifact manifest (empty config, one small layer) whose subject is `subject`."""
    store = BlobStore(where / "blobs")
    config, layer = b"{}", b"signature of " + subject["digest"].encode()
    manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "artifactType": artifact_type,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": str(store.put_bytes(config)),
                           "size": len(config)},
                "layers": [{"mediaType": "application/vnd.example.signature.v1", "digest": str(store.put_bytes(layer)),
                            "size": len(layer)}],
                "subject": subject}
    data = json.dumps(manifest).encode()
    return Image(parse_manifest(data, "referrer", mt.OCI_MANIFEST), config, store, where="referrer")


def start(kind: str, tree: Path, workdir: Path, listen_host: str = "127.0.0.1"):
    """One of the four servers on a free port, from the configuration `fsdgimg web-config` prints."""
    workdir.mkdir(parents=True, exist_ok=True)
    if kind == "fsdgimg-serve":
        return FsdgimgServe(workdir, tree).start()
    if not have(BINARIES[kind]):
        pytest.skip(f"{kind} is not installed")
    port = free_port()
    site = run("web-config", kind, "--root", tree, "--listen", f"{listen_host}:{port}").out
    return CLASSES[kind](workdir, site, port).start()


@pytest.fixture(scope="module")
def tree(images):
    base = public_tree("static-tests")
    root = base / "tree"
    for name, attr in [("static/a", "a"), ("static/multi", "multi"), ("static/d2", "docker"), ("other/a", "a")]:
        publish(images, getattr(images, attr), root, name)
    yield root
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def servers(tree, tmp_path_factory):
    started = {}
    yield_value = {}

    def get(kind):
        if kind not in started:
            started[kind] = start(kind, tree, tmp_path_factory.mktemp(kind.replace("-", "_")))
        return started[kind]
    yield_value["get"] = get
    yield get
    for server in started.values():
        server.stop()


@pytest.fixture(params=SERVERS)
def server(request, servers):
    return servers(request.param)


class Response:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:200]!r}>"


def fetch(port: int, path: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None,
          host: str = "127.0.0.1") -> Response:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
