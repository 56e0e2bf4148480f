"""The registry host of guix-fsdg-registry/host.scm, run for real: its nginx server block and
http-level content as nginx-service-type writes them, in front of the Distribution registry running
the host's config.yml (Debian's docker-registry). Only what differs on this machine is replaced:
the port, the files under a temporary root, the registry's loopback port.

- skopeo, podman and docker pull anonymously and push with the right credentials; wrong or
  missing credentials are refused;
- the first boot: no certificate yet, nginx starts on the self-signed placeholder that
  certbot-service-type's activation makes (its own openssl command line, taken from Guix), and
  certbot's deploy hook (its own file operations, then an nginx reload) swaps in the real one;
- deploy.scm beside host.scm evaluates to a `guix deploy` machine list (deploying needs a
  machine: here its operating system's derivation is computed)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
from pathlib import Path

import pytest
from guixrun import REPO, derivations, guix, guix_chroot, host_config_yml  # noqa: F401 (fixture)
from servers import Dockerd, Nginx, Podman, ServerProcess, Skopeo, _http_status, free_port, have

pytestmark = pytest.mark.usefixtures("guix_chroot", "tools")

DOMAIN = "registry.example.org"
USER, PASSWORD = "alice", "s3cret"


@pytest.fixture(scope="module")
def tools():
    missing = [c for c in ("docker-registry", "nginx", "skopeo", "podman", "htpasswd", "openssl", "dockerd")
               if not have(c)]
    if missing:
        pytest.fail(f"missing {missing}: run `bash scripts/setup.sh`", pytrace=False)


@pytest.fixture(scope="module")
def host() -> dict:
    out = guix("repl", "-L", "channel", "--", "tests/guix/host-nginx.scm").stdout
    return json.loads(out)


class HostRegistry(ServerProcess):
    """docker-registry running the host's config.yml, generated from host.scm here (it is not
    committed: guix-fsdg-registry/config.yml.scm prints it), on another port and storage root."""

    name = "registry"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.port = free_port()
        text = host_config_yml()
        assert '  addr: "127.0.0.1:5000"' in text and 'rootdirectory: "/var/lib/registry"' in text
        text = text.replace('127.0.0.1:5000', f"127.0.0.1:{self.port}")
        text = text.replace('"/var/lib/registry"', json.dumps(str(self.workdir / "storage")))
        self.config = self.workdir / "config.yml"
        self.config.write_text(text)

    def command(self):
        return ["docker-registry", "serve", str(self.config)]

    def ready(self):
        return _http_status(f"http://127.0.0.1:{self.port}/v2/") == 200


def served_certificate(port: int) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=DOMAIN) as tls:
            return tls.getpeercert(binary_form=True)


def pem_der(path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


@pytest.fixture(scope="module")
def running_host(host, tmp_path_factory, oci_image):
    """nginx (the host's configuration) and the registry, on a first boot: no certificate but the
    placeholder. Yields (root, port, nginx, registry)."""
    root = Path(tempfile.mkdtemp(prefix="fsdghost-"))   # short and world-readable: nginx workers read it
    root.chmod(0o755)
    work = tmp_path_factory.mktemp("host")
    try:
        (registry_work := work / "registry").mkdir()
        registry = HostRegistry(registry_work)
        port = free_port()
        htpasswd = root / "etc/nginx/registry.htpasswd"
        htpasswd.parent.mkdir(parents=True)
        subprocess.run(["htpasswd", "-B", "-b", "-c", str(htpasswd), USER, PASSWORD], check=True,
                       capture_output=True)
        htpasswd.chmod(0o644)
        # The activation: certbot-service-type's placeholder, by its own openssl command line
        # (a smaller key: the test needs a certificate, not 4096 bits of security).
        (certificate,) = [c for c in host["certificates"] if DOMAIN in c["domains"]]
        assert certificate["self-signed"]
        command = [root.as_posix() + a if a.startswith("/etc/") else a for a in certificate["placeholder"]]
        command = ["rsa:2048" if a == "rsa:4096" else a for a in command]
        (root / f"etc/certs/{DOMAIN}").mkdir(parents=True)
        subprocess.run(["openssl", *command], check=True, capture_output=True)
        server = host["server"]
        for path in (f"/etc/certs/{DOMAIN}/fullchain.pem", f"/etc/certs/{DOMAIN}/privkey.pem",
                     "/etc/nginx/registry.htpasswd"):
            assert path in server
            server = server.replace(path, f"{root}{path}")
        assert "listen 443 ssl;" in server and "proxy_pass http://127.0.0.1:5000;" in server
        auth_port = free_port()
        for old, new in (("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"), ("listen [::]:443 ssl;", ""),
                         ("listen 127.0.0.1:5001;", f"listen 127.0.0.1:{auth_port};"),
                         ("proxy_pass http://127.0.0.1:5001;", f"proxy_pass http://127.0.0.1:{auth_port};"),
                         ("proxy_pass http://127.0.0.1:5000;", f"proxy_pass http://127.0.0.1:{registry.port};")):
            assert old in server, old
            server = server.replace(old, new)
        nginx = Nginx(work / "nginx", host["http"] + "\n" + server, port)
        assert nginx.check_config().returncode == 0, nginx.check_config().stderr
        with registry, nginx:
            Skopeo(work / "skopeo").copy(f"oci:{oci_image}:latest", f"docker://127.0.0.1:{registry.port}/hello:1")
            yield root, port, nginx, registry
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_first_boot_serves_the_placeholder(running_host):
    root, port, nginx, _ = running_host
    assert served_certificate(port) == pem_der(root / f"etc/certs/{DOMAIN}/fullchain.pem")


def skopeo(work: Path, *args: str) -> subprocess.CompletedProcess:
    return Skopeo(work).run(*args, check=False)


def test_skopeo_pulls_anonymously_and_pushes_with_credentials(running_host, tmp_path):
    _, port, nginx, _ = running_host
    host = f"127.0.0.1:{port}"
    pulled = skopeo(tmp_path, "copy", "--src-tls-verify=false", f"docker://{host}/hello:1", f"oci:{tmp_path}/p:1")
    assert pulled.returncode == 0, pulled.stderr + nginx.error_log()
    src = f"oci:{tmp_path}/p:1"
    no_creds = skopeo(tmp_path, "copy", "--dest-tls-verify=false", src, f"docker://{host}/pushed:skopeo")
    assert no_creds.returncode != 0 and "unauthorized" in no_creds.stderr.lower(), no_creds.stderr
    wrong = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds", f"{USER}:wrong", src,
                   f"docker://{host}/pushed:skopeo")
    assert wrong.returncode != 0 and ("unauthorized" in wrong.stderr.lower() or "401" in wrong.stderr), wrong.stderr
    ok = skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--dest-creds", f"{USER}:{PASSWORD}", src,
                f"docker://{host}/pushed:skopeo")
    assert ok.returncode == 0, ok.stderr + nginx.error_log()
    # Anyone reads what was pushed.
    assert skopeo(tmp_path, "inspect", "--tls-verify=false", f"docker://{host}/pushed:skopeo").returncode == 0


def test_podman_pulls_anonymously_and_pushes_with_credentials(running_host, tmp_path):
    _, port, nginx, _ = running_host
    host = f"127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="fsdgpod-"))
    podman = Podman(work)
    try:
        podman.run("pull", "-q", "--tls-verify=false", f"{host}/hello:1")
        podman.run("tag", f"{host}/hello:1", f"{host}/pushed:podman")
        wrong = podman.run("push", "--tls-verify=false", "--creds", f"{USER}:wrong", f"{host}/pushed:podman",
                           check=False)
        assert wrong.returncode != 0 and ("unauthorized" in wrong.stderr.lower() or "401" in wrong.stderr), \
            wrong.stderr
        podman.run("push", "--tls-verify=false", "--creds", f"{USER}:{PASSWORD}", f"{host}/pushed:podman")
        assert skopeo(tmp_path, "inspect", "--tls-verify=false", f"docker://{host}/pushed:podman").returncode == 0
    finally:
        podman.reset()
        shutil.rmtree(work, ignore_errors=True)


def test_docker_pulls_anonymously_and_pushes_after_login(running_host, tmp_path):
    _, port, nginx, _ = running_host
    host = f"127.0.0.1:{port}"
    with Dockerd(tmp_path / "dockerd", insecure_registries=[host]) as docker:
        docker.pull(f"{host}/hello:1")
        docker.docker("tag", f"{host}/hello:1", f"{host}/pushed:docker")
        anonymous = docker.docker("push", f"{host}/pushed:docker", check=False)
        assert anonymous.returncode != 0 and "unauthorized" in anonymous.stderr, \
            anonymous.stderr + anonymous.stdout
        def login(password):
            return subprocess.run([docker.DOCKER, "login", "-u", USER, "--password-stdin", host], input=password,
                                  capture_output=True, text=True, env=docker.client_env(), timeout=120)
        wrong = login("wrong")
        assert wrong.returncode != 0 and "unauthorized" in wrong.stderr, wrong.stderr
        ok = login(PASSWORD)
        assert ok.returncode == 0, ok.stderr + nginx.error_log()
        docker.docker("push", f"{host}/pushed:docker")
    assert skopeo(tmp_path, "inspect", "--tls-verify=false", f"docker://{host}/pushed:docker").returncode == 0


def test_certbot_deploy_hook_swaps_in_the_real_certificate(running_host, host):
    """Last: it changes the served certificate."""
    root, port, nginx, _ = running_host
    (certificate,) = [c for c in host["certificates"] if DOMAIN in c["domains"]]
    live = root / f"etc/letsencrypt/live/{DOMAIN}"
    live.mkdir(parents=True)
    # What certbot writes once Let's Encrypt answers (here: another certificate).
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "90", "-subj",
                    f"/CN={DOMAIN}", "-keyout", str(live / "privkey.pem"), "-out", str(live / "fullchain.pem")],
                   check=True, capture_output=True)
    assert served_certificate(port) != pem_der(live / "fullchain.pem")
    steps = certificate["deploy"]
    assert steps[-1] == ["shepherd", "nginx", "reload"]
    for op, a, b in steps[:-1]:
        if op == "symlink":
            os.symlink(f"{root}{a}", f"{root}{b}")
        else:
            os.rename(f"{root}{a}", f"{root}{b}")
    # Shepherd's nginx reload action: nginx -s reload.
    subprocess.run(nginx.command() + ["-s", "reload"], check=True, capture_output=True)
    import time
    # New workers take the new certificate; on a loaded machine they can take seconds to start.
    for _ in range(150):
        if served_certificate(port) == pem_der(live / "fullchain.pem"):
            break
        time.sleep(0.2)
    assert served_certificate(port) == pem_der(live / "fullchain.pem"), nginx.error_log()


def test_deploy_file_evaluates():
    """`guix deploy guix-fsdg-registry/deploy.scm` cannot run here (no machine): its machines
    evaluate, and each one's operating system is host.scm's, with a derivation."""
    out = guix("repl", "-L", "channel", "--", "tests/guix/deploy.scm").stdout
    lines = out.split()
    assert lines[0] == "registry.example.org" and lines[1] == "fsdg-registry"
    (drv,) = derivations(out)
    assert drv.endswith("-system.drv")
