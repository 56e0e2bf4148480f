"""Real servers and clients for tests, all on 127.0.0.1 with free ports, each in its own directory.

Every server is a child process we started: stopped by its PID and waited on (PID 1 here does not
reap), never by name. Import from any test:

    from servers import Registry, Nginx, Containerd, Dockerd, Podman, FsdgimgServe, Skopeo, free_port

Each class is a context manager; `start()` returns once the server answers.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON_DIR = REPO / "python"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def have(*commands: str) -> bool:
    return all(shutil.which(c) for c in commands)


def _http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


class ServerProcess:
    """A child process with a log file, started and stopped by PID."""

    name = "server"

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict | None:
        return None

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30.0):
        if self.proc is not None and self.proc.poll() is None:
            return self
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.workdir, env=self.env(), start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            if self.ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready in {timeout}s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, as a crash would, and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Registry(ServerProcess):
    """The CNCF Distribution registry (Debian's docker-registry) with a generated config.yml.

    `users={"name": "password"}` turns on htpasswd auth (bcrypt file made with htpasswd -B).
    The storage directory survives restart() and kill(), as a real registry's would."""

    name = "registry"

    def __init__(self, workdir: Path, users: dict[str, str] | None = None, port: int | None = None,
                 token: "TokenServer | None" = None, tls: "tuple[Path, Path] | None" = None):
        super().__init__(workdir)
        self.port = port or free_port()
        self.storage = self.workdir / "storage"
        self.users = users
        self.token = token
        self.tls = tls
        self.config_path = self.workdir / "config.yml"
        self._write_config()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self) -> None:
        lines = ["version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true",
                 "storage:", "  filesystem:", f"    rootdirectory: {self.storage}", "  delete:",
                 "    enabled: true", "  maintenance:", "    uploadpurging:", "      enabled: false",
                 "http:", f"  addr: 127.0.0.1:{self.port}", "  secret: fsdgimg-test-secret"]
        if self.users:
            htpasswd = self.workdir / "htpasswd"
            htpasswd.unlink(missing_ok=True)
            for user, password in self.users.items():
                create = [] if htpasswd.exists() else ["-c"]
                subprocess.run(["htpasswd", "-B", "-b", *create, str(htpasswd), user, password],
                               check=True, capture_output=True)
            lines += ["auth:", "  htpasswd:", "    realm: fsdgimg-test", f"    path: {htpasswd}"]
        elif self.token:
            lines += ["auth:", "  token:", f"    realm: {self.token.realm}", f"    service: {self.token.service}",
                      f"    issuer: {self.token.issuer}", f"    rootcertbundle: {self.token.cert}"]
        if self.tls:
            lines[lines.index("http:") + 1:lines.index("http:") + 1] = [
                "  tls:", f"    certificate: {self.tls[0]}", f"    key: {self.tls[1]}"]
        self.config_path.write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        return ["docker-registry", "serve", str(self.config_path)]

    def ready(self) -> bool:
        if self.tls:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            try:
                urllib.request.urlopen(f"https://{self.host}/v2/", timeout=2, context=ctx).close()
                return True
            except urllib.error.HTTPError as e:
                return e.code == 401
            except OSError:
                return False
        return _http_status(f"http://{self.host}/v2/") in (200, 401)

    def manifest_digest(self, name: str, reference: str, auth: tuple[str, str] | None = None) -> str | None:
        req = urllib.request.Request(f"http://{self.host}/v2/{name}/manifests/{reference}", method="HEAD",
                                     headers={"Accept": ", ".join([
                                         "application/vnd.oci.image.manifest.v1+json",
                                         "application/vnd.oci.image.index.v1+json",
                                         "application/vnd.docker.distribution.manifest.v2+json",
                                         "application/vnd.docker.distribution.manifest.list.v2+json"])})
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.headers.get("Docker-Content-Digest")
        except urllib.error.HTTPError:
            return None


def self_signed(workdir: Path, name: str, san: str = "IP:127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate and its key (openssl), for a TLS server or a token issuer."""
    cert, key = workdir / f"{name}.crt", workdir / f"{name}.key"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-days", "2", "-subj", f"/CN={name}", "-addext",
                        f"subjectAltName={san}"], check=True, capture_output=True)
    return cert, key


