"""A real redirector: Debian sid's mirrorbits 0.6 (with its redis, in the Guix sid chroot) in front of two
mirrors of a static tree. The origin (nginx, `web-config nginx --blob-mirror files:http://MIRRORBITS`)
sends blob downloads to mirrorbits; mirrorbits, configured by `fsdgimg web-config mirrorbits`, has
indexed the origin's tree, listed each mirror's files over rsync, and redirects each blob to a mirror
that has it (plain nginx serving an rsync'ed copy on port 80 of its own loopback address: mirrorbits
0.6 looks a mirror's host up with its port). A blob published after the mirrors' scan goes to the
fallback. skopeo, podman, ctr and fsdgimg follow both redirects and get the published digests, and the
origin serves no blob byte."""

from __future__ import annotations

import random
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from servers import ServerProcess, free_port, have

from static.conftest import public_tree, publish, run
from static.mirrornet import LoggedNginx, blob_requests, rsync_mirror, start_origin
from trust.sid import CHROOT  # the Guix sid chroot (tests/guix/setup-chroot.sh)

REPO = Path(__file__).resolve().parents[2]
GEOIP_SCRIPT = Path(__file__).resolve().parent / "geoip-loopback.pl"


def _in_chroot(*argv) -> list[str]:
    """argv run in the sid chroot with the host's /tmp at the same path (a private mount namespace:
    unshare and sh exec into the program, so the PID we hold is the program's)."""
    script = f'mount --rbind /tmp "{CHROOT}/tmp" && exec chroot "{CHROOT}" "$@"'
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sid", *map(str, argv)]


def _listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


class Redis(ServerProcess):
    name = "redis"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.port = free_port()

    def command(self):
        return _in_chroot("redis-server", "--bind", "127.0.0.1", "--port", self.port, "--save", "",
                          "--appendonly", "no", "--dir", self.workdir)

    def ready(self):
        return _listening("127.0.0.1", self.port)


