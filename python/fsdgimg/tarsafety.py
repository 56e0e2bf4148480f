"""Rules for tar members: what a layer or an archive may contain without escaping its root."""

from __future__ import annotations

import posixpath
import tarfile

from fsdgimg.errors import InputError

_ALLOWED_TYPES = {tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.LNKTYPE, tarfile.SYMTYPE,
                  tarfile.DIRTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE,
                  tarfile.CONTTYPE}


def normalize(name: str, what: str) -> str:
    """The member's path relative to the root ('./a/b/' -> 'a/b'); absolute or '..' is an error."""
    if "\0" in name:
        raise InputError(f"{what}: member name contains a NUL byte")
    if name.startswith("/"):
        raise InputError(f"{what}: member {name[:200]!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(f"{what}: member {name[:200]!r} climbs out of the root with '..'")
    return "/".join(parts)


def _escapes(base_dir: str, target: str) -> bool:
    """True when the relative `target`, taken from `base_dir`, leaves the root."""
    depth = len([p for p in base_dir.split("/") if p])
    for part in target.split("/"):
        if part in ("", "."):
            continue
        depth = depth - 1 if part == ".." else depth + 1
        if depth < 0:
            return True
    return False


class MemberChecker:
    """Checks the members of one tar stream as they go by (names, links, duplicates)."""

    def __init__(self, what: str):
        self.what = what
        self._seen: dict[str, bool] = {}  # name -> is a directory

    def target(self, member: tarfile.TarInfo) -> str:
        """A hard link's target, normalised like a member name."""
        return normalize(member.linkname, self.what)

    def check(self, member: tarfile.TarInfo) -> str:
        name = normalize(member.name, self.what)
        if member.type not in _ALLOWED_TYPES and not member.type.isdigit():
            raise InputError(f"{self.what}: member {name[:200]!r} has unsupported type {member.type!r}")
        if member.islnk():
            target = self.target(member)
            if target not in self._seen:
                raise InputError(f"{self.what}: hard link {name[:200]!r} -> {member.linkname[:200]!r} "
                                 "points outside the archive")
        elif member.issym():
            target = member.linkname
            if "\0" in target:
                raise InputError(f"{self.what}: symlink {name[:200]!r} target contains a NUL byte")
            # An absolute target resolves inside the container's own root; a relative one must
            # not climb above it (tools that extract by following links would escape).
            if not target.startswith("/") and _escapes(posixpath.dirname(name), target):
                raise InputError(f"{self.what}: symlink {name[:200]!r} -> {target[:200]!r} escapes the root")
        if name in self._seen and not (self._seen[name] and member.isdir()):
            raise InputError(f"{self.what}: duplicate member {name[:200]!r}")
        self._seen[name] = member.isdir()
        return name
