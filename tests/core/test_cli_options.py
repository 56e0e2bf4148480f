"""Options every command shares come from one place (commands/options.py), and every command has
--json."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from fixtures.cli import fsdgimg

COMMANDS_DIR = Path(__file__).resolve().parents[2] / "python" / "fsdgimg" / "commands"


def subcommands() -> list[str]:
    from fsdgimg.commands import COMMANDS
    return [c.replace("_", "-") for c in COMMANDS]


def test_every_command_has_json():
    listed = re.findall(r"^    ([a-z][a-z-]*)(?:\s|$)", fsdgimg("--help").stdout.decode(), re.M)
    assert sorted(listed) == sorted(subcommands())
    for command in listed:
        text = fsdgimg(command, "--help").stdout.decode()
        assert re.search(r"^\s+--json\b", text, re.M), f"fsdgimg {command} has no --json"


# Options several commands share: declared in commands/options.py only.
SHARED = ["--json", "--platform", "--insecure", "--catalog", "--digestfile", "--tools", "--strict", "--username",
          "--password-stdin", "--ca-file", "--jobs", "--retries", "--no-fsync", "--copy-blobs", "--compression",
          "--level", "--source-date-epoch", "--annotation", "--src-creds", "--src-tls-verify", "--src-cert-dir"]


def test_shared_options_are_declared_in_one_place():
    """No command declares a shared option itself: each comes from an add_* of options.py."""
    for path in sorted(COMMANDS_DIR.glob("*.py")):
        if path.name != "options.py":
            text = path.read_text()
            declared = [o for o in SHARED if re.search(rf"add_argument\(\s*(\"-\w\", )?\"{o}\"", text)]
            assert declared == [], f"{path.name} declares {declared} itself"


def test_commands_reading_a_registry_take_the_source_options():
    for command in ("convert", "publish", "index", "inspect", "sync", "sbom", "audit", "verify"):
        text = fsdgimg(command, "--help").stdout.decode()
        for option in ("--src-creds", "--src-tls-verify", "--src-cert-dir"):
            assert option in text, f"fsdgimg {command} has no {option}"


def test_web_config_json_holds_the_same_text(tmp_path):
    plain = fsdgimg("web-config", "caddy", "--root", tmp_path).stdout.decode()
    obj = json.loads(fsdgimg("web-config", "caddy", "--root", tmp_path, "--json").stdout)
    assert obj == {"server": "caddy", "config": plain}
    key = tmp_path / "k"
    fsdgimg("sign", "--generate-key", key, env={"COSIGN_PASSWORD": "x", "PATH": "/usr/bin:/bin"})
    policy = fsdgimg("web-config", "policy", "--registry", "r.example", "--sigstore-key", f"{key}.pub").stdout
    obj = json.loads(fsdgimg("web-config", "policy", "--registry", "r.example", "--sigstore-key", f"{key}.pub",
                             "--json").stdout)
    assert obj["server"] == "policy" and json.loads(obj["config"]) == json.loads(policy)


def test_serve_json_says_the_port_it_chose(tmp_path, oci_image):
    tree = tmp_path / "tree"
    fsdgimg("publish", f"oci:{oci_image}:latest", "--to", f"static:{tree}", "--name", "hello:1")
    proc = subprocess.Popen([sys.executable, "-m", "fsdgimg", "serve", tree, "--listen", "127.0.0.1:0",
                             "--quiet", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        where = json.loads(proc.stdout.readline())
        assert where["host"] == "127.0.0.1" and where["port"] > 0 and where["root"] == str(tree)
        with urllib.request.urlopen(f"{where['url']}v2/hello/tags/list", timeout=10) as r:
            assert json.load(r)["tags"] == ["1"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert f"serving {tree} on {where['url']}" in proc.stderr.read()