class ReferrersRegistry(ServerProcess):
    """A registry with the OCI 1.1 referrers API: go-containerregistry's (tests/referrers_registry/,
    the registry `crane registry serve` runs, with referrers on), built once from Debian sid's
    golang-github-google-go-containerregistry-dev in the Guix chroot (setup-chroot.sh installs it;
    Debian has no Distribution 3.x or other referrers-capable registry). Manifests are kept in
    memory, blobs on disk under the workdir. It answers a PATCH with 204 and lists a referrer's
    config media type as its artifactType: both go-containerregistry's own choices."""

    name = "referrers-registry"
    SOURCE = Path(__file__).resolve().parent / "referrers_registry" / "main.go"
    CHROOT = Path(os.environ.get("FSDGIMG_GUIX_CHROOT", "/var/cache/fsdgimg/guix-sid"))

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.port = free_port()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def binary(cls) -> Path:
        """Build it (statically, so that it runs on the host) unless this source's build exists."""
        import hashlib
        tag = hashlib.sha256(cls.SOURCE.read_bytes()).hexdigest()[:12]
        out = cls.CHROOT / "var/cache/fsdgimg-tests" / f"referrers-registry-{tag}"
        if out.exists():
            return out
        gopath = Path(tempfile.mkdtemp(prefix="referrers-registry-", dir=cls.CHROOT / "tmp"))
        try:
            (gopath / "src/referrers").mkdir(parents=True)
            shutil.copy(cls.SOURCE, gopath / "src/referrers/main.go")
            inside = "/" + str(gopath.relative_to(cls.CHROOT))
            out.parent.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                ["chroot", str(cls.CHROOT), "env", f"GOPATH={inside}:/usr/share/gocode", "GO111MODULE=off",
                 "GOPROXY=off", "GOFLAGS=", "CGO_ENABLED=0", f"GOCACHE={inside}/cache", "HOME=/root",
                 "go", "build", "-o", f"{inside}/registry", "referrers"],
                cwd="/", capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                raise RuntimeError(f"building the referrers registry failed (run tests/guix/setup-chroot.sh):\n"
                                   f"{proc.stderr[-3000:]}")
            os.replace(gopath / "registry", out)
        finally:
            shutil.rmtree(gopath, ignore_errors=True)
        return out

    def command(self) -> list[str]:
        (self.workdir / "blobs").mkdir(exist_ok=True)
        return [str(self.binary()), "-address", self.host, "-disk", str(self.workdir / "blobs")]

    def ready(self) -> bool:
        return _http_status(f"http://{self.host}/v2/") == 200


