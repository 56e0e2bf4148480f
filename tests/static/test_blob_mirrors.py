"""Blob mirrors (fsdgimg/transports/static/mirrors.py): an origin served by nginx, Apache, Caddy or
`fsdgimg serve` with `--blob-mirror` twice, and two rsync'ed copies of its tree served by nginx on
127.0.0.2 and 127.0.0.3. Real clients (docker, podman, skopeo, ctr, fsdgimg, and sid's crane and oras)
pull by tag and by digest and get the published digests, while the origin's access log shows no
blob byte: each blob is fetched from the mirror its digest picks. A mirror serving a corrupted blob
makes every client fail; a mirror marked down sends its share back to the origin."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from servers import Dockerd, free_port, have

from fsdgimg.transports.static import mirrors as blob_mirrors
from static.conftest import fetch, public_tree, publish, run
from static.mirrornet import LoggedNginx, blob_requests, rsync_mirror, start_mirror, start_origin
from trust.sid import CHROOT  # the Guix sid chroot (tests/guix/setup-chroot.sh)

REPO = Path(__file__).resolve().parents[2]
ORIGINS = ["nginx", "apache", "caddy", "fsdgimg-serve"]
BINARIES = {"nginx": "nginx", "apache": "apache2", "caddy": "caddy", "fsdgimg-serve": "python3"}


class Net:
    def __init__(self, base: Path, origin_tree: Path, mirror_trees: list[Path], mirror_servers: list):
        self.base, self.tree, self.mirror_trees, self.mirrors = base, origin_tree, mirror_trees, mirror_servers
        self.urls = [f"http://{m.host}:{m.port}" for m in mirror_servers]
        self.parsed = blob_mirrors.parse_all(self.urls)
        self.origins: dict[str, object] = {}

    def origin(self, kind: str):
        if not have(BINARIES[kind]):
            pytest.skip(f"{kind} is not installed")
        if kind not in self.origins:
            self.origins[kind] = start_origin(kind, self.tree, self.base / f"origin-{kind}", self.urls)
        return self.origins[kind]

    def mirror_of(self, digest: str) -> int:
        return blob_mirrors.index(digest, len(self.urls))


@pytest.fixture(scope="module")
def net(images):
    if not have("rsync", "nginx"):
        pytest.skip("rsync and nginx are needed")
    base = public_tree("blob-mirrors")
    tree = base / "origin"
    for name, attr in [("static/a", "a"), ("static/d2", "docker"), ("static/b", "b"), ("static/multi", "multi")]:
        publish(images, getattr(images, attr), tree, name)
    trees = [base / "mirror0", base / "mirror1"]
    servers, origins = [], {}
    try:
        for i, mirror_tree in enumerate(trees):
            rsync_mirror(tree, mirror_tree)
            servers.append(start_mirror(mirror_tree, base / f"mirror{i}-nginx", f"127.0.0.{2 + i}"))
        n = Net(base, tree, trees, servers)
        origins = n.origins
        yield n
    finally:
        for server in servers + list(origins.values()):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _blobs_of(images, layout: Path) -> set[str]:
    """The digests of the config and layers of every image `layout`'s top manifest reaches."""
    def read(digest):
        return json.loads((layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())
    todo, out = [read(images.digest(layout))], set()
    while todo:
        m = todo.pop()
        todo += [read(d["digest"]) for d in m.get("manifests", [])]
        out |= {d["digest"] for d in ([m["config"]] if "config" in m else []) + m.get("layers", [])}
    return out


def _assert_no_blob_bytes_at_origin(origin, since: int = 0) -> list:
    seen = blob_requests(origin)[since:]
    served = [r for r in seen if r.status != 307]
    assert not served, f"the origin answered blob requests itself: {served[:5]}"
    return seen


def _assert_each_blob_from_its_mirror(net, digests: set[str], before: list[int]) -> None:
    """Every blob in `digests` was GET from the mirror its digest picks, with a 200, and never from the
    other: the choice is the documented one, and stable."""
    logs = [blob_requests(m)[b:] for m, b in zip(net.mirrors, before)]
    for digest in digests:
        want = net.mirror_of(digest)
        got = [i for i, log in enumerate(logs) if any(r.path.endswith(digest) and r.method == "GET"
                                                      and r.status in (200, 206) for r in log)]
        assert got == [want], (digest, want, got)


# --- the clients ----------------------------------------------------------------------------------
def _sid(*argv, timeout: float = 300) -> subprocess.CompletedProcess:
    from trust.sid import sid
    return sid(*argv, timeout=timeout)


@pytest.fixture(scope="module")
def sid_tools():
    if not CHROOT.joinpath("usr/bin/oras").exists() or not CHROOT.joinpath("usr/bin/crane").exists():
        proc = subprocess.run(["bash", str(REPO / "tests" / "guix" / "setup-chroot.sh")], capture_output=True,
                              text=True, timeout=900)
        if proc.returncode != 0:
            pytest.skip(f"the sid chroot with crane and oras is not available: {proc.stderr[-300:]}")


@pytest.fixture(scope="module")
def dockerd(tmp_path_factory):
    if not have("dockerd", "docker"):
        pytest.skip("docker.io is not installed")
    # dockerd treats 127.0.0.0/8 as insecure (plain HTTP) registries by default: the mirrors included
    with Dockerd(tmp_path_factory.mktemp("dockerd-mirrors")) as d:
        yield d


def _layout_digest(layout: Path) -> str:
    return json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]


