"""Generators of hostile input for the command line: text that acts on terminals, JSON values of
the wrong type where archives and configs name things, and the archives that carry them."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from hypothesis import strategies as st

# What a terminal obeys: CSI sequences, OSC titles, bare ESC, CR, BS, newlines, C1 CSI, bidi overrides.
TERMINAL_TRICKS = ["\x1b[31m", "\x1b[2J", "\x1b]0;owned\x07", "\x1b", "\r", "\b", "\n", "\r\n", "\x9b1m",
                   "\u202e", "\u2066", "\x00", "\x7f", "\t", "\u2028"]
hostile_text = st.lists(st.one_of(st.sampled_from(TERMINAL_TRICKS), st.text("abc:/.-_", min_size=1, max_size=4)),
                        min_size=1, max_size=6).map("".join)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                         hostile_text)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


LAYER = tar_bytes({"etc/hostname": b"fsdg\n"})


def docker_archive(*, repo_tags=..., config_extra: dict | None = None, layer: bytes = LAYER) -> bytes:
    """A docker archive (`docker save` shape) with chosen RepoTags and config keys."""
    config = {"architecture": "amd64", "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}
    config.update(config_extra or {})
    entry = {"Config": "config.json", "Layers": ["abc/layer.tar"]}
    if repo_tags is not ...:
        entry["RepoTags"] = repo_tags
    return tar_bytes({"abc/layer.tar": layer, "config.json": json.dumps(config).encode(),
                      "manifest.json": json.dumps([entry]).encode()})


def catalog(**entry) -> str:
    """A one-entry image catalog (TOML) with the given keys over a valid debootstrap entry."""
    table = {"builder": "debootstrap", "distribution": "debian", "architecture": "amd64",
             "mirror": "http://deb.debian.org/debian", "suite": "bookworm", **entry}
    lines = ["[images.probe]"]
    for key, value in table.items():
        lines.append(f"{json.dumps(key)} = {value if isinstance(value, _Raw) else json.dumps(value)}")
    return "\n".join(lines) + "\n"


class _Raw(str):
    """A TOML value written as is (deep arrays, odd types)."""


def raw(text: str) -> _Raw:
    return _Raw(text)