class Mirrorbits(ServerProcess):
    name = "mirrorbits"

    def __init__(self, workdir: Path, config: str):
        super().__init__(workdir)
        self.port, self.rpc = free_port(), free_port()
        self.config = self.workdir / "mirrorbits.conf"
        self.config.write_text(config)

    def command(self):
        return _in_chroot("mirrorbits", "daemon", "-config", self.config)

    def ready(self):
        return _listening("127.0.0.1", self.port) and _listening("127.0.0.1", self.rpc)

    def cli(self, *args) -> subprocess.CompletedProcess:
        proc = subprocess.run(_in_chroot("mirrorbits", "-h", "127.0.0.1", "-p", self.rpc, *args),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"mirrorbits {' '.join(map(str, args))}:\n{proc.stdout}{proc.stderr}"
        return proc


class RsyncDaemon(ServerProcess):
    name = "rsyncd"

    def __init__(self, workdir: Path, tree: Path, host: str):
        super().__init__(workdir)
        self.host, self.port = host, free_port()
        self.conf = self.workdir / "rsyncd.conf"
        self.conf.write_text(f"use chroot = no\n[tree]\npath = {tree}\nread only = yes\n")

    def command(self):
        return ["rsync", "--daemon", "--no-detach", f"--address={self.host}", f"--port={self.port}",
                f"--config={self.conf}"]

    def ready(self):
        return _listening(self.host, self.port)


def _file_server(tree: Path, workdir: Path, host: str, port: int) -> LoggedNginx:
    """A plain file server for a copy of the tree, as any volunteer mirror runs: no fsdgimg configuration."""
    return LoggedNginx(workdir, f"server {{\n  listen {host}:{port};\n  root {tree};\n}}\n", port, host).start()


@pytest.fixture(scope="module")
def redirector(images):
    if not all((CHROOT / "usr/bin" / tool).exists() for tool in ("mirrorbits", "redis-server", "rsync")):
        proc = subprocess.run(["bash", str(REPO / "tests" / "guix" / "setup-chroot.sh")], capture_output=True,
                              text=True, timeout=900)
        if proc.returncode != 0:
            pytest.skip(f"the sid chroot with mirrorbits is not available: {proc.stderr[-300:]}")
    if not have("nginx", "rsync"):
        pytest.skip("nginx and rsync are needed")
    base = public_tree("mirrorbits")
    tree = base / "origin"
    publish(images, images.a, tree, "mb/a")
    publish(images, images.docker, tree, "mb/d2")
    started = []

    def start(server):
        started.append(server)
        return server.start()
    try:
        # two mirrors on port 80 of addresses of their own (a random /24 of loopback: no other test's)
        net = f"127.{random.randrange(100, 250)}.{random.randrange(1, 250)}"
        mirrors = []
        for i in range(2):
            host = f"{net}.{2 + i}"
            copy = base / f"mirror{i}"
            rsync_mirror(tree, copy)
            mirrors.append((host, start(_file_server(copy, base / f"mirror{i}-nginx", host, 80)),
                            start(RsyncDaemon(base / f"mirror{i}-rsyncd", copy, host))))
        fallback_port = free_port()
        fallback = start(_file_server(tree, base / "fallback-nginx", "127.0.0.1", fallback_port))
        geoip = base / "geoip"
        geoip.mkdir()
        # the script on standard input: the repository is not visible in the chroot, /tmp is
        proc = subprocess.run(_in_chroot("perl", "-", geoip), input=GEOIP_SCRIPT.read_text(), capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stderr
        redis = start(Redis(base / "redis"))
        config = Mirrorbits(base / "mirrorbits", "")
        text = run("web-config", "mirrorbits", "--root", tree, "--listen", f"127.0.0.1:{config.port}",
                   "--redis", f"127.0.0.1:{redis.port}", "--fallback", f"http://127.0.0.1:{fallback_port}").out
        # what an operator edits in the generated file: where its RPC, logs and GeoIP files are
        text = re.sub(r"(?m)^RPCListenAddress: .*$", f"RPCListenAddress: 127.0.0.1:{config.rpc}", text)
        text = re.sub(r"(?m)^LogDir: .*$", f"LogDir: {base / 'mirrorbits' / 'logs'}", text)
        text = re.sub(r"(?m)^GeoipDatabasePath: .*$", f"GeoipDatabasePath: {geoip}/", text)
        config.config.write_text(text)
        (base / "mirrorbits" / "logs").mkdir()
        mb = start(config)
        mb.cli("refresh")  # index the origin's tree now: a mirror's scan is refused before it is
        for i, (host, _, rsyncd) in enumerate(mirrors):
            mb.cli("add", "-http", f"http://{host}/", "-rsync", f"rsync://{host}:{rsyncd.port}/tree/", f"m{i}")
            mb.cli("scan", "-enable", f"m{i}")
        deadline, nudged = time.monotonic() + 90, time.monotonic()
        while True:  # its first HTTP check follows the enable within a second, mostly
            listing = mb.cli("list").stdout
            down = [name for name, state in re.findall(r"(?m)^(m\d)\s+(\w+)", listing) if state != "up"]
            if not down:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"mirrorbits never saw both mirrors up:\n{listing}\n{mb.log()[-2000:]}")
            if time.monotonic() - nudged > 5:
                # seen once in five runs: a mirror enabled while the other's check ran was left for the
                # next round (CheckInterval, a minute); enabling it again checks it at once
                for name in down:
                    mb.cli("disable", name)
                    mb.cli("enable", name)
                nudged = time.monotonic()
            time.sleep(0.5)
        origin = start_origin("nginx", tree, base / "origin-nginx", [f"files:http://127.0.0.1:{mb.port}"])
        started.append(origin)
        yield {"tree": tree, "origin": origin, "mirrorbits": mb, "mirrors": [m[1] for m in mirrors],
               "fallback": fallback}
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _from_mirrors(redirector, digests: set[str], marks: list[int]) -> set[str]:
    """The digests among `digests` that a mirror served (GET, 200) since `marks`."""
    served = [r for m, mark in zip(redirector["mirrors"], marks) for r in blob_requests(m)[mark:]
              if r.method == "GET" and r.status == 200]
    return {d for d in digests if any(r.path.endswith(d) for r in served)}


@pytest.mark.parametrize("client", ["skopeo", "podman", "ctr", "fsdgimg"])
def test_pulls_through_mirrorbits(client, redirector, images, skopeo, podman, containerd, tmp_path):
    from static.test_blob_mirrors import Pullers, _blobs_of
    origin = redirector["origin"]
    host = f"127.0.0.1:{origin.port}"
    pullers = Pullers(tmp_path, skopeo, podman, containerd, None)
    marks = [len(blob_requests(m)) for m in redirector["mirrors"]]
    origin_mark, fallback_mark = len(blob_requests(origin)), len(blob_requests(redirector["fallback"]))
    d2 = images.digest(images.docker)
    assert pullers.pull(client, f"{host}/mb/a:v1") == images.digest(images.a)
    assert pullers.pull(client, f"{host}/mb/d2@{d2}") == d2
    assert not [r for r in blob_requests(origin)[origin_mark:] if r.status != 307], "the origin served blobs"
    blobs = _blobs_of(images, images.a)
    assert _from_mirrors(redirector, blobs, marks) == blobs
    assert not blob_requests(redirector["fallback"])[fallback_mark:]


def test_mirrorbits_redirects_a_blob_no_mirror_has_yet_to_the_fallback(redirector, images):
    """A publish after the mirrors' last scan: mirrorbits learns the new blobs by `mirrorbits refresh`
    (or its next repository scan) and sends them to the fallback until a mirror has them."""
    publish(images, images.b, redirector["tree"], "mb/b")
    redirector["mirrorbits"].cli("refresh")
    origin = redirector["origin"]
    layer = next(iter(_layers(images, images.b)))
    deadline = time.monotonic() + 30
    while True:
        r = urllib_head(f"http://127.0.0.1:{origin.port}/v2/mb/b/blobs/{layer}")
        if r[0] == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r[0] == 200, r
    assert any(x.path.endswith(layer) for x in blob_requests(redirector["fallback"]))
    assert not any(x.path.endswith(layer) for m in redirector["mirrors"] for x in blob_requests(m))


def _layers(images, layout: Path) -> list[str]:
    import json
    manifest = json.loads((layout / "blobs" / "sha256" / images.digest(layout)[7:]).read_bytes())
    return [layer["digest"] for layer in manifest["layers"]]


def urllib_head(url: str) -> tuple[int, str]:
    """GET following redirects (origin -> mirrorbits -> a mirror or the fallback): status and final URL."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            r.read()
            return r.status, r.url
    except urllib.error.HTTPError as e:
        return e.code, e.url
    except OSError as e:
        return 0, str(e)


def test_web_config_mirrorbits_is_checked(tmp_path):
    out = run("web-config", "mirrorbits", "--root", tmp_path, "--blob-mirror", "http://m.example.org", check=False)
    assert out.returncode == 2 and "mirrorbits add" in out.err and out.err.count("\n") == 1, out.err
    out = run("web-config", "mirrorbits", "--root", tmp_path, "--fallback", "ftp://x", check=False)
    assert out.returncode == 2 and "--fallback 'ftp://x'" in out.err, out.err
    out = run("web-config", "nginx", "--root", tmp_path, "--redis", "127.0.0.1:6379", check=False)
    assert out.returncode == 2 and "for mirrorbits" in out.err, out.err
