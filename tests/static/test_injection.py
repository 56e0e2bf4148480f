"""Nothing a user types (--server-name, --listen, --public-host) or a tree stores (_web/options.json)
reaches a web-server configuration or the page unchecked; checked with the real nginx, Apache and Caddy."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from servers import free_port, have

from static.conftest import CLASSES, fetch, public_tree, publish, run, start

HOSTILE_NAMES = [
    "x; } server { listen 9; root /etc; location / { autoindex on; } } #",
    "x\n    root /etc",
    "x\"; include /etc/passwd; #",
    "example.org {\n\troot * /etc\n}\nexample.com",
    "a b",
    "${host}",
    "x</title><script>alert(1)</script>",
]
HOSTILE_LISTEN = ["127.0.0.1:80; root /etc", "80 default_server; root /etc", "127.0.0.1:80\nListen 9",
                  "[::1]", "99999", "0", "host:80:81", "*:8x"]
HOSTILE_HOSTS = ["<script>alert(1)</script>", "a\"onmouseover=\"x", "host/path", "h\u00e9", "-x.org"]


@pytest.mark.parametrize("kind", ["nginx", "apache", "caddy"])
def test_web_config_refuses_hostile_values(kind, tree):
    for value in HOSTILE_NAMES:
        proc = run("web-config", kind, "--root", tree, "--server-name", value, check=False)
        assert proc.returncode == 2 and proc.out == "", (value, proc.out)
        assert proc.err.count("\n") == 1 and "--server-name" in proc.err, proc.err
    for value in HOSTILE_LISTEN:
        proc = run("web-config", kind, "--root", tree, "--listen", value, check=False)
        assert proc.returncode == 2 and proc.out == "" and "--listen" in proc.err, (value, proc.err)


@pytest.mark.parametrize("kind", ["nginx", "apache", "caddy"])
def test_accepted_values_make_configurations_the_real_server_runs(kind, tree, tmp_path):
    """Names at the edges of the grammar (wildcards, IPv6, long labels) still give a configuration the
    server itself accepts and serves from."""
    if not have({"nginx": "nginx", "apache": "apache2", "caddy": "caddy"}[kind]):
        pytest.skip(f"{kind} is not installed")
    port = free_port()
    for name in ["*.example.org", "a-" + "b" * 59 + ".example.org", "localhost"]:
        site = run("web-config", kind, "--root", tree, "--server-name", name, "--listen", f"127.0.0.1:{port}").out
        assert name in site
    with CLASSES[kind](tmp_path / kind, site, port) as server:
        assert fetch(server.port, "/v2/", headers={"Host": "localhost"}).status == 200


def test_publish_refuses_hostile_options_before_writing(images, tmp_path):
    root = tmp_path / "tree"
    for flag, value in [("--server-name", HOSTILE_NAMES[0]), ("--listen", HOSTILE_LISTEN[0]),
                        ("--public-host", HOSTILE_HOSTS[0])]:
        proc = run("publish", images.src(images.a), "--to", f"static:{root}", "--name", "x/a:v1", flag, value,
                   check=False)
        assert proc.returncode == 2 and proc.err.count("\n") == 1 and flag in proc.err, proc.err
        assert not root.exists()


@pytest.mark.parametrize("kind", ["nginx", "apache", "caddy"])
def test_a_tampered_options_file_is_refused_and_the_served_configuration_stays(kind, images, tmp_path):
    """The attack of the hardening report: a crafted server name stored in _web/options.json was
    re-rendered by the next publish into an nginx server serving /etc/passwd. Now the publish refuses the
    file with one line, and the configuration in _web/ (what the web server runs) is left as it was."""
    from fsdgimg.transports.static.webconfig import FILES
    base = public_tree("inject")  # nginx's and Apache's workers (nobody) read it
    root = base / "tree"
    port = free_port()
    publish(images, images.a, root, "x/a", "--listen", f"127.0.0.1:{port}")
    conf = root / "_web" / FILES[kind]
    before = conf.read_text()
    options = root / "_web" / "options.json"
    stored = json.loads(options.read_text())
    evil_port = free_port()
    for key, value in [("server_name", f"x; }} server {{ listen 127.0.0.1:{evil_port}; root /etc; }} #"),
                       ("listen", f"127.0.0.1:{port}; }} server {{ listen 127.0.0.1:{evil_port}; root /etc; }} #"),
                       ("public_host", "<img src=x onerror=alert(1)>")]:
        options.write_text(json.dumps(dict(stored, **{key: value})))
        proc = run("publish", images.src(images.b), "--to", f"static:{root}", "--name", "x/a:v1", check=False)
        assert proc.returncode == 1 and proc.err.count("\n") == 1, proc.err
        assert "options.json" in proc.err and key in proc.err, proc.err
        assert conf.read_text() == before
        assert "onerror" not in (root / "index.html").read_text()
    options.write_text(json.dumps(stored))
    # the real server, run with the configuration the tree holds, serves the tree and nothing else
    if not have({"nginx": "nginx", "apache": "apache2", "caddy": "caddy"}[kind]):
        pytest.skip(f"{kind} is not installed")
    with CLASSES[kind](tmp_path / kind, before, port) as server:
        assert fetch(port, "/v2/x/a/manifests/v1").headers["docker-content-digest"] == images.digest(images.a)
        assert fetch(port, "/passwd").status == 404 and fetch(port, "/../../etc/passwd").status in (400, 404)
        listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
        assert f":{evil_port} " not in listening
        del server
    shutil.rmtree(base, ignore_errors=True)


def test_page_escapes_and_checks_what_it_shows(images, tmp_path):
    root = tmp_path / "tree"
    publish(images, images.a, root, "x/a", "--public-host", "registry.example.org:5000")
    page = (root / "index.html").read_text()
    assert "registry.example.org:5000" in page and "/x/a:v1" in page
    for host in HOSTILE_HOSTS:
        proc = run("publish", images.src(images.a), "--to", f"static:{root}", "--name", "x/a:v1",
                   "--public-host", host, check=False)
        assert proc.returncode == 2 and "--public-host" in proc.err
    assert (root / "index.html").read_text() == page


def test_stored_trees_are_checked_by_gc_too(images, tmp_path):
    root = tmp_path / "tree"
    publish(images, images.a, root, "x/a")
    (root / "_web" / "options.json").write_text(json.dumps({"server_name": "a;b"}))
    proc = run("gc", f"static:{root}", check=False)
    assert proc.returncode == 1 and "options.json" in proc.err and proc.err.count("\n") == 1, proc.err


def test_start_helper_uses_the_checked_listen(tree, tmp_path):
    server = start("nginx", tree, tmp_path / "n")
    try:
        assert fetch(server.port, "/v2/").status == 200
    finally:
        server.stop()