class TokenServer:
    """A bearer-token service for the Distribution registry (docker's token auth spec): checks Basic
    credentials against `users` and returns an RS256 JWT (signed by openssl, certificate in x5c)
    granting every scope asked for; anonymous callers get a token granting nothing."""

    def __init__(self, workdir: Path, users: dict[str, str]):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.users = users
        self.service, self.issuer = "fsdgimg-test-registry", "fsdgimg-test-issuer"
        self.cert, self.key = self_signed(self.workdir, "token-issuer", "DNS:fsdgimg-test-issuer")
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self._x5c = base64.b64encode(der).decode()
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                import urllib.parse
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                user = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    u, _, p = base64.b64decode(header[6:]).decode().partition(":")
                    if server.users.get(u) != p:
                        self.send_response(401)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    user = u
                scopes = [s for v in query.get("scope", []) for s in v.split(" ")]
                server.requests.append({"user": user, "scopes": scopes, "service": query.get("service")})
                body = json.dumps({"token": server.sign(user, scopes if user else [])}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                # OAuth2 refresh-token grant (docker's "identitytoken"): refresh_tokens maps token -> user.
                import urllib.parse
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                user = server.refresh_tokens.get((form.get("refresh_token") or [""])[0])
                if (form.get("grant_type") or [""])[0] != "refresh_token" or user is None:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                scopes = [s for v in form.get("scope", []) for s in v.split(" ")]
                server.requests.append({"user": user, "scopes": scopes, "service": form.get("service"),
                                        "grant": "refresh_token"})
                body = json.dumps({"access_token": server.sign(user, scopes)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.refresh_tokens: dict[str, str] = {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, user: str | None, scopes: list[str]) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {"iss": self.issuer, "sub": user or "", "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=signing_input.encode(),
                             check=True, capture_output=True).stdout
        return f"{signing_input}.{b64(sig)}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class Nginx(ServerProcess):
    """nginx in the foreground with its own prefix, pid file and temp paths; `server_block` is the
    text of one `server { ... }` (e.g. from `fsdgimg web-config nginx`)."""

    name = "nginx"

    def __init__(self, workdir: Path, server_block: str, port: int):
        super().__init__(workdir)
        self.port = port
        for d in ("tmp", "logs"):
            (self.workdir / d).mkdir(exist_ok=True)
        tmp = self.workdir / "tmp"
        self.conf = self.workdir / "nginx.conf"
        self.conf.write_text(
            f"daemon off;\nmaster_process on;\nworker_processes 1;\npid {self.workdir}/nginx.pid;\n"
            f"error_log {self.workdir}/logs/error.log warn;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
            f"  sendfile on;\n{server_block}\n}}\n")

    def command(self) -> list[str]:
        return ["nginx", "-p", str(self.workdir), "-c", str(self.conf)]

    def ready(self) -> bool:
        return _http_status(f"http://127.0.0.1:{self.port}/v2/") is not None

    def check_config(self) -> subprocess.CompletedProcess:
        return subprocess.run(self.command() + ["-t"], capture_output=True, text=True)

    def error_log(self) -> str:
        p = self.workdir / "logs" / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""


class Apache(ServerProcess):
    """Apache httpd in the foreground with a minimal main configuration of its own (the modules a static
    tree needs) around `site` (e.g. from `fsdgimg web-config apache`), which must `Listen` itself."""

    name = "apache"
    MODULES = ["mpm_event", "authz_core", "mime", "dir", "rewrite", "headers"]

    def __init__(self, workdir: Path, site: str, port: int):
        super().__init__(workdir)
        self.port = port
        mods = Path("/usr/lib/apache2/modules")
        lines = [f"ServerRoot {self.workdir}", f"PidFile {self.workdir}/httpd.pid",
                 f"ErrorLog {self.workdir}/error.log", "LogLevel warn", "ServerName localhost",
                 f"DefaultRuntimeDir {self.workdir}", "Mutex file:" + str(self.workdir),
                 *[f"LoadModule {m}_module {mods}/mod_{m}.so" for m in self.MODULES],
                 "TypesConfig /etc/mime.types", "StartServers 1", "ServerLimit 2", "ThreadsPerChild 16",
                 "MaxRequestWorkers 32"]
        if os.geteuid() == 0:
            lines += ["User nobody", "Group nogroup"]
        self.conf = self.workdir / "httpd.conf"
        self.conf.write_text("\n".join(lines) + "\n" + site + "\n")

    def command(self) -> list[str]:
        return ["apache2", "-f", str(self.conf), "-DFOREGROUND"]

    def ready(self) -> bool:
        return _http_status(f"http://127.0.0.1:{self.port}/v2/") is not None

    def error_log(self) -> str:
        p = self.workdir / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""


class Caddy(ServerProcess):
    """Caddy 2 in the foreground: `site` (e.g. from `fsdgimg web-config caddy`) after a global block
    that turns off its admin endpoint and automatic HTTPS; its state in the work directory."""

    name = "caddy"

    def __init__(self, workdir: Path, site: str, port: int):
        super().__init__(workdir)
        self.port = port
        self.conf = self.workdir / "Caddyfile"
        self.conf.write_text("{\n\tadmin off\n\tauto_https off\n}\n\n" + site)

    def command(self) -> list[str]:
        return ["caddy", "run", "--config", str(self.conf), "--adapter", "caddyfile"]

    def env(self) -> dict:
        return dict(os.environ, HOME=str(self.workdir), XDG_DATA_HOME=str(self.workdir / "data"),
                    XDG_CONFIG_HOME=str(self.workdir / "config"))

    def ready(self) -> bool:
        return _http_status(f"http://127.0.0.1:{self.port}/v2/") is not None


class FsdgimgServe(ServerProcess):
    name = "fsdgimg-serve"

    def __init__(self, workdir: Path, root: Path, port: int | None = None):
        super().__init__(workdir)
        self.root = Path(root)
        self.port = port or free_port()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "fsdgimg", "serve", str(self.root), "--listen", f"127.0.0.1:{self.port}"]

    def env(self) -> dict:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(PYTHON_DIR) + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def ready(self) -> bool:
        return _http_status(f"http://127.0.0.1:{self.port}/v2/") is not None


class Containerd(ServerProcess):
    """A private containerd: its own root, state and socket; the CRI plugin off."""

    name = "containerd"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.socket = self.workdir / "containerd.sock"
        self.config = self.workdir / "config.toml"
        self.config.write_text(
            "version = 2\n"
            f'root = "{self.workdir}/root"\nstate = "{self.workdir}/state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.socket}"\n'
            f'[ttrpc]\n  address = "{self.socket}.ttrpc"\n'
            f'[debug]\n  address = "{self.socket}.debug"\n  level = "warn"\n')

    def command(self) -> list[str]:
        return ["containerd", "--config", str(self.config)]

    def ready(self) -> bool:
        if not self.socket.exists():
            return False
        return subprocess.run(["ctr", "-a", str(self.socket), "version"], capture_output=True).returncode == 0

    def ctr(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = subprocess.run(["ctr", "-a", str(self.socket), *args], capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc

    def pull(self, ref: str, platform: str | None = None) -> str:
        """`ctr images pull --plain-http REF`; returns the digest containerd recorded for it."""
        args = ["images", "pull", "--plain-http"]
        if platform:
            args += ["--platform", platform]
        self.ctr(*args, ref)
        listing = self.ctr("images", "list").stdout.splitlines()
        for line in listing[1:]:
            cols = line.split()
            if cols and cols[0] == ref:
                return next(c for c in cols if c.startswith("sha256:"))
        raise AssertionError(f"{ref} not in ctr images list:\n" + "\n".join(listing))

    def remove_all(self) -> None:
        for line in self.ctr("images", "list", "-q").stdout.split():
            self.ctr("images", "rm", "--sync", line, check=False)
        self.ctr("content", "prune", "references", check=False)


class Dockerd(ServerProcess):
    """A private Docker daemon (Debian's docker.io), started by hand as on a machine without systemd:
    its own data root, exec root, socket and pid file under `workdir`, no iptables and no bridge
    (containers run with --network none), the vfs storage driver (works on any file system), plain
    HTTP allowed for `insecure_registries` ("127.0.0.1:PORT"). Its own containerd is its child and
    goes with it. `docker(...)` runs Debian's docker CLI against it, with a config dir of its own."""

    name = "dockerd"
    DOCKERD = "/usr/sbin/dockerd"
    DOCKER = "/usr/bin/docker"    # Debian's CLI, not whatever else is first on PATH

    def __init__(self, workdir: Path, insecure_registries: "list[str] | tuple[str, ...]" = ()):
        super().__init__(workdir)
        self.insecure_registries = list(insecure_registries)
        (self.workdir / "config").mkdir(exist_ok=True)
        # Sockets live in the exec root: a unix socket's path must fit in 108 bytes, which
        # containerd's `exec/containerd/containerd.sock.ttrpc` under a pytest temp dir does not.
        # So the exec root is a short directory of its own, removed when the daemon stops.
        self.exec_root = Path(tempfile.mkdtemp(prefix="dockerd-", dir="/tmp"))
        self.socket = self.exec_root / "docker.sock"

    def command(self) -> list[str]:
        argv = [self.DOCKERD, "--iptables=false", "--ip6tables=false", "--bridge=none",
                "--storage-driver=vfs", "--data-root", str(self.workdir / "data"),
                "--exec-root", str(self.exec_root), "-H", f"unix://{self.socket}",
                "--pidfile", str(self.workdir / "docker.pid"),
                # a private config file, so the host's /etc/docker/daemon.json does not apply
                "--config-file", str(self._daemon_json())]
        for registry in self.insecure_registries:
            argv += ["--insecure-registry", registry]
        return argv

    def _daemon_json(self) -> Path:
        path = self.workdir / "daemon.json"
        path.write_text("{}\n")
        return path

    def client_env(self) -> dict:
        return dict(os.environ, DOCKER_HOST=f"unix://{self.socket}", DOCKER_CONFIG=str(self.workdir / "config"))

    def ready(self) -> bool:
        if not self.socket.exists():
            return False
        return subprocess.run([self.DOCKER, "version"], capture_output=True, env=self.client_env(),
                              timeout=30).returncode == 0

    def start(self, timeout: float = 60.0):
        return super().start(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        # dockerd stops its containers and its containerd on SIGTERM; give it the time to.
        super().stop(timeout)
        # dockerd bind-mounts its data root onto itself (to make it private) and leaves that mount
        # behind when it stops: undo it, and any other mount under our directories, innermost first.
        mine = (str(self.workdir) + "/", str(self.exec_root) + "/")
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        for point in sorted((m for m in mounts if (m + "/").startswith(mine)), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        shutil.rmtree(self.exec_root, ignore_errors=True)

    def docker(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.DOCKER, *args], capture_output=True, text=True, env=self.client_env(),
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc

    def pull(self, ref: str, platform: str | None = None) -> str:
        """`docker pull [--platform P] REF`; returns the manifest digest the daemon reports
        ("Digest: sha256:…"), which for a multi-platform tag is the index's."""
        args = ["pull"] + (["--platform", platform] if platform else []) + [ref]
        out = self.docker(*args).stdout
        for line in out.splitlines():
            if line.startswith("Digest: "):
                return line.split()[1]
        raise AssertionError(f"no digest in the output of docker pull {ref}:\n{out}")

    def image_platform(self, ref: str) -> str:
        """os/architecture[/variant] of a pulled image, from its config."""
        out = self.docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}/{{.Variant}}", ref).stdout
        return out.strip().rstrip("/")


class Podman:
    """podman with its own storage, run root and temp dir: nothing in /var/lib/containers."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.base = ["podman", "--root", str(self.workdir / "root"), "--runroot", str(self.workdir / "run"),
                     "--tmpdir", str(self.workdir / "tmp"), "--storage-driver", "overlay",
                     "--cgroup-manager", "cgroupfs", "--events-backend", "file"]

    def env(self) -> dict:
        env = dict(os.environ)
        env["XDG_RUNTIME_DIR"] = str(self.workdir / "xdg")
        env["XDG_CONFIG_HOME"] = str(self.workdir / "config")
        # podman fails on a DOCKER_CONFIG without a config.json in it: use none.
        env.pop("DOCKER_CONFIG", None)
        env.pop("REGISTRY_AUTH_FILE", None)
        (self.workdir / "xdg").mkdir(exist_ok=True)
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.base + list(args), capture_output=True, text=True, env=self.env(),
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc

    def pull(self, ref: str, platform: str | None = None) -> set[str]:
        """Pull over plain HTTP; returns every manifest digest podman recorded for the image it stored
        (its .Digest and those of its RepoDigests: one image ID collects the digests of every manifest
        naming the same config, so test with `in`)."""
        args = ["pull", "--tls-verify=false", "-q"]
        if platform:
            args += ["--platform", platform]
        image_id = self.run(*args, ref).stdout.strip().splitlines()[-1]
        out = self.run("image", "inspect", "--format", "{{.Digest}} {{range .RepoDigests}}{{.}} {{end}}",
                       image_id).stdout.split()
        return {d.rpartition("@")[2] for d in out}

    def reset(self) -> None:
        self.run("rmi", "-a", "-f", check=False)


class Skopeo:
    """skopeo with its own temp dir and no TLS for 127.0.0.1."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        env = dict(os.environ, TMPDIR=str(self.workdir))
        proc = subprocess.run(["skopeo", *args], capture_output=True, text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"skopeo {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc

    def inspect(self, ref: str, raw: bool = False) -> dict:
        args = ["inspect", "--tls-verify=false"] + (["--raw"] if raw else [])
        return json.loads(self.run(*args, ref).stdout)

    def digest(self, ref: str) -> str:
        return self.run("inspect", "--tls-verify=false", "--no-tags", "--format", "{{.Digest}}", ref).stdout.strip()

    def copy(self, src: str, dest: str, *extra: str) -> subprocess.CompletedProcess:
        return self.run("copy", "--src-tls-verify=false", "--dest-tls-verify=false", *extra, src, dest)
