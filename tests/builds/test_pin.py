"""`fsdgimg pin NAME`: a Guix catalog entry fixed to channels with commits, in a file beside the catalog."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import REPO, assert_one_line_error, run_cli

INTRODUCTION = ('(make-channel-introduction "9edb3f66fd807b096b48283debdcddccfea34bad" (openpgp-fingerprint '
                '"BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA"))')


def _channels(commit: str | None) -> str:
    pinned = f' (commit "{commit}")' if commit else ""
    return (f'(list (channel (name \'guix) (url "https://git.guix.gnu.org/guix.git") (branch "master"){pinned}'
            f" (introduction {INTRODUCTION})))\n")


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of the catalog (and the files its Guix entries name) to pin in."""
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    return tmp_path


def test_pin_writes_the_channels_and_points_the_entry_at_them(guix_env, checkout):
    catalog = checkout / "manifests" / "catalog.toml"
    before = catalog.read_text()
    given = checkout / "farm-channels.scm"
    given.write_text(_channels("0123456789abcdef0123456789abcdef01234567"))
    proc = run_cli("pin", "guix-minimal", "--catalog", catalog, "--channels", given, "--json", env=guix_env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["channels"] == "manifests/channels/guix-minimal.scm"
    assert out["pinned"] == [{"name": "guix", "url": "https://git.guix.gnu.org/guix.git",
                              "commit": "0123456789abcdef0123456789abcdef01234567"}]
    assert (checkout / out["channels"]).read_text() == given.read_text()
    # One line of the catalog changed, in that entry's table; comments and the rest kept.
    changed = [(a, b) for a, b in zip(before.splitlines(), catalog.read_text().splitlines()) if a != b]
    assert changed == [('channels = "host"', 'channels = "manifests/channels/guix-minimal.scm"')]
    listed = {e["name"]: e for e in json.loads(run_cli("list", "--catalog", catalog, "--json").stdout)["images"]}
    assert listed["guix-minimal"]["pin"] == "channels manifests/channels/guix-minimal.scm"
    assert listed["guix-registry"]["pin"] == "guix (host)"
    # Every build of it now runs through guix time-machine -C that file.
    from fsdgimg import catalog as cat
    from fsdgimg.build.builders.base import Context
    from fsdgimg.build.builders.guix_builders import guix_for
    from fsdgimg.guix import Guix
    entry = cat.load(catalog).get("guix-minimal").for_arch("amd64")
    argv = guix_for(entry, Context(checkout, None, Guix(executable="guix"))).command("describe")
    assert argv[:4] == ["guix", "time-machine", "-C", str(checkout / out["channels"])]


def test_what_pins_nothing_is_refused(guix_env, checkout):
    catalog = checkout / "manifests" / "catalog.toml"
    before = catalog.read_text()
    # This machine's guix is Debian's, not from `guix pull`: its channel has no commit.
    assert_one_line_error(run_cli("pin", "guix-minimal", "--catalog", catalog, env=guix_env), 1,
                          "channel guix has no commit")
    unpinned = checkout / "unpinned.scm"
    unpinned.write_text(_channels(None))
    assert_one_line_error(run_cli("pin", "guix-minimal", "--catalog", catalog, "--channels", unpinned, env=guix_env),
                          1, "channel guix has no commit")
    notchannels = checkout / "not.scm"
    notchannels.write_text("(list 1 2 3)\n")
    assert_one_line_error(run_cli("pin", "guix-minimal", "--catalog", catalog, "--channels", notchannels,
                                  env=guix_env), 1, "reading the channels")
    assert_one_line_error(run_cli("pin", "trisquel-minimal", "--catalog", catalog, env=guix_env), 2,
                          "only Guix entries have channels to pin")
    assert catalog.read_text() == before and not (checkout / "manifests" / "channels").exists()
