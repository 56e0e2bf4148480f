"""`fsdgimg serve`: what the docker CLI, caches and many or slow clients need from it."""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import subprocess
import threading
import time

import pytest
from servers import FsdgimgServe

from static.conftest import fetch, start

# The first bytes of a TLS 1.2 ClientHello record, as a client trying HTTPS first sends them.
CLIENT_HELLO = bytes.fromhex("160301020001000200" "0303") + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00"


class QuietServe(FsdgimgServe):
    """serve without request logging, optionally with a descriptor limit."""

    def __init__(self, workdir, root, nofile: int | None = None):
        super().__init__(workdir, root)
        self.nofile = nofile

    def command(self):
        cmd = [*super().command(), "--quiet"]
        return ["prlimit", f"--nofile={self.nofile}:{self.nofile}", "--", *cmd] if self.nofile else cmd


@pytest.fixture(scope="module")
def serve(tree, tmp_path_factory):
    with QuietServe(tmp_path_factory.mktemp("serve"), tree) as server:
        yield server


def raw(port: int, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_tls_on_the_plain_port_gets_an_http_400(serve):
    answer = raw(serve.port, CLIENT_HELLO)
    assert answer.startswith(b"HTTP/1.0 400 Bad Request\r\n"), answer[:200]
    # what a client trying HTTPS first reports, and then falls back on
    curl = subprocess.run(["curl", "-sS", "-k", f"https://127.0.0.1:{serve.port}/v2/"], capture_output=True, text=True)
    assert curl.returncode != 0 and "wrong version number" in curl.stderr.lower(), curl.stderr
    assert fetch(serve.port, "/v2/").status == 200


def test_options(serve):
    r = fetch(serve.port, "/v2/static/a/manifests/v1", "OPTIONS")
    assert r.status == 204 and r.headers["allow"] == "GET, HEAD, OPTIONS" and r.body == b""


def test_if_range(serve, images):
    digest = images.digest(images.a)
    manifest = json.loads(fetch(serve.port, f"/v2/static/a/manifests/{digest}").body)
    blob = f"/v2/static/a/blobs/{manifest['layers'][0]['digest']}"
    full = fetch(serve.port, blob)
    etag = full.headers["etag"]
    part = fetch(serve.port, blob, headers={"Range": "bytes=10-19", "If-Range": etag})
    assert part.status == 206 and part.body == full.body[10:20]
    other = fetch(serve.port, blob, headers={"Range": "bytes=10-19", "If-Range": '"sha256:' + "1" * 64 + '"'})
    assert other.status == 200 and other.body == full.body  # another version: the whole current one
    dated = fetch(serve.port, blob, headers={"Range": "bytes=10-19", "If-Range": full.headers["last-modified"]})
    assert dated.status == 206 and dated.body == full.body[10:20]
    suffix = fetch(serve.port, blob, headers={"Range": "bytes=-5"})
    assert suffix.status == 206 and suffix.body == full.body[-5:]


def test_range_with_a_huge_number(serve, images):
    digest = images.digest(images.a)
    manifest = json.loads(fetch(serve.port, f"/v2/static/a/manifests/{digest}").body)
    blob = f"/v2/static/a/blobs/{manifest['layers'][0]['digest']}"
    size = manifest["layers"][0]["size"]
    huge = "9" * 5000
    r = fetch(serve.port, blob, headers={"Range": f"bytes={huge}-"})
    assert r.status == 416 and r.headers["content-range"] == f"bytes */{size}"
    assert r.json()["errors"][0]["code"] == "RANGE_INVALID"
    r = fetch(serve.port, blob, headers={"Range": f"bytes=0-{huge}"})
    assert r.status == 206 and len(r.body) == size
    r = fetch(serve.port, blob, headers={"Range": f"bytes=-{huge}"})
    assert r.status == 206 and len(r.body) == size
    assert fetch(serve.port, "/v2/").status == 200  # and it still answers


def test_pagination_with_link(serve):
    r = fetch(serve.port, "/v2/_catalog?n=1")
    assert r.status == 200 and r.json() == {"repositories": ["other/a"]}
    assert r.headers["link"] == '</v2/_catalog?n=1&last=other%2Fa>; rel="next"'
    r = fetch(serve.port, "/v2/_catalog?n=1&last=other%2Fa")
    assert r.json() == {"repositories": ["static/a"]}
    r = fetch(serve.port, "/v2/_catalog?n=2&last=static%2Fa")
    assert r.json() == {"repositories": ["static/d2", "static/multi"]} and "link" not in r.headers
    r = fetch(serve.port, "/v2/static/a/tags/list?n=0")
    assert r.status == 200 and r.json() == {"name": "static/a", "tags": []}
    r = fetch(serve.port, "/v2/static/a/tags/list?last=v0")
    assert r.json() == {"name": "static/a", "tags": ["v1"]}
    r = fetch(serve.port, "/v2/static/a/tags/list?n=x")
    assert r.status == 400 and r.json()["errors"][0]["code"] == "PAGINATION_NUMBER_INVALID"
    assert fetch(serve.port, "/v2/nope/tags/list?n=1").json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_kept_alive_requests_take_under_a_millisecond(serve):
    conn = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=10)
    times = []
    for i in range(300):
        t = time.perf_counter()
        conn.request("GET", "/v2/static/a/manifests/v1")
        resp = conn.getresponse()
        resp.read()
        times.append(time.perf_counter() - t)
        assert resp.status == 200
    conn.close()
    times = sorted(times[20:])  # after a warm-up
    # Nagle's algorithm meeting delayed ACKs made every one of these ~44 ms. The machine running the
    # tests is shared (other jobs take the CPU at times), so the fastest quarter is what is measured.
    quartile = times[len(times) // 4]
    assert quartile < 0.001, f"first quartile {quartile * 1000:.2f} ms, median {statistics.median(times) * 1000:.2f} ms"
    assert statistics.median(times) < 0.02


def test_many_concurrent_and_slow_clients(serve, images):
    digest = images.digest(images.a)
    slow = []
    for _ in range(20):  # clients that send their request one byte at a time, never finishing
        s = socket.create_connection(("127.0.0.1", serve.port))
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
        slow.append(s)
    results, latencies, errors = [], [], []
    lock = threading.Lock()

    def client():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=30)
            for path in ("/v2/", "/v2/static/a/manifests/v1", f"/v2/static/a/manifests/{digest}"):
                t = time.perf_counter()
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                with lock:
                    latencies.append(time.perf_counter() - t)
                    results.append(resp.status)
            conn.close()
        except Exception as e:  # noqa: BLE001 -- counted and reported
            with lock:
                errors.append(repr(e))

    stop = threading.Event()

    def dribble():
        while not stop.wait(0.5):
            for s in slow:
                try:
                    s.sendall(b"X")
                except OSError:
                    pass
    dribbler = threading.Thread(target=dribble)
    dribbler.start()
    threads = [threading.Thread(target=client) for _ in range(200)]
    start_time = time.monotonic()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        stop.set()
        dribbler.join()
    elapsed = time.monotonic() - start_time
    assert not errors, errors[:5]
    assert results.count(200) == 600
    p99 = sorted(latencies)[int(len(latencies) * 0.99)]
    assert elapsed < 30 and p99 < 5, (elapsed, p99)
    for s in slow:
        s.close()


def test_idle_sockets_beyond_the_descriptor_limit_do_not_stop_it(tree, tmp_path):
    with QuietServe(tmp_path / "limited", tree, nofile=64) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(65)]
        try:
            t = time.monotonic()
            r = fetch(server.port, "/v2/static/a/manifests/v1")
            assert r.status == 200 and time.monotonic() - t < 5
            for _ in range(20):  # and again, with the idle ones still open
                assert fetch(server.port, "/v2/").status == 200
        finally:
            for s in idle:
                s.close()


@pytest.mark.parametrize("kind", ["nginx", "apache", "caddy", "fsdgimg-serve"])
def test_each_server_listens_on_exactly_the_address_given(kind, tree, tmp_path):
    server = start(kind, tree, tmp_path / kind)
    try:
        lines = subprocess.run(["ss", "-ltnH", f"sport = :{server.port}"], capture_output=True, text=True).stdout
        local = {line.split()[3] for line in lines.splitlines() if line.strip()}
        assert local == {f"127.0.0.1:{server.port}"}, lines
    finally:
        server.stop()
