"""Debian-family root file systems (Trisquel, PureOS; Debian for tests) from their own archives.

On a host with mmdebstrap it makes the tarball directly (reproducible with SOURCE_DATE_EPOCH: it
clamps mtimes and fixes the day number in /etc/shadow). Otherwise debootstrap fills a directory
that the image core archives with mtimes clamped to SOURCE_DATE_EPOCH — on the host, or inside
`guix shell --container --network debootstrap KEYRING` when Guix is there, so that the tools and
the distribution's keyring come from Guix rather than from the host.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fsdgimg.build.builders.base import Builder, BuildResult, Context, NotAvailable, run_tool
from fsdgimg.build.keyring import fetch_keyring
from fsdgimg.catalog import Entry
from fsdgimg.errors import UsageError
from fsdgimg.guix import available as guix_available
from fsdgimg.platforms import unrunnable

KEYRING_DIRS = (Path("/usr/share/keyrings"), Path("/etc/apt/trusted.gpg.d"))

# debootstrap runs inside the container with the keyring of the Guix profile, whose path is only
# known there: this fixed script prepends it; our arguments arrive as "$@", never interpolated.
_IN_CONTAINER = 'k="$1"; shift; exec debootstrap --keyring="$GUIX_ENVIRONMENT/share/keyrings/$k" "$@"'


def choose_tools(entry: Entry, ctx: Context) -> str:
    """'mmdebstrap', 'debootstrap' (host) or 'guix' (debootstrap in a Guix container)."""
    tools = ctx.tools
    if tools not in ("auto", "host", "guix"):
        raise UsageError(f"--tools {tools!r}: use auto, host or guix")
    if tools == "guix" or (tools == "auto" and guix_available(ctx.guix.executable)):
        return "guix"
    if shutil.which("mmdebstrap"):
        return "mmdebstrap"
    if shutil.which("debootstrap"):
        return "debootstrap"
    raise NotAvailable(f"{entry.name}: neither mmdebstrap nor debootstrap is installed "
                       "on this host, and there is no guix to run them from")


def host_keyring(entry: Entry) -> Path | None:
    name = entry.get("keyring")
    if not name:
        return None
    for d in KEYRING_DIRS:
        if (d / name).is_file():
            return d / name
    source = entry.get("keyring-source")
    if source:
        return fetch_keyring(source["url"], source["sha256"], source["member"], entry.name)
    raise NotAvailable(f"{entry.name}: keyring {name} is not installed on this host "
                       f"(looked in {', '.join(map(str, KEYRING_DIRS))}); "
                       f"install it, or build with Guix ({entry.get('keyring-package', 'its keyring package')})")


def mmdebstrap_argv(entry: Entry, out: Path, keyring: Path | None) -> list[str]:
    argv = ["mmdebstrap", f"--variant={entry.get('variant', 'minbase')}", "--format=tar",
            f"--architectures={entry.arch.debian}",
            f"--components={','.join(entry.get('components', ['main']))}"]
    if entry.get("include"):
        argv.append(f"--include={','.join(entry.get('include'))}")
    if keyring is not None:
        argv.append(f"--keyring={keyring}")
    # Catalog hooks are mmdebstrap hooks ($1 is the root directory), run once the tree is complete:
    # customize hooks, except in the extract variant, which silently skips those.
    stage = "extract" if entry.get("variant") == "extract" else "customize"
    argv += [f"--{stage}-hook={h}" for h in entry.get("hooks", [])]
    argv += [entry.get("suite"), str(out), entry.get("mirror")]
    return argv


def debootstrap_args(entry: Entry, target: Path) -> list[str]:
    variant = entry.get("variant", "minbase")
    args = [f"--arch={entry.arch.debian}", f"--components={','.join(entry.get('components', ['main']))}"]
    if variant not in ("default", "apt", "required", "important"):
        args.append(f"--variant={variant}")
    if entry.get("include"):
        args.append(f"--include={','.join(entry.get('include'))}")
    args += [entry.get("suite"), str(target), entry.get("mirror")]
    # debootstrap knows a suite by its script; a derivative names the script of its base.
    return args + ([entry.get("script")] if entry.get("script") else [])


def guix_container_argv(entry: Entry, ctx: Context, target: Path) -> list[str]:
    packages = ["debootstrap", "coreutils", "sed", "grep", "gzip", "tar", "perl", "wget", "gnupg",
                "nss-certs"]
    if entry.get("keyring-package"):
        packages.append(entry.get("keyring-package"))
    argv = ctx.guix.command("shell", "--container", "--network", f"--share={target.parent}",
                            *packages, "--", "sh", "-c", _IN_CONTAINER, "debootstrap",
                            entry.get("keyring", ""), *debootstrap_args(entry, target), load_path=False)
    return argv


class DebootstrapBuilder(Builder):
    name = "debootstrap"

    def unavailable(self, entry: Entry) -> str | None:
        # A foreign architecture's maintainer scripts run under qemu-user (binfmt_misc).
        return unrunnable(entry.arch)

    def build(self, entry: Entry, ctx: Context, round_no: int) -> BuildResult:
        tools = choose_tools(entry, ctx)
        work = ctx.round_dir(round_no)
        annotations = {"org.fsdgimg.source.mirror": entry.get("mirror"),
                       "org.fsdgimg.source.suite": entry.get("suite"),
                       "org.fsdgimg.source.variant": entry.get("variant", "minbase")}
        if tools == "mmdebstrap":
            out = work / "rootfs.tar"
            run_tool(mmdebstrap_argv(entry, out, host_keyring(entry)), f"{entry.name}: mmdebstrap", ctx)
            return BuildResult("rootfs", out, annotations, method="mmdebstrap on the host")
        if entry.get("hooks"):
            raise NotAvailable(f"{entry.name}: its hooks need mmdebstrap, which is not used here ({tools})")
        target = work / "rootfs"
        if tools == "debootstrap":
            keyring = host_keyring(entry)
            argv = ["debootstrap"] + ([f"--keyring={keyring}"] if keyring else []) + debootstrap_args(entry, target)
            run_tool(argv, f"{entry.name}: debootstrap", ctx)
            method = "debootstrap on the host"
        else:
            # Through the Guix driver: a failure to build the container's profile reads like guix's.
            ctx.guix.run(guix_container_argv(entry, ctx, target), f"{entry.name}: debootstrap in guix shell",
                         env=ctx.env())
            method = "debootstrap in guix shell --container"
        _drop_volatile(target)
        return BuildResult("rootfs", target, annotations, method=method)


def _drop_volatile(root: Path) -> None:
    """What debootstrap leaves that belongs to no image: its own logs and the package cache."""
    shutil.rmtree(root / "debootstrap", ignore_errors=True)
    cache = root / "var" / "cache" / "apt" / "archives"
    if cache.is_dir():
        for deb in cache.glob("*.deb"):
            deb.unlink()
    for f in (root / "var" / "log").glob("*.log") if (root / "var" / "log").is_dir() else ():
        f.unlink()
