"""Guix entries for several architectures: --system per architecture, --target where the entry asks
for cross-compilation, through the one Guix driver (real Guix 1.5 in the sid chroot, offline)."""

from __future__ import annotations

import json
from pathlib import Path

from builds.conftest import GUIX_CHROOT, REPO, guix_env, run_cli  # noqa: F401  (guix_env: a fixture)

from fsdgimg.guix import Guix


def test_driver_adds_target_for_cross_compilation():
    g = Guix(load_path=[], system="x86_64-linux", target="riscv64-linux-gnu", executable="guix")
    argv = g.pack_command(Path("m.scm"), derivation=True)
    assert argv[:4] == ["guix", "pack", "--system=x86_64-linux", "--target=riscv64-linux-gnu"]
    assert g.system_image_command(Path("os.scm"), derivation=True)[:5] == \
        ["guix", "system", "image", "--system=x86_64-linux", "--target=riscv64-linux-gnu"]


def test_cross_compiled_architecture_builds_on_the_system_the_entry_gives(tmp_path, guix_env):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f'root = "{REPO}"\n[images.hello-cross]\nbuilder = "guix-pack"\ndistribution = "guix"\n'
                       'manifest = "manifests/images/hello.scm"\nchannels = "host"\n'
                       'architectures = ["amd64", "riscv64"]\nsystems = { riscv64 = "x86_64-linux" }\n')
    listed = json.loads(run_cli("list", "--catalog", catalog, "--json").stdout)["images"][0]
    assert listed["systems"] == {"amd64": "x86_64-linux", "riscv64": "x86_64-linux"}
    assert listed["targets"] == {"riscv64": "riscv64-linux-gnu"}
    proc = run_cli("build", "hello-cross", "--catalog", catalog, "-d", "--json", env=guix_env)
    assert proc.returncode == 0, proc.stderr
    drvs = json.loads(proc.stdout)["derivations"]
    assert drvs["riscv64"]["target"] == "riscv64-linux-gnu" and drvs["amd64"]["target"] is None
    native, cross = (drvs[a]["derivation"] for a in ("amd64", "riscv64"))
    assert native != cross
    cross_text = (GUIX_CHROOT / cross.lstrip("/")).read_text()
    # built by an x86_64 builder, from a profile of packages cross-compiled for riscv64
    assert '"x86_64-linux"' in cross_text and '"riscv64-linux"' not in cross_text
    profile = next(p for p in cross_text.split('"') if p.endswith("-profile.drv"))
    inputs = (GUIX_CHROOT / profile.lstrip("/")).read_text().split('"')
    hello = next(p for p in inputs if p.endswith(".drv") and "-hello-" in p)
    assert "riscv64-linux-gnu" in (GUIX_CHROOT / hello.lstrip("/")).read_text()
