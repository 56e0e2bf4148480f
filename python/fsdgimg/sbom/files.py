"""The few files of an image an SBOM needs, read from its layers as the runtime would see them.

Layers are applied in order with OCI whiteouts (`.wh.NAME` removes NAME, `.wh..wh..opq` empties a
directory), so a package database a later layer replaced or deleted is not reported. Only members
a `Wanted` accepts are kept, each up to its limit; nothing else is held in memory.

Each layer's members go through one `LayerFiles` (the member rules, in one place), fed either by the
import pass that already reads every layer (fsdgimg.oci.tarwalk.TarWalker, a directory being archived)
or, for an image that was not imported in this process, by reading the layer here. A `LayerFiles`
records what its layer does to the wanted paths, in member order; `RootView.apply` replays the
layers in order, so both ways give the same view.
"""

from __future__ import annotations

import posixpath
import tarfile
from dataclasses import dataclass
from typing import Callable

from fsdgimg.errors import InputError
from fsdgimg.oci.compression import open_decompressed
from fsdgimg.oci.image import Image
from fsdgimg.oci.mediatypes import layer_compression
from fsdgimg.oci.tarwalk import TarReader

MAX_FILE = 64 << 20


def _never(path: str) -> bool:
    return False


@dataclass(frozen=True, eq=False)
class Wanted:
    """Which members are kept: regular files `file` accepts (their data, up to `limit` bytes),
    symlinks `link` accepts (their targets), and whatever `note` names from a path (a Guix store
    item, say). `prefixes` holds every path any of them can accept: the members of a layer are
    mostly elsewhere, and a single startswith() passes over them."""
    file: Callable[[str], bool]
    link: Callable[[str], bool] = _never
    note: Callable[[str], str | None] | None = None
    prefixes: tuple[str, ...] = ("",)
    limit: int = MAX_FILE


# What a layer does to a wanted path (RootView.apply says how each is replayed).
_FILE, _LINK, _DROP, _HARD, _REMOVE, _TOO_BIG = range(6)


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/") if name != "." else ""


class LayerFiles:
    """What one layer holds of the wanted paths: fed each member (path as the tar checker normalised
    it, TarInfo), and the data of those `member()` asked for, through `data()`, before the next."""

    def __init__(self, wanted: Wanted):
        self.wanted = wanted
        self.ops: list[tuple] = []
        self.notes: set[str] = set()
        self._path: str | None = None

    def member(self, path: str, info: tarfile.TarInfo) -> bool:
        """True when the member's data is wanted next (a regular file within the limit)."""
        w = self.wanted
        inside = path.startswith(w.prefixes)
        if inside and w.note is not None:
            noted = w.note(path)
            if noted is not None:
                self.notes.add(noted)
        if ".wh." in path:
            parent, _, base = path.rpartition("/")
            if base == ".wh..wh..opq":
                self.ops.append((_REMOVE, parent, True))
                return False
            if base.startswith(".wh."):
                self.ops.append((_REMOVE, posixpath.join(parent, base[4:]), False))
                return False
        if not inside:
            return False
        kind = info.type
        if kind == tarfile.DIRTYPE:
            return False
        if kind == tarfile.LNKTYPE:
            if w.file(path):
                self.ops.append((_HARD, path, _clean(info.linkname)))
            return False
        if kind == tarfile.SYMTYPE:
            if w.link(path):
                self.ops.append((_LINK, path, info.linkname))
            elif w.file(path):
                self.ops.append((_DROP, path))
            return False
        if w.file(path):
            if info.isreg():
                if info.size > w.limit:
                    self.ops.append((_TOO_BIG, path, info.size, w.limit))
                    return False
                self._path = path
                return True
            self.ops.append((_DROP, path))
        elif w.link(path):
            self.ops.append((_DROP, path))
        return False

    def data(self, data: bytes) -> None:
        """The whole data of the member `member()` last asked for."""
        self.ops.append((_FILE, self._path, bytes(data)))
        self._path = None


class RootView:
    """Wanted files (path -> bytes) and the symlinks met (path -> target), paths without a leading /;
    `notes`: what the Wanted's `note` named in any layer."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        self.notes: set[str] = set()

    def apply(self, layer: LayerFiles, what: str) -> None:
        """Lay `layer` over what the earlier layers made (its members in their order)."""
        files, links = self.files, self.links
        for op in layer.ops:
            kind = op[0]
            if kind == _FILE:
                links.pop(op[1], None)
                files[op[1]] = op[2]
            elif kind == _LINK:
                files.pop(op[1], None)
                links[op[1]] = op[2]
            elif kind == _DROP:
                files.pop(op[1], None)
                links.pop(op[1], None)
            elif kind == _HARD:
                if op[2] in files:
                    files[op[1]] = files[op[2]]
            elif kind == _REMOVE:
                self._remove(op[1], op[2])
            else:
                raise InputError(f"{what}: {op[1]} is {op[2]} bytes, over the {op[3]}-byte "
                                 "limit for a package database file")
        self.notes |= layer.notes

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


def read_layer(image: Image, n: int, wanted: Wanted) -> LayerFiles:
    """Layer `n` (from 0) of `image`, read here: decompressed, walked, its digest checked."""
    desc = image.layers[n]
    algorithm = layer_compression(desc.media_type)
    if algorithm is None:
        raise InputError(f"{image.where}: layer {n + 1} has media type {desc.media_type}, not a layer")
    what = f"{image.where}: layer {n + 1}"
    layer = LayerFiles(wanted)
    with image.blobs.open(desc, what) as raw:
        for name, info, data in TarReader(open_decompressed(raw, algorithm, what), what):
            if layer.member(name, info):
                layer.data(_read_all(data, info.size))
        # Read to the end through the verifying reader: the layer's digest is checked.
        while raw.read(1 << 20):
            pass
    return layer


def collected_layers(image: Image, wanted: Wanted) -> list[LayerFiles] | None:
    """What the import pass collected of every layer of `image` with `wanted` (matched by diff ID,
    so a recompressed or annotated image still finds it); None when a layer is missing."""
    collected = getattr(image, "collected", None)
    if not collected:
        return None
    try:
        layers = [collected.get(d) for d in image.diff_ids]
    except InputError:
        return None
    if len(layers) != len(image.layers) or any(l is None or l.wanted is not wanted for l in layers):
        return None
    return layers


def read_root(image: Image, wanted: Wanted) -> RootView:
    """The wanted files of `image`'s root file system: from what its import collected, else read."""
    view = RootView()
    layers = collected_layers(image, wanted)
    for n in range(len(image.layers)):
        layer = layers[n] if layers is not None else read_layer(image, n, wanted)
        view.apply(layer, f"{image.where}: layer {n + 1}")
    return view
