"""An origin and its blob mirrors for the tests: a published tree, two rsync'ed copies of it served by
nginx on other loopback addresses (127.0.0.2, 127.0.0.3: other hosts, as far as any client can tell),
access logs on every server, and the real clients that pull through them.

Every server logs one line per request in one of two formats, read back by `requests()`:
nginx and Apache `STATUS BYTES "REQUEST LINE" "AUTHORIZATION"`, Caddy its JSON, `fsdgimg serve` its
own `HOST "REQUEST LINE" STATUS SIZE`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from servers import PYTHON_DIR, Apache, Caddy, FsdgimgServe, Nginx, free_port

# the two passes docs/publish.md gives mirror operators (as tests/static/test_mirror.py runs them)
CONTENT_PASS = ["rsync", "-aH", "--exclude=_tags/", "--exclude=_tags.json", "--exclude=/_web/",
                "--exclude=/index.html", "--exclude=/v2/_catalog.json", "--exclude=_referrers/"]
FULL_PASS = ["rsync", "-aH", "--delete-delay"]

LOG_LINE = '$status $body_bytes_sent "$request" "$http_authorization"'
APACHE_LOG = '%>s %B "%r" "%{Authorization}i"'


def run(*args) -> subprocess.CompletedProcess:
    """`fsdgimg ARGS` (this repository's), failing loudly: the helpers are used by bench/mirrors too."""
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "fsdgimg", *map(str, args)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise AssertionError(f"fsdgimg {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    proc.out = proc.stdout
    return proc


def rsync_mirror(source: Path, dest: Path) -> None:
    for cmd in ([*CONTENT_PASS, f"{source}/", f"{dest}/"], [*FULL_PASS, f"{source}/", f"{dest}/"]):
        subprocess.run(cmd, check=True, capture_output=True)


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@dataclass
class Request:
    method: str
    path: str
    status: int
    size: int
    authorization: str


_NGINX = re.compile(r'(\d{3}) (\d+|-) "(\S+) (\S+)[^"]*" "([^"]*)"')
_SERVE = re.compile(r'\S+ "(\S+) (\S+)[^"]*" (\d{3}) (\S+)')


def parse_log(kind: str, text: str) -> list[Request]:
    out = []
    for line in text.splitlines():
        if kind == "caddy":
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            req = entry.get("request") or {}
            if "uri" not in req:
                continue
            auth = (req.get("headers") or {}).get("Authorization") or [""]
            out.append(Request(req["method"], req["uri"], int(entry["status"]), int(entry.get("size") or 0),
                               auth[0]))
        elif kind == "fsdgimg-serve":
            m = _SERVE.match(line)
            if m:
                out.append(Request(m[1], m[2], int(m[3]), 0 if m[4] == "-" else int(m[4]), ""))
        else:
            m = _NGINX.match(line)
            if m:
                out.append(Request(m[3], m[4], int(m[1]), 0 if m[2] == "-" else int(m[2]), m[5].strip("-")))
    return out


class LoggedNginx(Nginx):
    """nginx with an access log, on any loopback address."""

    def __init__(self, workdir: Path, server_block: str, port: int, host: str = "127.0.0.1"):
        super().__init__(workdir, server_block, port)
        self.host, self.kind = host, "nginx"
        self.access_log = self.workdir / "logs" / "access.log"
        self.conf.write_text(self.conf.read_text().replace(
            "access_log off;", f"log_format fsdgimg '{LOG_LINE}';\n  access_log {self.access_log} fsdgimg;"))

    def ready(self) -> bool:
        return answers(f"http://{self.host}:{self.port}/v2/")

    def requests(self) -> list[Request]:
        return parse_log("nginx", self.access_log.read_text() if self.access_log.exists() else "")


class LoggedApache(Apache):
    def __init__(self, workdir: Path, site: str, port: int):
        self.access_log = Path(workdir) / "access.log"
        super().__init__(workdir, f'LogFormat "{APACHE_LOG.replace(chr(34), chr(92) + chr(34))}" fsdgimg\n'
                                  f"CustomLog {self.access_log} fsdgimg\n{site}", port)
        self.host, self.kind = "127.0.0.1", "apache"

    def requests(self) -> list[Request]:
        return parse_log("apache", self.access_log.read_text() if self.access_log.exists() else "")


class LoggedCaddy(Caddy):
    def __init__(self, workdir: Path, site: str, port: int):
        self.access_log = Path(workdir) / "access.log"
        head, brace, rest = site.partition("{\n")
        super().__init__(workdir, f"{head}{brace}\tlog {{\n\t\toutput file {self.access_log}\n\t\tformat json\n\t}}\n"
                                  f"{rest}", port)
        self.host, self.kind = "127.0.0.1", "caddy"

    def requests(self) -> list[Request]:
        return parse_log("caddy", self.access_log.read_text() if self.access_log.exists() else "")


class LoggedServe(FsdgimgServe):
    """`fsdgimg serve --blob-mirror ...`, its request log in its log file."""

    def __init__(self, workdir: Path, root: Path, mirrors: list[str]):
        super().__init__(workdir, root)
        self.mirrors, self.host, self.kind = mirrors, "127.0.0.1", "fsdgimg-serve"

    def command(self) -> list[str]:
        argv = [sys.executable, "-m", "fsdgimg", "serve", str(self.root), "--listen", f"127.0.0.1:{self.port}"]
        for m in self.mirrors:
            argv += ["--blob-mirror", m]
        return argv

    def env(self) -> dict:
        return dict(os.environ, PYTHONPATH=str(PYTHON_DIR) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def requests(self) -> list[Request]:
        return parse_log("fsdgimg-serve", self.log())


def start_origin(kind: str, tree: Path, workdir: Path, mirrors: list[str]):
    """An origin of `kind` serving `tree` with its blobs redirected to `mirrors` (web-config's output)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if kind == "fsdgimg-serve":
        return LoggedServe(workdir, tree, mirrors).start()
    port = free_port()
    flags = [a for m in mirrors for a in ("--blob-mirror", m)]
    site = run("web-config", kind, "--root", tree, "--listen", f"127.0.0.1:{port}", *flags).out
    cls = {"nginx": LoggedNginx, "apache": LoggedApache, "caddy": LoggedCaddy}[kind]
    return cls(workdir, site, port).start()


def start_mirror(tree: Path, workdir: Path, host: str) -> LoggedNginx:
    """A mirror: the copy `tree` served by nginx with fsdgimg's configuration on `host`."""
    port = free_port()
    block = run("web-config", "nginx", "--root", tree, "--listen", f"{host}:{port}").out
    return LoggedNginx(workdir, block, port, host).start()


def blob_requests(server) -> list[Request]:
    return [r for r in server.requests() if "/blobs/" in r.path or "/_blobs/" in r.path]
