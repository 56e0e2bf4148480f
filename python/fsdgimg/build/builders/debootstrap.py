"""Debian-family root file systems (Trisquel, PureOS; Debian for tests) from their own archives.

On a host with mmdebstrap it makes the tarball directly (reproducible with SOURCE_DATE_EPOCH: it
clamps mtimes and fixes the day number in /etc/shadow). Otherwise debootstrap fills a directory
that the image core archives with mtimes clamped to SOURCE_DATE_EPOCH — on the host, or inside
`guix shell --container --network debootstrap KEYRING` when Guix is there, so that the tools and
the distribution's keyring come from Guix rather than from the host.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from fsdgimg.build.builders.base import (
    Builder,
    BuildFailed,
    BuildResult,
    Context,
    NotAvailable,
    run_tool,
    tool_version,
)
from fsdgimg.build.debian_archive import (
    assemble_repository,
    capture_hooks,
    captured,
    debs_by_sha256,
    locked_inputs,
    prepare_capture,
)
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


def hook_stage(entry: Entry) -> str:
    """Catalog hooks are mmdebstrap hooks ($1 is the root directory), run once the tree is complete:
    customize hooks, except in the extract variant, which silently skips those."""
    return "extract" if entry.get("variant") == "extract" else "customize"


def mmdebstrap_argv(entry: Entry, out: Path, keyring: Path | None, *, mirror: str | None = None,
                    after: list[str] = ()) -> list[str]:
    """mmdebstrap's command line for `entry`; `mirror` replaces the entry's (a rebuild's local
    repository) and `after` are more options, given after the catalog's hooks."""
    argv = ["mmdebstrap", f"--variant={entry.get('variant', 'minbase')}", "--format=tar",
            f"--architectures={entry.arch.debian}",
            f"--components={','.join(entry.get('components', ['main']))}"]
    if entry.get("include"):
        argv.append(f"--include={','.join(entry.get('include'))}")
    if keyring is not None:
        argv.append(f"--keyring={keyring}")
    argv += [f"--{hook_stage(entry)}-hook={h}" for h in entry.get("hooks", [])]
    argv += list(after)
    argv += [entry.get("suite"), str(out), mirror or entry.get("mirror")]
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
            return self._mmdebstrap(entry, ctx, work, annotations)
        if ctx.lock is not None:
            raise NotAvailable(f"{entry.name}: a rebuild from a lock runs mmdebstrap, which is not used here ({tools})")
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
        # debootstrap leaves what it downloaded in the tree: the lock is made of it, then it goes.
        archives, lists = target / "var/cache/apt/archives", target / "var/lib/apt/lists"
        inputs = locked_inputs(archives, lists, target / "etc/apt", entry.get("mirror"), entry.get("suite"),
                               entry.get("components", ["main"]), entry.arch.debian, entry.name)
        kept = work / "inputs"
        kept.mkdir()
        for deb in archives.glob("*.deb"):
            shutil.move(str(deb), kept / deb.name)
        _drop_volatile(target)
        return BuildResult("rootfs", target, annotations, method=method, inputs=inputs, inputs_dir=kept,
                           tool={"name": "debootstrap", "argv": ["debootstrap", *debootstrap_args(entry, Path("{root}"))]})

    def _mmdebstrap(self, entry: Entry, ctx: Context, work: Path, annotations: dict) -> BuildResult:
        out, capture, stage = work / "rootfs.tar", work / "capture", hook_stage(entry)
        prepare_capture(capture)
        after = ["--skip=essential/unlink"]   # keeps the essential .debs in the cache for the capture
        mirror = None
        if ctx.lock is not None:
            # A rebuild: apt resolves from a repository of exactly the locked .debs; the image then
            # gets back the sources the original build wrote (the local one is a rebuild's detail).
            repo = assemble_repository(ctx.lock.debian, entry.arch.debian, ctx.fetch, work / "repo", entry.name)
            mirror = (f"deb [trusted=yes] copy://{repo} {entry.get('suite')} "
                      + " ".join(entry.get("components", ["main"])))
            after += restore_sources_hooks(stage, ctx.lock.debian.sources, work / "sources")
        after += capture_hooks(stage, capture)
        keyring = host_keyring(entry) if ctx.lock is None else None
        argv = mmdebstrap_argv(entry, out, keyring, mirror=mirror, after=after)
        run_tool(argv, f"{entry.name}: mmdebstrap", ctx)
        archives, lists, apt = captured(capture)
        if ctx.lock is None:
            inputs = locked_inputs(archives, lists, apt, entry.get("mirror"), entry.get("suite"),
                                   entry.get("components", ["main"]), entry.arch.debian, entry.name)
        else:
            # apt saw nothing but the locked packages; that it took all of them is checked here.
            inputs = ctx.lock.debian
            taken, locked = set(debs_by_sha256(archives)), {p.sha256 for p in inputs.packages}
            if taken != locked:
                raise BuildFailed(f"{entry.name}: the rebuild installed {len(taken & locked)} of the "
                                  f"{len(locked)} locked packages (the lock's options and packages disagree)")
        # The argv as the lock records it: no host paths, none of the capture's own hooks.
        recorded = mmdebstrap_argv(entry, Path("{out}"), Path("{keyring}") if keyring else None,
                                   after=["--skip=essential/unlink"])
        tool = {"name": "mmdebstrap", "version": tool_version(["mmdebstrap", "--version"]), "argv": recorded}
        return BuildResult("rootfs", out, annotations, method="mmdebstrap on the host", inputs=inputs,
                           inputs_dir=archives, tool=tool)


def restore_sources_hooks(stage: str, sources: dict[str, str], tree: Path) -> list[str]:
    """Hooks that give the image the apt sources the original build wrote, in place of the ones
    mmdebstrap wrote for the local repository."""
    # The directories' mtimes are kept as they were: the original build never touched them after
    # dpkg set them (removing and adding files would, and the tarball would record it).
    times = tree / "mtimes"
    times.mkdir(parents=True, exist_ok=True)
    dirs = [("etc/apt", times / "apt"), ("etc/apt/sources.list.d", times / "sources.list.d")]
    keep = "; ".join(f'if [ -d "$1/{d}" ]; then touch -r "$1/{d}" {shlex.quote(str(t))}; fi' for d, t in dirs)
    back = "; ".join(f'if [ -e {shlex.quote(str(t))} ]; then touch -r {shlex.quote(str(t))} "$1/{d}"; fi'
                     for d, t in dirs)
    hooks = [f"--{stage}-hook={keep}",
             f'--{stage}-hook=rm -f "$1/etc/apt/sources.list" "$1"/etc/apt/sources.list.d/*']
    for path, text in sorted(sources.items()):
        f = tree / path
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text, encoding="utf-8")
        hooks.append(f"--{stage}-hook=upload {f} /{path}")
    return hooks + [f"--{stage}-hook={back}"]


def _drop_volatile(root: Path) -> None:
    """What debootstrap leaves that belongs to no image: its own logs and the package cache."""
    shutil.rmtree(root / "debootstrap", ignore_errors=True)
    cache = root / "var" / "cache" / "apt" / "archives"
    if cache.is_dir():
        for deb in cache.glob("*.deb"):
            deb.unlink()
    for f in (root / "var" / "log").glob("*.log") if (root / "var" / "log").is_dir() else ():
        f.unlink()
