"""The few files of an image an SBOM needs, read from its layers as the runtime would see them.

Layers are applied in order with OCI whiteouts (`.wh.NAME` removes NAME, `.wh..wh..opq` empties a
directory), so a package database a later layer replaced or deleted is not reported. Only members
`want(path)` accepts are kept, each up to `limit` bytes; nothing else is held in memory.
"""

from __future__ import annotations

import posixpath
from typing import Callable

from fsdgimg.compression import open_decompressed
from fsdgimg.errors import InputError
from fsdgimg.image import Image
from fsdgimg.mediatypes import layer_compression
from fsdgimg.tarwalk import TarReader

MAX_FILE = 64 << 20


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/") if name != "." else ""


class RootView:
    """Wanted files (path -> bytes) and the symlinks met (path -> target), paths without a leading /."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}

    def _replace(self, path: str) -> None:
        """A member at `path` replaces what an earlier layer had there (O(1): every member calls it)."""
        self.files.pop(path, None)
        self.links.pop(path, None)

    def _remove(self, path: str, opaque: bool = False) -> None:
        """A whiteout: `path` and everything under it go (an opaque one keeps `path` itself)."""
        prefix = path.rstrip("/") + "/"
        for table in (self.files, self.links):
            for p in [p for p in table if p.startswith(prefix) or (not opaque and p == path)]:
                del table[p]

    def resolve(self, path: str, depth: int = 0) -> str:
        """`path` with symlinked leading directories followed (usr/share/doc/libfoo -> libbar)."""
        parts = path.split("/")
        for i in range(1, len(parts)):
            head = "/".join(parts[:i])
            target = self.links.get(head)
            if target is not None and depth < 16:
                base = target.lstrip("/") if target.startswith("/") else \
                    posixpath.normpath(posixpath.join(posixpath.dirname(head), target))
                return self.resolve("/".join([base, *parts[i:]]), depth + 1)
        return path

    def get(self, path: str) -> bytes | None:
        return self.files.get(self.resolve(path))

    def glob_dir(self, directory: str) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        return sorted(p for p in self.files if p.startswith(prefix))


def _read_all(data, size: int) -> bytes:
    """A member's whole data: one read() may return less (it ends where decompressed output does)."""
    parts, left = [], size
    while left:
        chunk = data.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_root(image: Image, want: Callable[[str], bool], want_link: Callable[[str], bool] | None = None,
              limit: int = MAX_FILE, note: Callable[[str], None] | None = None) -> RootView:
    """`note(path)` sees every member's path (to learn, say, which store items an image holds)."""
    view = RootView()
    for n, desc in enumerate(image.layers, 1):
        algorithm = layer_compression(desc.media_type)
        if algorithm is None:
            raise InputError(f"{image.where}: layer {n} has media type {desc.media_type}, not a layer")
        what = f"{image.where}: layer {n}"
        with image.blobs.open(desc, what) as raw:
            tar = TarReader(open_decompressed(raw, algorithm, what), what)
            for name, info, data in tar:
                path = _clean(name)
                base = posixpath.basename(path)
                if note is not None:
                    note(path)
                if base == ".wh..wh..opq":
                    view._remove(posixpath.dirname(path), opaque=True)
                    continue
                if base.startswith(".wh."):
                    view._remove(posixpath.join(posixpath.dirname(path), base[4:]))
                    continue
                if info.issym():
                    view._replace(path)
                    if want_link is not None and want_link(path):
                        view.links[path] = info.linkname
                    continue
                if info.islnk():
                    target = _clean(info.linkname)
                    if want(path) and target in view.files:
                        view.files[path] = view.files[target]
                    continue
                if info.isdir():
                    continue
                view._replace(path)
                if info.isfile() and want(path):
                    if info.size > limit:
                        raise InputError(f"{what}: {path} is {info.size} bytes, over the {limit}-byte "
                                         "limit for a package database file")
                    view.files[path] = _read_all(data, info.size)
            # Read to the end through the verifying reader: the layer's digest is checked.
            while raw.read(1 << 20):
                pass
    return view