class Pullers:
    """One pull per client, of REF (HOST/NAME:TAG or HOST/NAME@DIGEST) into a fresh place: returns the
    manifest digest the client recorded, or the failed process (check=False)."""

    def __init__(self, work: Path, skopeo, podman, containerd, dockerd):
        self.work, self.skopeo, self.podman, self.containerd, self.dockerd = work, skopeo, podman, containerd, dockerd
        self.n = 0

    def _dir(self) -> Path:
        self.n += 1
        d = self.work / f"pull{self.n}"
        d.mkdir(parents=True)
        d.chmod(0o755)
        return d

    def pull(self, client: str, ref: str, check: bool = True):
        d = self._dir()
        if client == "skopeo":
            proc = self.skopeo.run("copy", "--src-tls-verify=false", "--digestfile", str(d / "digest"),
                                   f"docker://{ref}", f"dir:{d / 'image'}", check=False)
            result = (d / "digest").read_text().strip() if proc.returncode == 0 else proc
        elif client == "podman":
            proc = self.podman.run("pull", "--tls-verify=false", "-q", ref, check=False)
            result = proc
            if proc.returncode == 0:
                out = self.podman.run("image", "inspect", "--format", "{{.Digest}}", proc.stdout.split()[-1]).stdout
                result = out.strip()
            self.podman.reset()
        elif client == "ctr":
            try:
                result = self.containerd.pull(ref)
            except AssertionError as e:
                result = subprocess.CompletedProcess(["ctr"], 1, "", str(e))
            self.containerd.remove_all()
        elif client == "docker":
            proc = self.dockerd.docker("pull", ref, check=False)
            result = proc
            if proc.returncode == 0:
                result = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("Digest: "))
            self.dockerd.docker("image", "rm", "-f", ref, check=False)
        elif client == "fsdgimg":
            proc = run("publish", f"docker://{ref}", "--to", f"oci:{d / 'oci'}:pulled", "--retries", "1",
                       "--json", check=False)
            result = json.loads(proc.out)["digest"] if proc.returncode == 0 else proc
        elif client == "crane":
            proc = _sid("crane", "pull", "--insecure", "--format", "oci", ref, d / "oci")
            result = _layout_digest(d / "oci") if proc.returncode == 0 else proc
        elif client == "oras":
            proc = _sid("oras", "copy", "--from-plain-http", ref, "--to-oci-layout", f"{d / 'oci'}:pulled")
            result = _layout_digest(d / "oci") if proc.returncode == 0 else proc
        else:
            raise ValueError(client)
        if check and not isinstance(result, str):
            raise AssertionError(f"{client} pull {ref} failed:\n{result.stdout}\n{result.stderr}"[-3000:])
        return result


