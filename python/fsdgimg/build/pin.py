"""`fsdgimg pin NAME`: fix a Guix catalog entry to the exact channels (with commits) it is built
from, in a channels file beside the catalog (`manifests/channels/NAME.scm`), so that every build
of it — and `guix time-machine -C` years later — uses the same Guix.

The channels come from `guix describe --format=channels` (a guix from `guix pull`) or from a file
(`--channels FILE`, e.g. written by `guix describe` on the build farm). Guix itself evaluates the
file (guile/channels.scm): a channel without a commit pins nothing and is refused.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from fsdgimg import catalog
from fsdgimg.errors import InputError, UsageError
from fsdgimg.guix import Guix
from fsdgimg.transports.static.files import write_bytes

PROGRAM = Path(__file__).resolve().parent.parent / "guile" / "channels.scm"
PIN_DIR = Path("manifests") / "channels"


def channels_of(guix: Guix, file: Path, where: str) -> list[dict]:
    """The channels a channels file names, as Guix reads it."""
    data = guix.repl_json(PROGRAM, [str(file)], f"{where}: reading the channels")
    channels = data.get("channels") if isinstance(data, dict) else None
    if not isinstance(channels, list) or not channels:
        raise InputError(f"{where}: names no channel")
    unpinned = [c.get("name", "?") for c in channels if not c.get("commit")]
    if unpinned:
        raise InputError(f"{where}: channel {unpinned[0]} has no commit (a guix not from `guix pull` "
                         "describes itself so): it pins nothing; pin from a guix that was pulled, or give "
                         "--channels FILE")
    return channels


def pin(name: str, catalog_path: Path | None, channels_file: Path | None, guix: Guix) -> dict:
    cat = catalog.load(catalog_path)
    entry = cat.get(name)
    if not entry.is_guix:
        raise UsageError(f"{name}: built by {entry.builder}; only Guix entries have channels to pin "
                         "(a Debian-family image is pinned by its lock)")
    if channels_file is None:
        text = guix.describe_channels()
        with tempfile.NamedTemporaryFile("w", suffix=".scm", delete=False) as f:
            f.write(text)
        try:
            channels = channels_of(guix, Path(f.name), "guix describe")
        finally:
            os.unlink(f.name)
    else:
        try:
            text = Path(channels_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"--channels {channels_file}: cannot read it ({e})") from None
        channels = channels_of(guix, Path(channels_file), f"--channels {channels_file}")
    relative = PIN_DIR / f"{name}.scm"
    target = entry.base / relative
    write_bytes(target, (text if text.endswith("\n") else text + "\n").encode(), fsync=False)
    _set_channels(cat.path, name, relative.as_posix())
    return {"image": name, "channels": str(relative), "pinned": [{k: c.get(k) for k in ("name", "url", "commit")}
                                                                  for c in channels]}


def _set_channels(path: Path, name: str, value: str) -> None:
    """Set `channels` in the [images.NAME] table of the catalog, keeping every other line (and
    comment) as it is; catalog.load then checks the result before it replaces the file."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = re.compile(rf"\s*\[images\.(\"{re.escape(name)}\"|{re.escape(name)})\]\s*(#.*)?$")
    start = next((i for i, l in enumerate(lines) if header.match(l)), None)
    if start is None:
        raise InputError(f"{path}: no [images.{name}] table to pin (an inline table is not edited)")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    setting = f'channels = "{value}"\n'
    at = next((i for i in range(start + 1, end) if re.match(r"\s*channels\s*=", lines[i])), None)
    if at is None:
        lines.insert(start + 1, setting)
    else:
        lines[at] = setting
    fd, tmp = tempfile.mkstemp(prefix=".catalog-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.writelines(lines)
    try:
        catalog.load(Path(tmp)).get(name)      # beside the original: its `root` reads the same
        os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
