"""The config.yml that registry-service-type generates, with every option set, run by the
Distribution registries these machines have: Debian 12's docker-registry (2.8.2) and Debian sid's
(2.8.3, the version upstream Guix packages) in the Guix chroot. The debug server answers
/debug/health and /metrics.

The channel packages Distribution 3.1.1, which cannot be built here (no Go module proxy, no
substitutes), so no 3.x binary runs in these tests: the file is instead checked against the keys
and value types of Distribution's configuration structure (configuration/configuration.go, the
Configuration type, transcribed below). That check stops at the parser's types; what the 3.1.1
registry then does with the values is only exercised by the 2.8 runs."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
from guixrun import CHROOT, guix_chroot, host_config_yml, scheme, scheme_string  # noqa: F401 (fixture)
from servers import ServerProcess, _http_status, free_port, have

pytestmark = pytest.mark.usefixtures("guix_chroot")

DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
# Distribution's Configuration: a key is a nested table, or the type of its value. "params" are
# driver parameter maps (map[string]interface{}), read key by key by the registry code.
SCHEMA = {
    "version": "version",
    "log": {"accesslog": {"disabled": bool}, "level": "loglevel", "formatter": str, "fields": "params",
            "reportcaller": bool},
    "storage": {"filesystem": {"rootdirectory": str, "maxthreads": int},
                "delete": {"enabled": bool},
                "maintenance": {"readonly": {"enabled": bool},
                                "uploadpurging": {"enabled": bool, "age": "duration", "interval": "duration",
                                                  "dryrun": bool}},
                "redirect": {"disable": bool}, "cache": "params", "tag": {"concurrencylimit": int}},
    "auth": {"htpasswd": {"realm": str, "path": str}, "token": "params", "silly": "params"},
    "http": {"addr": str, "net": str, "host": str, "prefix": str, "secret": str, "relativeurls": bool,
             "draintimeout": "duration", "tls": "params", "headers": "headers",
             "debug": {"addr": str, "prometheus": {"enabled": bool, "path": str}},
             "http2": {"disabled": bool}},
    "health": {"storagedriver": {"enabled": bool, "interval": "duration", "threshold": int}},
}


def parse_yaml(text: str) -> dict:
    """The YAML the channel writes: nested mappings (two-space indent), double-quoted strings,
    integers, booleans, flow sequences of strings."""
    root: dict = {}
    stack = [(-1, root)]
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, _, value = line.strip().partition(":")
        while stack[-1][0] >= indent:
            stack.pop()
        table = stack[-1][1]
        value = value.strip()
        if not value:
            table[key] = {}
            stack.append((indent, table[key]))
        elif value.startswith("["):
            table[key] = [json.loads(v) for v in re.findall(r'"(?:[^"\\]|\\.)*"', value)]
        elif value.startswith('"'):
            table[key] = json.loads(value)
        elif value in ("true", "false"):
            table[key] = value == "true"
        else:
            table[key] = int(value)
    return root


def schema_errors(config: dict, schema: dict = SCHEMA, path: str = "") -> list[str]:
    errors = []
    for key, value in config.items():
        where = f"{path}{key}"
        if key not in schema:
            errors.append(f"{where}: not a key of Distribution's configuration")
            continue
        kind = schema[key]
        if isinstance(kind, dict):
            errors += schema_errors(value, kind, where + ".") if isinstance(value, dict) else \
                [f"{where}: expected a mapping"]
        elif kind == "params":
            errors += [] if isinstance(value, dict) else [f"{where}: expected a mapping"]
        elif kind == "headers":
            ok = isinstance(value, dict) and all(isinstance(v, list) and all(isinstance(s, str) for s in v)
                                                 for v in value.values())
            errors += [] if ok else [f"{where}: expected header names mapped to lists of strings"]
        elif kind == "version":
            errors += [] if isinstance(value, str) and re.fullmatch(r"[0-9]+\.[0-9]+", value) else \
                [f"{where}: expected a MAJOR.MINOR string"]
        elif kind == "loglevel":
            errors += [] if value in ("error", "warn", "info", "debug") else [f"{where}: not a log level"]
        elif kind == "duration":
            errors += [] if isinstance(value, str) and DURATION.match(value) else [f"{where}: not a Go duration"]
        elif kind is int:
            errors += [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: not an integer"]
        elif not isinstance(value, kind):
            errors.append(f"{where}: expected {kind.__name__}")
    return errors


def generated(work: Path, **fields: str) -> str:
    settings = " ".join(f"({k} {v})" for k, v in fields.items())
    return scheme(f"(registry-configuration->yaml (registry-configuration {settings}))")


def full_config(work: Path, port: int, debug_port: int) -> str:
    htpasswd = work / "htpasswd"
    subprocess.run(["htpasswd", "-B", "-b", "-c", str(htpasswd), "alice", "s3cret"], check=True,
                   capture_output=True)
    return generated(work, **{"address": scheme_string(f"127.0.0.1:{port}"),
                              "storage-root": scheme_string(str(work / "storage")),
                              "debug-address": scheme_string(f"127.0.0.1:{debug_port}"),
                              "htpasswd-file": scheme_string(str(htpasswd)),
                              "log-level": "'debug", "delete?": "#t", "read-only?": "#t",
                              "health-check-interval": scheme_string("1500ms")})


def test_every_option_is_a_key_distribution_parses(tmp_path):
    config = parse_yaml(full_config(tmp_path, 5000, 5001))
    assert schema_errors(config) == []
    assert config["http"]["debug"] == {"addr": "127.0.0.1:5001", "prometheus": {"enabled": True, "path": "/metrics"}}
    assert config["auth"]["htpasswd"]["path"] == str(tmp_path / "htpasswd")
    # The host's file too (guix-fsdg-registry/config.yml.scm prints it).
    host = parse_yaml(host_config_yml())
    assert schema_errors(host) == []


def test_schema_check_catches_wrong_keys_and_types():
    assert schema_errors({"http": {"adr": "x"}}) == ["http.adr: not a key of Distribution's configuration"]
    assert schema_errors({"health": {"storagedriver": {"interval": "10"}}}) == \
        ["health.storagedriver.interval: not a Go duration"]
    assert schema_errors({"storage": {"delete": {"enabled": "true"}}}) == ["storage.delete.enabled: expected bool"]
    assert schema_errors({"log": {"level": "verbose"}}) == ["log.level: not a log level"]


class Registry(ServerProcess):
    """A docker-registry binary serving a config file: the host's, or sid's inside the chroot."""

    name = "registry"

    def __init__(self, workdir: Path, config: str, port: int, debug_port: int, in_chroot: bool):
        super().__init__(workdir)
        self.port, self.debug_port, self.in_chroot = port, debug_port, in_chroot
        self.config = self.workdir / "config.yml"
        self.config.write_text(config)

    def command(self):
        if not self.in_chroot:
            return ["docker-registry", "serve", str(self.config)]
        # The work directory appears at the same path inside the chroot, in a private mount
        # namespace that ends with the registry (the chroot shares the host's network).
        work = self.workdir.parent
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                'mkdir -p "$1$2" && mount --bind "$2" "$1$2" && exec chroot "$1" /usr/bin/docker-registry serve "$3"',
                "sh", str(CHROOT), str(work), str(self.config)]

    def ready(self):
        return _http_status(f"http://127.0.0.1:{self.port}/v2/") == 401


def version(in_chroot: bool) -> str:
    argv = ["chroot", str(CHROOT), "docker-registry", "--version"] if in_chroot else ["docker-registry", "--version"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()[-1]


@pytest.mark.parametrize("in_chroot", [False, True], ids=["debian-12", "sid"])
def test_generated_config_runs(tmp_path, in_chroot):
    if not have("docker-registry", "htpasswd") or \
            (in_chroot and not (CHROOT / "usr/bin/docker-registry").exists()):
        pytest.fail("docker-registry missing: run `bash scripts/setup.sh` and tests/guix/setup-chroot.sh",
                    pytrace=False)
    assert version(in_chroot).startswith("2.8.3" if in_chroot else "2.8.")
    port, debug_port = free_port(), free_port()
    work = tmp_path / "work"
    work.mkdir()
    with Registry(work, full_config(work, port, debug_port), port, debug_port, in_chroot):
        assert _http_status(f"http://127.0.0.1:{port}/v2/") == 401          # htpasswd on
        with urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/debug/health", timeout=10) as r:
            assert r.status == 200 and json.loads(r.read()) == {}
        with urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/metrics", timeout=10) as r:
            assert r.status == 200 and b"registry_" in r.read()