CLIENTS = ["skopeo", "podman", "ctr", "docker", "fsdgimg", "crane", "oras"]


@pytest.fixture(scope="module")
def pullers(tmp_path_factory, skopeo, podman, containerd, request):
    d = None
    if have("dockerd", "docker"):
        d = request.getfixturevalue("dockerd")
    return Pullers(tmp_path_factory.mktemp("pulls"), skopeo, podman, containerd, d)


def _client_fixtures(client: str, request) -> None:
    if client in ("crane", "oras"):
        request.getfixturevalue("sid_tools")
    if client == "docker" and not have("dockerd", "docker"):
        pytest.skip("docker.io is not installed")


# --- tests ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("client", CLIENTS)
def test_clients_pull_blobs_from_the_mirrors_and_none_from_the_origin(client, net, pullers, images, request):
    _client_fixtures(client, request)
    origin = net.origin("nginx")
    host = f"127.0.0.1:{origin.port}"
    before_origin = len(blob_requests(origin))
    before = [len(blob_requests(m)) for m in net.mirrors]
    a, b = images.digest(images.a), images.digest(images.b)
    assert pullers.pull(client, f"{host}/static/a:v1") == a
    assert pullers.pull(client, f"{host}/static/b@{b}") == b
    seen = _assert_no_blob_bytes_at_origin(origin, before_origin)
    assert seen, "the client fetched no blob through the origin at all"
    blobs = _blobs_of(images, images.a) | _blobs_of(images, images.b)
    assert {net.mirror_of(d) for d in blobs} == {0, 1}  # both mirrors take part
    _assert_each_blob_from_its_mirror(net, blobs, before)


@pytest.mark.parametrize("kind", ["apache", "caddy", "fsdgimg-serve"])
@pytest.mark.parametrize("client", ["skopeo", "ctr", "docker"])
def test_every_origin_server_redirects(kind, client, net, pullers, images, request):
    _client_fixtures(client, request)
    origin = net.origin(kind)
    before_origin = len(blob_requests(origin))
    before = [len(blob_requests(m)) for m in net.mirrors]
    multi = images.digest(images.multi)
    host = f"127.0.0.1:{origin.port}"
    if client == "skopeo":  # skopeo copies the instance of this platform; the others record the index
        assert pullers.pull(client, f"{host}/static/a:v1") == images.digest(images.a)
    else:
        assert pullers.pull(client, f"{host}/static/multi@{multi}") == multi
    assert _assert_no_blob_bytes_at_origin(origin, before_origin)
    _assert_each_blob_from_its_mirror(net, _blobs_of(images, images.a), before)


@pytest.mark.parametrize("kind", ORIGINS)
def test_only_blobs_are_redirected_and_a_mirror_marked_down_falls_back_to_the_origin(kind, net, images):
    origin = net.origin(kind)
    blobs = sorted(_blobs_of(images, images.a))
    digest = blobs[0]
    i = net.mirror_of(digest)
    for method in ("GET", "HEAD"):
        r = fetch(origin.port, f"/v2/static/a/blobs/{digest}", method=method)
        assert r.status == 307, r
        assert r.headers["location"] == f"{net.urls[i]}/v2/static/a/blobs/{digest}"
        assert r.headers["cache-control"] == blob_mirrors.REDIRECT_CACHE
    # what changes or decides trust stays at the origin
    a = images.digest(images.a)
    for path in ("/v2/", "/v2/static/a/manifests/v1", f"/v2/static/a/manifests/{a}", "/v2/static/a/tags/list",
                 f"/v2/static/a/referrers/{a}"):
        r = fetch(origin.port, path)
        assert r.status == 200 and "location" not in r.headers, (path, r)
    # a blob the origin lacks is its 404, not a mirror's
    r = fetch(origin.port, "/v2/static/a/blobs/sha256:" + "0" * 64)
    assert r.status == 404 and r.json()["errors"][0]["code"] == "BLOB_UNKNOWN", r
    # marked down: the origin serves that mirror's share itself, the other mirror keeps its own
    down = net.tree / "_web" / blob_mirrors.DOWN_DIR / net.parsed[i].key
    down.parent.mkdir(parents=True, exist_ok=True)
    down.touch()
    try:
        r = fetch(origin.port, f"/v2/static/a/blobs/{digest}")
        assert r.status == 200 and "sha256:" + hashlib.sha256(r.body).hexdigest() == digest, r
        other = next((b for b in blobs if net.mirror_of(b) != i), None)
        if other:
            assert fetch(origin.port, f"/v2/static/a/blobs/{other}").status == 307
    finally:
        down.unlink()
    assert fetch(origin.port, f"/v2/static/a/blobs/{digest}").status == 307


