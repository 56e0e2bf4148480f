"""Tar-level comparison of two layers: which paths differ, and in what (content, mode, owner, mtime, …).

Each layer is read once as a stream and reduced to an index of its members (metadata and the
SHA-256 of each file's content), so memory grows with the number of files, not their size.
A second pass, only over layers that differ, fetches small text files whose content changed so
that the report can show a unified diff of them (the injected timestamp, the changed config line).
"""

from __future__ import annotations

import difflib
import hashlib
import tarfile
from dataclasses import dataclass, field
from typing import BinaryIO

from fsdgimg.errors import InputError
from fsdgimg.oci.digest import CHUNK
from fsdgimg.oci.imageconfig import rfc3339
from fsdgimg.oci.tarsafety import normalize

TEXT_DIFF_LIMIT = 64 << 10   # files up to this size get a unified diff in the report
MAX_DIFF_LINES = 200

_KINDS = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
          tarfile.DIRTYPE: "directory", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hard link",
          tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device", tarfile.FIFOTYPE: "fifo"}


@dataclass(frozen=True)
class Member:
    path: str
    kind: str
    mode: int
    uid: int
    gid: int
    uname: str
    gname: str
    size: int
    mtime: float
    link: str
    sha256: str | None
    device: tuple[int, int] | None
    xattrs: tuple[tuple[str, str], ...]


@dataclass
class Difference:
    path: str
    status: str                                   # "changed", "only in first", "only in second"
    aspects: list[tuple[str, str, str]] = field(default_factory=list)   # (aspect, first, second)
    text_diff: str | None = None

    @property
    def what(self) -> str:
        return ", ".join(a for a, _, _ in self.aspects) if self.aspects else self.status


def index_layer(stream: BinaryIO, what: str,
                reference: dict[str, Member] | None = None) -> tuple[dict[str, Member], dict[str, bytes]]:
    """Every member of the tar stream, by normalised path (a later duplicate wins, as on extraction).

    With `reference` (the other build's index), the content of small files that differ from it is
    kept as well, for the text diff: that saves reading this layer a second time.
    """
    members: dict[str, Member] = {}
    kept: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK) as tf:
            for info in tf:
                path = normalize(info.name, what) or "."
                digest = None
                if info.isreg():
                    f = tf.extractfile(info)
                    other = reference.get(path) if reference is not None else None
                    if other is not None and other.sha256 and info.size <= TEXT_DIFF_LIMIT \
                            and other.size <= TEXT_DIFF_LIMIT:
                        data = f.read()
                        digest = hashlib.sha256(data).hexdigest()
                        if digest != other.sha256:
                            kept[path] = data
                    else:
                        h = hashlib.sha256()
                        while chunk := f.read(CHUNK):
                            h.update(chunk)
                        digest = h.hexdigest()
                xattrs = tuple(sorted((k, v) for k, v in info.pax_headers.items()
                                      if k.startswith(("SCHILY.xattr.", "LIBARCHIVE.xattr."))))
                device = (info.devmajor, info.devminor) if info.ischr() or info.isblk() else None
                members[path] = Member(path, _KINDS.get(info.type, f"type {info.type!r}"),
                                       info.mode & 0o7777, info.uid, info.gid, info.uname, info.gname,
                                       info.size if info.isreg() else 0, info.mtime,
                                       info.linkname if info.issym() or info.islnk() else "",
                                       digest, device, xattrs)
    except (tarfile.TarError, EOFError) as e:
        raise InputError(f"{what}: not a valid tar archive ({e})") from None
    return members, kept


def _mtime(t: float) -> str:
    return f"{rfc3339(int(t))} ({t:g})"


def _owner(m: Member) -> str:
    names = f" ({m.uname or '?'}:{m.gname or '?'})" if m.uname or m.gname else ""
    return f"{m.uid}:{m.gid}{names}"


def compare_members(a: Member, b: Member) -> list[tuple[str, str, str]]:
    out = []
    if a.kind != b.kind:
        out.append(("type", a.kind, b.kind))
    if a.sha256 != b.sha256 and a.sha256 and b.sha256:
        out.append(("content", f"sha256:{a.sha256[:16]}… ({a.size} bytes)",
                    f"sha256:{b.sha256[:16]}… ({b.size} bytes)"))
    if a.mode != b.mode:
        out.append(("mode", f"{a.mode:04o}", f"{b.mode:04o}"))
    if (a.uid, a.gid, a.uname, a.gname) != (b.uid, b.gid, b.uname, b.gname):
        out.append(("owner", _owner(a), _owner(b)))
    if a.mtime != b.mtime:
        out.append(("mtime", _mtime(a.mtime), _mtime(b.mtime)))
    if a.link != b.link:
        out.append(("link target", a.link or "-", b.link or "-"))
    if a.device != b.device:
        out.append(("device", str(a.device), str(b.device)))
    if a.xattrs != b.xattrs:
        out.append(("xattrs", str(dict(a.xattrs)), str(dict(b.xattrs))))
    return out


def diff_indexes(first: dict[str, Member], second: dict[str, Member]) -> list[Difference]:
    out = []
    for path in sorted(first.keys() | second.keys()):
        a, b = first.get(path), second.get(path)
        if b is None:
            out.append(Difference(path, "only in first", [("presence", a.kind, "absent")]))
        elif a is None:
            out.append(Difference(path, "only in second", [("presence", "absent", b.kind)]))
        else:
            aspects = compare_members(a, b)
            if aspects:
                out.append(Difference(path, "changed", aspects))
    return out


def small_text_candidates(diffs: list[Difference], first: dict[str, Member],
                          second: dict[str, Member]) -> set[str]:
    """Paths whose content changed and that are small enough to show as a text diff."""
    paths = set()
    for d in diffs:
        if d.status == "changed" and any(a == "content" for a, _, _ in d.aspects):
            if first[d.path].size <= TEXT_DIFF_LIMIT and second[d.path].size <= TEXT_DIFF_LIMIT:
                paths.add(d.path)
    return paths


def read_members(stream: BinaryIO, paths: set[str], what: str) -> dict[str, bytes]:
    """The content of the regular files at `paths` (a second, cheap pass over a differing layer)."""
    found: dict[str, bytes] = {}
    if not paths:
        return found
    try:
        with tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK) as tf:
            for info in tf:
                path = normalize(info.name, what) or "."
                if path in paths and info.isreg():
                    found[path] = tf.extractfile(info).read()
                    if len(found) == len(paths):
                        break   # the blob was verified when it was imported: no need to read on
    except (tarfile.TarError, EOFError) as e:
        raise InputError(f"{what}: not a valid tar archive ({e})") from None
    return found


def text_diff(path: str, a: bytes, b: bytes) -> str | None:
    """A unified diff of two versions of a text file; None for binary content."""
    try:
        ta, tb = a.decode("utf-8"), b.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\0" in ta or "\0" in tb:
        return None
    lines = list(difflib.unified_diff(ta.splitlines(), tb.splitlines(), f"first/{path}",
                                      f"second/{path}", lineterm="", n=2))
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"… {len(lines) - MAX_DIFF_LINES} more lines"]
    return "\n".join(lines)
