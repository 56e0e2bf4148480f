"""Fixtures of the trust tests (SBOM, FSDG audit): real Debian builds from Debian's archive, one
from main only and one that includes `unrar` from non-free, and the SPDX project's validator."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from builds.conftest import EPOCH, debian_mirror, guix_env, run_cli  # noqa: F401  (guix_env: a fixture)
from servers import Registry

REPO = Path(__file__).resolve().parents[2]
PYSPDXTOOLS = Path(sys.executable).with_name("pyspdxtools")
KEY_PASSWORD = "release-pw"


def _entry(name: str, components: list[str], include: list[str] | None = None) -> str:
    lines = [f"[images.{name}]", 'distribution = "debian"', 'builder = "debootstrap"',
             f'mirror = "{debian_mirror()}"', 'suite = "bookworm"', 'variant = "essential"',
             "components = [" + ", ".join(f'"{c}"' for c in components) + "]",
             'architecture = "amd64"', 'cmd = ["/bin/sh"]']
    if include:
        lines.append("include = [" + ", ".join(f'"{p}"' for p in include) + "]")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def trust_catalog(tmp_path_factory) -> Path:
    if shutil.which("mmdebstrap") is None:
        pytest.fail("mmdebstrap is not installed (scripts/setup.sh installs it)")
    path = tmp_path_factory.mktemp("trust-catalog") / "catalog.toml"
    path.write_text(f'root = "{REPO}"\n\n' + _entry("debian-free", ["main"]) + "\n"
                    + _entry("debian-nonfree", ["main", "non-free"], ["unrar"]))
    return path


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    with Registry(tmp_path_factory.mktemp("trust-registry")) as reg:
        yield reg


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory) -> Path:
    """PREFIX of an fsdgimg-made key pair (PREFIX.key, encrypted with KEY_PASSWORD, and PREFIX.pub)."""
    prefix = tmp_path_factory.mktemp("keys") / "release"
    proc = run_cli("sign", "--generate-key", prefix, env={"COSIGN_PASSWORD": KEY_PASSWORD})
    assert proc.returncode == 0, proc.stderr
    return prefix


@pytest.fixture(scope="session")
def free_build(trust_catalog, registry, signing_key, tmp_path_factory):
    """`fsdgimg build debian-free --publish docker://… --sign-key` (one essential-variant build from
    main): the layout, the outcome, and the published reference."""
    work = tmp_path_factory.mktemp("free")
    ref = f"{registry.host}/debian-free:bookworm"
    proc = run_cli("build", "debian-free", "--catalog", trust_catalog, "--tools", "host",
                   "--out", work / "layout", "--publish", f"docker://{ref}", "--json",
                   "--sign-key", signing_key.with_suffix(".key"),
                   env={"SOURCE_DATE_EPOCH": EPOCH, "COSIGN_PASSWORD": KEY_PASSWORD})
    assert proc.returncode == 0, proc.stderr
    return work, json.loads(proc.stdout), ref


def validate_spdx(path: Path) -> None:
    """The SPDX project's own validator (spdx-tools) accepts the document."""
    proc = subprocess.run([str(PYSPDXTOOLS), "--infile", str(path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr
