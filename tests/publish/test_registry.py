"""fsdgimg publish --to docker://: against the real Distribution registry, checked by skopeo, podman
and containerd (every pulled digest must equal the published one)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from publish.conftest import run, run_json


def pushed(images, layout, registry, name, *extra, **kw) -> dict:
    tag = images.tag(layout)
    return run_json("publish", images.src(layout), "--to", f"docker://{registry.host}/{name}:{tag}", *extra, **kw)


@pytest.mark.parametrize("kind", ["a", "multi", "docker", "docker_list"])
def test_push_every_manifest_kind(images, registry, skopeo, kind):
    layout = getattr(images, kind)
    name = f"kinds/{kind.replace('_', '-')}"
    report = pushed(images, layout, registry, name)
    digest = images.digest(layout)
    assert report["digest"] == digest
    ref = f"docker://{registry.host}/{name}:{images.tag(layout)}"
    raw = skopeo.run("inspect", "--tls-verify=false", "--raw", ref).stdout
    assert json.loads(raw)["mediaType"] == images.media_type(layout)
    # the registry stored the very bytes: its digest is ours, and so is the one skopeo computes
    assert registry.manifest_digest(name, images.tag(layout)) == digest
    if kind in ("multi", "docker_list"):
        for child in json.loads(raw)["manifests"]:
            assert registry.manifest_digest(name, child["digest"]) == child["digest"]
    # skopeo copies it whole (it verifies every blob's digest on the way)
    out = skopeo.workdir / f"copy-{kind}"
    skopeo.copy(ref, f"oci:{out}:x", *(["--all"] if kind in ("multi", "docker_list") else []))


def test_repush_sends_nothing(images, registry):
    first = pushed(images, images.b, registry, "again/b")
    assert first["blobs_sent"] == first["blobs_total"] > 0 and first["manifests_put"] == 1
    second = pushed(images, images.b, registry, "again/b")
    assert second["blobs_sent"] == 0 and second["bytes_sent"] == 0
    assert second["blobs_present"] == second["blobs_total"]
    assert second["manifests_put"] == 0 and second["manifests_present"] == 1


def test_pull_by_podman_and_containerd(images, registry, podman, containerd):
    for layout in (images.a, images.multi):
        name = f"clients/{images.tag(layout)}"
        pushed(images, layout, registry, name)
        digest = images.digest(layout)
        ref = f"{registry.host}/{name}:{images.tag(layout)}"
        assert images.pulled_digest(layout) in podman.pull(ref)
        assert images.pulled_digest(layout) in podman.pull(f"{registry.host}/{name}@{digest}")
        assert containerd.pull(ref) == digest


def test_push_by_digest_without_tag(images, registry, skopeo):
    digest = images.digest(images.b)
    report = run_json("publish", images.src(images.b), "--to", f"docker://{registry.host}/bydigest/b@{digest}")
    assert report["digest"] == digest
    assert skopeo.digest(f"docker://{registry.host}/bydigest/b@{digest}") == digest
    try:
        with urllib.request.urlopen(f"http://{registry.host}/v2/bydigest/b/tags/list") as r:
            assert json.load(r).get("tags") in (None, [])
    except urllib.error.HTTPError as e:
        assert e.code == 404  # Distribution: a repository without tags has no tags list
    wrong = run("publish", images.src(images.a), "--to", f"docker://{registry.host}/bydigest/b@{digest}", check=False)
    assert wrong.returncode != 0 and "not the one named" in wrong.err


def test_cross_repository_mount(images, registry):
    first = pushed(images, images.a, registry, "mount/one")
    assert first["blobs_sent"] == first["blobs_total"]
    second = pushed(images, images.a, registry, "mount/two")
    assert second["blobs_mounted"] == second["blobs_total"] and second["bytes_sent"] == 0
    # without remembered locations, --mount-from names the source repository
    third = pushed(images, images.a, registry, "mount/three", "--no-state", "--mount-from", "mount/one")
    assert third["blobs_mounted"] == third["blobs_total"]


def test_unreachable_registry_is_one_clear_line(images):
    from servers import free_port
    port = free_port()
    proc = run("publish", images.src(images.a), "--to", f"docker://127.0.0.1:{port}/x/y:z", "--retries", "1",
               check=False)
    assert proc.returncode == 1
    assert proc.err.count("\n") == 1 and f"127.0.0.1:{port}" in proc.err and "cannot connect" in proc.err
    assert "Traceback" not in proc.err


def test_plain_http_only_for_loopback():
    from fsdgimg.transports.registry.client import RegistryClient, is_loopback, system_trust
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost:5000") and is_loopback("[::1]:5000")
    assert not is_loopback("registry.example.org") and not is_loopback("10.0.0.1:5000")
    # TLS verified, against the system's CAs (a hashed directory or a bundle), or requests' bundle
    verify = RegistryClient("registry.example.org").session.verify
    assert verify is not False and verify == system_trust()


class FlakyProxy:
    """A reverse proxy to a registry that answers every `every`-th request with `status` itself."""

    def __init__(self, upstream: str, every: int, status: int = 503):
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        proxy = self
        self.failed = 0
        self.count = 0
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with lock:
                    proxy.count += 1
                    fail = proxy.count % every == 0
                    proxy.failed += fail
                if fail:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                conn = http.client.HTTPConnection(upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def test_retries_on_server_errors(images, registry):
    proxy = FlakyProxy(registry.host, every=3)
    try:
        report = run_json("publish", images.src(images.multi), "--to", f"docker://{proxy.host}/flaky/multi:multi",
                          "--no-state")
        assert report["digest"] == images.digest(images.multi)
        assert proxy.failed >= 3
    finally:
        proxy.stop()
    assert registry.manifest_digest("flaky/multi", "multi") == images.digest(images.multi)


def test_persistent_server_errors_give_one_clear_line(images, registry):
    proxy = FlakyProxy(registry.host, every=1, status=500)
    try:
        proc = run("publish", images.src(images.a), "--to", f"docker://{proxy.host}/broken/a:v1", "--retries", "2",
                   check=False)
    finally:
        proxy.stop()
    assert proc.returncode == 1 and proc.err.count("\n") == 1 and "Traceback" not in proc.err
    assert proxy.host in proc.err and "500" in proc.err
    assert proxy.count == 3, proc.err  # the first try and two retries


def test_additional_tags_and_digestfile(images, registry, tmp_path):
    digestfile = tmp_path / "digest"
    report = run_json("publish", images.src(images.b), "--to", f"docker://{registry.host}/tags/b:2024.1",
                      "--additional-tag", "latest", "--additional-tag", "stable", "--digestfile", digestfile)
    digest = images.digest(images.b)
    assert digestfile.read_text() == digest == report["digest"]
    for tag in ("2024.1", "latest", "stable"):
        assert registry.manifest_digest("tags/b", tag) == digest
    assert report["manifests_put"] == 3
    again = run_json("publish", images.src(images.b), "--to", f"docker://{registry.host}/tags/b:2024.1",
                     "--additional-tag", "latest", "--additional-tag", "stable")
    assert again["manifests_put"] == 0 and again["bytes_sent"] == 0