def _corrupt(path: Path) -> bytes:
    """Flip one byte in the middle of the file, in place (same size, same inode): returns the original."""
    data = path.read_bytes()
    with open(path, "r+b") as f:
        f.seek(len(data) // 2)
        f.write(bytes([data[len(data) // 2] ^ 0xFF]))
    return data


@pytest.mark.parametrize("client", CLIENTS)
def test_a_mirror_serving_a_corrupted_blob_fails_every_client(client, net, pullers, images, request):
    _client_fixtures(client, request)
    origin = net.origin("nginx")
    layout = images.b
    manifest = json.loads((layout / "blobs" / "sha256" / images.digest(layout)[7:]).read_bytes())
    layer = manifest["layers"][0]["digest"]
    mirror_file = net.mirror_trees[net.mirror_of(layer)] / "v2" / "static" / "b" / "_blobs" / layer
    original = _corrupt(mirror_file)
    try:
        result = pullers.pull(client, f"127.0.0.1:{origin.port}/static/b:v2", check=False)
        assert not isinstance(result, str), f"{client} accepted a corrupted blob from a mirror"
        assert result.returncode != 0
        if client == "fsdgimg":
            assert layer in result.err and result.err.count("\n") == 1, result.err
    finally:
        mirror_file.write_bytes(original)
    # the same pull once the mirror is repaired
    assert pullers.pull(client, f"127.0.0.1:{origin.port}/static/b:v2") == images.digest(layout)


def test_unreachable_mirror_is_one_line_naming_it(net, images, tmp_path):
    """fsdgimg's own client, redirected to a mirror that is gone: one line naming the mirror."""
    port = free_port()
    origin = start_origin("fsdgimg-serve", net.tree, tmp_path / "serve", [f"http://127.0.0.4:{port}"])
    try:
        proc = run("publish", f"docker://127.0.0.1:{origin.port}/static/a:v1", "--to", f"oci:{tmp_path / 'o'}:x",
                   "--retries", "0", check=False)
        assert proc.returncode == 1, proc.err
        assert proc.err.count("\n") == 1 and "Traceback" not in proc.err, proc.err
        assert f"127.0.0.4:{port}" in proc.err, proc.err
    finally:
        origin.stop()


@pytest.mark.parametrize("command", [["web-config", "nginx", "--root", "."], ["web-config", "caddy", "--root", "."],
                                     ["serve", "."]])
@pytest.mark.parametrize("url, why", [
    ("ftp://mirror.example.org", "http:// or https://"),
    ("https://user:pw@mirror.example.org", "no user name or password"),
    ("https://mirror.example.org/x?y=1", "no query"),
    ("https://mirror.example.org:99999", "port"),
    ("https://mirror example.org", "not a host name"),
    ("https://mirror.example.org/a;b{c}", "the path may hold only"),
    ("mirror.example.org", "http:// or https://"),
])
def test_bad_mirror_urls_are_one_line(command, url, why, tmp_path):
    (tmp_path / "v2").mkdir()
    proc = run(*[str(tmp_path) if c == "." else c for c in command], "--blob-mirror", url, check=False)
    assert proc.returncode == 2 and proc.err.count("\n") == 1 and "Traceback" not in proc.err, proc.err
    assert why in proc.err and "--blob-mirror" in proc.err, proc.err


def test_web_config_json_names_each_mirror_and_its_down_marker(tmp_path):
    out = json.loads(run("web-config", "nginx", "--root", tmp_path, "--blob-mirror", "https://m1.example.org",
                         "--blob-mirror", "files:http://m2.example.org:8080/fsdg/", "--json").out)
    assert out["server"] == "nginx" and "return 307 https://m1.example.org/v2/" in out["config"]
    assert out["blob_mirrors"] == [
        {"url": "https://m1.example.org", "layout": "api", "down_marker": "_web/mirrors-down/m1.example.org"},
        {"url": "http://m2.example.org:8080/fsdg", "layout": "files",
         "down_marker": "_web/mirrors-down/m2.example.org_8080"}]
    assert "http://m2.example.org:8080/fsdg/v2/$fsdgimg_name/_blobs/$fsdgimg_digest" in out["config"]
    twice = run("web-config", "nginx", "--root", tmp_path, "--blob-mirror", "https://m1.example.org",
                "--blob-mirror", "https://m1.example.org/", check=False)
    assert twice.returncode == 2 and "given twice" in twice.err


def test_the_choice_is_the_documented_one():
    """int(HEX[0:2], 16) % N, and every digest prefix goes to exactly one mirror's expression."""
    import re
    for count in (1, 2, 3, 5):
        exprs = [re.compile("^sha256:" + blob_mirrors.prefixes(i, count)) for i in range(count)]
        for first in range(256):
            digest = f"sha256:{first:02x}" + "a" * 62
            assert [i for i, e in enumerate(exprs) if e.match(digest)] == [first % count]
            assert blob_mirrors.index(digest, count) == first % count


# --- credentials and redirects --------------------------------------------------------------------
# An origin that asks for a password (nginx auth_basic around the generated locations) redirecting
# blobs to a mirror on another host (127.0.0.2) and to one on the same host at another port
# (127.0.0.1:PORT); every mirror logs the Authorization header it receives. fsdgimg's client sends
# the origin's Authorization to neither (a credential is bound to scheme, host and port); no real
# client may send it to another host; what each does with another port of the same host is recorded
# in docs/publish.md (Go's net/http compares host names only when it copies headers on a redirect).

USER, PASSWORD = "alice", "mirror-Secret-9"



@pytest.fixture(scope="module")
def auth_net(net, tmp_path_factory):
    if not have("htpasswd"):
        pytest.skip("htpasswd (apache2-utils) is not installed")
    work = tmp_path_factory.mktemp("auth-origin")
    same_host = start_mirror(net.mirror_trees[1], work / "mirror-same-host", "127.0.0.1")
    urls = [net.urls[0], f"http://127.0.0.1:{same_host.port}"]
    htpasswd = net.base / "htpasswd"  # readable by nginx's workers (pytest's directories are 0700)
    subprocess.run(["htpasswd", "-b", "-c", str(htpasswd), USER, PASSWORD], check=True, capture_output=True)
    htpasswd.chmod(0o644)
    port = free_port()
    locations = run("web-config", "nginx", "--locations-only", "--root", net.tree,
                    *[a for u in urls for a in ("--blob-mirror", u)]).out
    block = (f"server {{\n    listen 127.0.0.1:{port};\n    auth_basic \"fsdgimg-test\";\n"
             f"    auth_basic_user_file {htpasswd};\n{locations}\n}}\n")
    origin = LoggedNginx(work / "origin", block, port).start()
    try:
        yield {"origin": origin, "other_host": net.mirrors[0], "same_host": same_host, "urls": urls}
    finally:
        origin.stop()
        same_host.stop()


def _pull_with_credentials(pullers, client: str, ref: str, host: str, work) -> object:
    p = pullers
    creds = f"{USER}:{PASSWORD}"
    if client == "skopeo":
        return p.skopeo.run("copy", "--src-tls-verify=false", "--src-creds", creds, f"docker://{ref}",
                            f"dir:{work / 'skopeo'}", check=False)
    if client == "podman":
        proc = p.podman.run("pull", "--tls-verify=false", "-q", "--creds", creds, ref, check=False)
        p.podman.reset()
        return proc
    if client == "ctr":
        proc = p.containerd.ctr("images", "pull", "--plain-http", "--user", creds, ref, check=False)
        p.containerd.remove_all()
        return proc
    if client == "docker":
        login = subprocess.run([p.dockerd.DOCKER, "login", "-u", USER, "--password-stdin", host],
                               input=PASSWORD, capture_output=True, text=True, env=p.dockerd.client_env())
        assert login.returncode == 0, login.stderr
        try:
            return p.dockerd.docker("pull", ref, check=False)
        finally:
            p.dockerd.docker("image", "rm", "-f", ref, check=False)
            p.dockerd.docker("logout", host, check=False)
    if client == "fsdgimg":
        return run("publish", f"docker://{ref}", "--to", f"oci:{work / 'fsdgimg'}:x", check=False,
                   env={"FSDGIMG_REGISTRY_USERNAME": USER, "FSDGIMG_REGISTRY_PASSWORD": PASSWORD})
    from trust.sid import sid
    if client == "crane":
        config = work / "crane-config"
        config.mkdir(mode=0o755)
        env = {"DOCKER_CONFIG": str(config)}
        login = sid("crane", "auth", "login", host, "-u", USER, "-p", PASSWORD, env=env)
        assert login.returncode == 0, login.stderr
        return sid("crane", "pull", "--insecure", "--format", "oci", ref, work / "crane", env=env)
    if client == "oras":
        return sid("oras", "copy", "--from-plain-http", "--from-username", USER, "--from-password", PASSWORD,
                   ref, "--to-oci-layout", f"{work / 'oras'}:x")
    raise ValueError(client)


@pytest.mark.parametrize("client", CLIENTS)
def test_credentials_never_follow_a_blob_redirect_to_another_host(client, auth_net, net, pullers, images,
                                                                  request, tmp_path):
    _client_fixtures(client, request)
    origin, other, same = auth_net["origin"], auth_net["other_host"], auth_net["same_host"]
    host = f"127.0.0.1:{origin.port}"
    blobs = _blobs_of(images, images.a) | _blobs_of(images, images.b)
    assert {net.mirror_of(b) for b in blobs} == {0, 1}  # both hops are taken
    marks = [len(s.requests()) for s in (origin, other, same)]
    for ref in (f"{host}/static/a:v1", f"{host}/static/b:v2"):
        work = tmp_path / ref.rpartition("/")[2].replace(":", "-")
        work.mkdir()
        proc = _pull_with_credentials(pullers, client, ref, host, work)
        assert proc.returncode == 0, f"{client}: {proc.stdout}\n{proc.stderr}"[-3000:]
    seen = [s.requests()[m:] for s, m in zip((origin, other, same), marks)]
    assert any(r.authorization.startswith("Basic ") and r.status == 200 for r in seen[0]), \
        f"{client} never authenticated to the origin: {seen[0][:5]}"
    assert not [r for r in seen[0] if "/blobs/" in r.path and r.status != 307], "the origin served blobs itself"
    got = [[r for r in s if "/blobs/" in r.path and r.status == 200] for s in seen[1:]]
    assert got[0] and got[1], (client, got)
    # the client did send its credentials with each blob request to the origin, so there was
    # something to forward
    origin_blobs = [r for r in seen[0] if "/blobs/" in r.path]
    assert origin_blobs and all(r.authorization.startswith("Basic ") for r in origin_blobs), (client, origin_blobs)
    assert not any(r.authorization for r in got[0]), f"{client} sent the origin's credentials to another host"
    # measured for every client here (docs/publish.md): not even to the same host at another port
    assert not any(r.authorization for r in got[1]), f"{client} sent the origin's credentials to another port"


def test_an_anonymous_pull_is_refused_by_the_origin(auth_net):
    """The origin really asks: without credentials fsdgimg gets one line (401), so the test above
    measured a pull that authenticated."""
    host = f"127.0.0.1:{auth_net['origin'].port}"
    proc = run("inspect", f"docker://{host}/static/b:v2", check=False)
    assert proc.returncode == 1 and "authentication required" in proc.err, proc.err


def test_the_documented_mirror_check_finds_a_corrupted_blob(net, images):
    """docs/publish.md's digest check over a mirror, run as written: silent on a good mirror, one BAD
    line naming the corrupted blob's URL on a bad one."""
    if not have("curl", "sha256sum"):
        pytest.skip("curl and sha256sum are needed")
    doc = (REPO / "docs" / "publish.md").read_text()
    script = doc.split("<!-- mirror-check:", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    env = {"DIR": str(net.tree), "PATH": "/usr/bin:/bin"}
    for url in net.urls:
        proc = subprocess.run(["sh", "-c", script], env={**env, "MIRROR": url}, capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
    layer = sorted(_blobs_of(images, images.b))[0]
    i = net.mirror_of(layer)
    target = net.mirror_trees[i] / "v2" / "static" / "b" / "_blobs" / layer
    original = _corrupt(target)
    try:
        proc = subprocess.run(["sh", "-c", script], env={**env, "MIRROR": net.urls[i]}, capture_output=True,
                              text=True)
    finally:
        target.write_bytes(original)
    # the blob is stored once (hard links): every repository naming it is reported
    assert proc.stdout.splitlines() and all(line.startswith(f"BAD {net.urls[i]}/v2/") and line.endswith(layer)
                                            for line in proc.stdout.splitlines()), proc.stdout
    assert f"BAD {net.urls[i]}/v2/static/b/blobs/{layer}" in proc.stdout.splitlines()


HOSTILE_MIRRORS = [
    "http://m.example.org/x; return 200 /etc/passwd; #",
    "http://m.example.org/x\n    root /etc",
    "http://m.example.org/x\"; include /etc/passwd; #",
    "http://m.example.org/${host}",
    "http://m.example.org/x}\n\troot * /etc\n{",
    "http://m.example.org/%2e%2e",
    "files:javascript:alert(1)",
]


@pytest.mark.parametrize("kind", ["nginx", "apache", "caddy", "mirrorbits"])
def test_hostile_mirror_urls_never_reach_a_configuration(kind, tmp_path):
    """What a user types is refused in one line by the parser, and a value that skipped the parser (a
    caller building BlobMirror by hand) is refused again by the templates' filter."""
    from fsdgimg.errors import FsdgimgError
    from fsdgimg.transports.static import webconfig
    flag = "--fallback" if kind == "mirrorbits" else "--blob-mirror"
    for value in HOSTILE_MIRRORS:
        proc = run("web-config", kind, "--root", tmp_path, flag, value, check=False)
        assert proc.returncode == 2 and proc.out == "" and proc.err.count("\n") == 1, (value, proc.out, proc.err)
        assert flag in proc.err
        forged = [blob_mirrors.BlobMirror(value.removeprefix("files:").rstrip("/"), "api", "m.example.org")]
        with pytest.raises(FsdgimgError, match="refusing to write"):
            if kind == "mirrorbits":
                webconfig.render_mirrorbits(tmp_path, fallbacks=forged)
            else:
                webconfig.render(kind, tmp_path, blob_mirrors=forged)


@pytest.mark.parametrize("kind", ORIGINS)
def test_a_files_mirror_gets_the_tree_s_own_path(kind, net, images, tmp_path):
    """`files:URL`: the redirect names the blob's file in the tree (v2/NAME/_blobs/DIGEST) under URL's
    path, for any plain file server or redirector."""
    if not have(BINARIES[kind]):
        pytest.skip(f"{kind} is not installed")
    origin = start_origin(kind, net.tree, tmp_path / kind, ["files:http://files.example.org/fsdg/registry"])
    try:
        digest = sorted(_blobs_of(images, images.a))[0]
        r = fetch(origin.port, f"/v2/static/a/blobs/{digest}")
        assert r.status == 307, r
        assert r.headers["location"] == f"http://files.example.org/fsdg/registry/v2/static/a/_blobs/{digest}"
    finally:
        origin.stop()
