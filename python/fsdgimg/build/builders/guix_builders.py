"""Guix-built images: `guix system image --image-type=docker` and `guix pack -f docker`.

Both go the same way: compute the derivation (`-d`), build it (`guix build DRV`), and hand the
docker archive Guix wrote to the image core. --check is Guix's own: `guix build --check
--keep-failed DRV` rebuilds the derivation and compares with the store item; when the rebuild
differs, Guix keeps it as OUTPUT-check and fsdgimg compares the two archives itself.
"""

from __future__ import annotations

from pathlib import Path

from fsdgimg.build.builders.base import Builder, BuildResult, Context
from fsdgimg.catalog import Entry
from fsdgimg.errors import InputError
from fsdgimg.guix import Guix

CHANNELS_FILE = "channels.scm"


def guix_for(entry: Entry, ctx: Context) -> Guix:
    """The driver for `entry` (one architecture): this channel on the load path, its system (and
    target when cross-compiled), its pin."""
    channel = entry.base / "channel"
    pin = entry.get("channels", "host")
    channels = None
    if pin != "host":
        channels = (entry.base / pin).resolve()
        if not channels.is_file():
            raise InputError(f"{entry.name}: channels file {channels} does not exist")
    return Guix(load_path=[channel] if channel.is_dir() else [], system=entry.guix_system,
                target=entry.guix_target, channels=channels, executable=ctx.guix.executable,
                echo=ctx.guix.echo)


class GuixBuilder(Builder):
    what = "guix"
    needs_epoch = False   # the store's files all carry time 1

    def rebuild(self, entry: Entry, ctx: Context, first: BuildResult, round_no: int = 2) -> BuildResult | None:
        return self.check(entry, ctx, first)

    def discard(self, result: BuildResult) -> None:
        pass   # the output belongs to the store

    def derivation_argv(self, entry: Entry, guix: Guix) -> list[str]:
        raise NotImplementedError

    def input_file(self, entry: Entry) -> Path:
        raise NotImplementedError

    def derivation(self, entry: Entry, ctx: Context) -> str:
        path = self.input_file(entry)
        if not path.is_file():
            raise InputError(f"{entry.name}: {path} does not exist")
        guix = guix_for(entry, ctx)
        return guix.derivation(self.derivation_argv(entry, guix), f"{entry.name}: {self.what} -d")

    def build(self, entry: Entry, ctx: Context, round_no: int) -> BuildResult:
        guix = guix_for(entry, ctx)
        drv = self.derivation(entry, ctx)
        out = guix.build(drv, f"{entry.name}: guix build")
        return self.result(entry, ctx, drv, out)

    def result(self, entry: Entry, ctx: Context, drv: str, out: str) -> BuildResult:
        guix = guix_for(entry, ctx)
        channels = guix.describe_channels()
        annotations = {"org.fsdgimg.guix.derivation": drv,
                       "org.fsdgimg.guix.output": out,
                       # The channels (URL, commit) that reproduce the image: `guix time-machine -C`.
                       "org.fsdgimg.guix.channels": " ".join(channels.split())}
        return BuildResult("docker-archive", Guix.host_path(out), annotations,
                           {CHANNELS_FILE: channels.encode()}, drv, out, method=self.what,
                           inputs=self.locked(entry, guix, drv, channels), tool=self.tool(entry))

    def tool(self, entry: Entry) -> dict:
        """The lock's record of the command: plain `guix`, the input file relative to the checkout."""
        path = self.input_file(entry)
        relative = str(path.relative_to(entry.base)) if path.is_relative_to(entry.base) else path.name
        argv = self.derivation_argv(entry, Guix(system=entry.guix_system, target=entry.guix_target,
                                                executable="guix"))
        return {"name": "guix", "argv": [relative if a == str(path) else a for a in argv]}

    def locked(self, entry: Entry, guix: Guix, drv: str, channels: str) -> dict:
        """What the lock records of a Guix build: the channels (with their commits: `guix
        time-machine -C` rebuilds from them), the derivation, and the input file's hash."""
        import hashlib
        described = [{k: c.get(k) for k in ("name", "url", "commit", "introduction") if c.get(k) is not None}
                     for c in guix.describe_json() if isinstance(c, dict)]
        for c in described:
            for k in ("url", "commit"):
                if c.get(k) is False:
                    c[k] = None
        path = self.input_file(entry)
        return {"channels": described, "channelsFile": channels, "derivation": drv,
                "pinned": bool(described) and all(c.get("commit") for c in described),
                "file": {"path": str(path.relative_to(entry.base)) if path.is_relative_to(entry.base) else path.name,
                         "sha256": hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None}}

    def check(self, entry: Entry, ctx: Context, first: BuildResult) -> BuildResult | None:
        """None when `guix build --check` found the rebuild identical, else the differing rebuild."""
        outcome = guix_for(entry, ctx).check(first.derivation, f"{entry.name}: guix build --check")
        if outcome.identical:
            return None
        other = outcome.other or f"{first.store_path}-check"
        return BuildResult("docker-archive", Guix.host_path(other), dict(first.annotations),
                           dict(first.files), first.derivation, other, method="guix build --check")

    def check_method(self) -> str:
        return "guix build --check (the derivation rebuilt by the daemon)"


class GuixSystemBuilder(GuixBuilder):
    name = "guix-system"
    what = "guix system image --image-type=docker"

    def input_file(self, entry: Entry) -> Path:
        return entry.path("file")

    def derivation_argv(self, entry: Entry, guix: Guix) -> list[str]:
        return guix.system_image_command(self.input_file(entry), derivation=True)


class GuixPackBuilder(GuixBuilder):
    name = "guix-pack"
    what = "guix pack -f docker"

    def input_file(self, entry: Entry) -> Path:
        return entry.path("manifest")

    def derivation_argv(self, entry: Entry, guix: Guix) -> list[str]:
        return guix.pack_command(self.input_file(entry), derivation=True,
                                 max_layers=entry.get("max-layers"), entry_point=entry.get("entry-point"))
