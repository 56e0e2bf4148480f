"""Parabola GNU/Linux-libre root file systems with pacstrap (arch-install-scripts) and pacman.

Where pacstrap and pacman are missing, the build stops with one line saying so: Parabola's
tools are not in Guix, and faking a Parabola image with other tools would not be Parabola.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fsdgimg.build.builders.base import Builder, BuildResult, Context, NotAvailable, run_tool
from fsdgimg.catalog import Entry
from fsdgimg.platforms import unrunnable

TOOLS = ("pacstrap", "pacman", "pacman-key")
REPOS = ("libre", "core", "extra")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def pacman_conf(entry: Entry) -> str:
    """A pacman.conf of the catalog's mirror only: nothing from the host's configuration."""
    lines = ["[options]", f"Architecture = {entry.arch.pacman}",
             "SigLevel = Required DatabaseOptional", "LocalFileSigLevel = Optional", ""]
    for repo in REPOS:
        lines += [f"[{repo}]", f"Server = {entry.get('mirror')}", ""]
    return "\n".join(lines)


class PacstrapBuilder(Builder):
    name = "pacstrap"

    def unavailable(self, entry: Entry) -> str | None:
        missing = missing_tools()
        if missing:
            return f"{', '.join(missing)} missing (install arch-install-scripts and pacman)"
        return unrunnable(entry.arch)     # pacman's install hooks run the target's binaries

    def build(self, entry: Entry, ctx: Context, round_no: int) -> BuildResult:
        missing = missing_tools()
        if missing:
            raise NotAvailable(f"{entry.name}: not available on this host: "
                               f"{', '.join(missing)} missing (install arch-install-scripts and pacman, "
                               f"with {entry.get('keyring-package', 'the distribution keyring')})")
        work = ctx.round_dir(round_no)
        conf = work / "pacman.conf"
        conf.write_text(pacman_conf(entry))
        root = work / "rootfs"
        root.mkdir()
        # -G: do not copy the host's keyring, -M: nor its mirror list; -C: only our pacman.conf.
        run_tool(["pacstrap", "-C", str(conf), "-G", "-M", str(root), *entry.get("packages")],
                 f"{entry.name}: pacstrap", ctx)
        shutil.rmtree(root / "var" / "cache" / "pacman" / "pkg", ignore_errors=True)
        annotations = {"org.fsdgimg.source.mirror": entry.get("mirror"),
                       "org.fsdgimg.source.suite": entry.get("suite", "rolling")}
        return BuildResult("rootfs", Path(root), annotations, method="pacstrap on the host")
