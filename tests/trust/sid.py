"""Run Debian sid's cosign, skopeo, podman and oras, installed in the Guix chroot by setup-chroot.sh, with the
host's /tmp visible at the same path (a private mount namespace that ends with the command)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

CHROOT = Path(os.environ.get("FSDGIMG_GUIX_CHROOT", "/var/cache/fsdgimg/guix-sid"))


def sid(*argv, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    envs = [f"{k}={v}" for k, v in (env or {}).items()]
    script = f'mount --rbind /tmp "{CHROOT}/tmp" && exec chroot "{CHROOT}" /usr/bin/env HOME=/root "$@"'
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sid",
                           *envs, *map(str, argv)], capture_output=True, text=True, timeout=timeout)


def cosign_verify(ref: str, pub: Path) -> subprocess.CompletedProcess:
    """`cosign verify` offline (no transparency log) against a plain-HTTP loopback registry."""
    return sid("cosign", "verify", "--key", pub, "--insecure-ignore-tlog=true",
               "--allow-insecure-registry=true", ref)


def skopeo_copy(ref: str, dest: Path, policy: Path, registries_d: Path) -> subprocess.CompletedProcess:
    return sid("skopeo", "--policy", policy, "--registries.d", registries_d, "copy", "--remove-signatures",
               "--src-tls-verify=false", f"docker://{ref}", f"oci:{dest}")


def podman_pull(ref: str, workdir: Path, policy: Path, registries_d: Path,
                platform: str | None = None) -> subprocess.CompletedProcess:
    """sid's `podman pull` (built with sigstore, unlike Debian 12's) with its own storage under
    `workdir`, a signature policy, and registries.d read from $HOME/.config/containers."""
    home = workdir / "home"
    conf = home / ".config" / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    if not (conf / "registries.d").exists():
        (conf / "registries.d").symlink_to(registries_d)
    (workdir / "xdg").mkdir(exist_ok=True)
    base = ["podman", "--root", workdir / "root", "--runroot", workdir / "run", "--tmpdir", workdir / "tmp",
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    args = ["pull", "-q", "--tls-verify=false", "--signature-policy", policy]
    if platform:
        args += ["--platform", platform]
    return sid("env", f"HOME={home}", f"XDG_RUNTIME_DIR={workdir / 'xdg'}", "PODMAN_IGNORE_CGROUPSV1_WARNING=1",
               *base, *args, ref)
