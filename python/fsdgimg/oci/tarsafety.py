"""Rules for tar members: what a layer or an archive may contain without escaping its root.

A member is judged the way an extractor would write it: its parent directory is resolved through
the symbolic links earlier members made (tar and Python's tarfile both follow them), so a chain
such as `a -> .`, `a/a/a/b -> ../../..`, `b/f` is seen to climb out even though no single name or
link text does. Runtimes resolve links inside the container; naive extractors and users' scripts
do not, and a layer must be safe for them too.
"""

from __future__ import annotations

import tarfile

from fsdgimg.errors import InputError

_ALLOWED_TYPES = {tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.LNKTYPE, tarfile.SYMTYPE,
                  tarfile.DIRTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE,
                  tarfile.CONTTYPE}
MAX_HOPS = 40  # symbolic links followed while resolving one path (Linux's own limit)


def show(text: str, limit: int = 200) -> str:
    """A member name or link target as it may appear in a one-line message (quoted, escaped, cut)."""
    return repr(text[:limit])


def normalize(name: str, what: str, label: str | None = None) -> str:
    """The member's path relative to the root ('./a/b/' -> 'a/b'); absolute or '..' is an error.
    `label` says what the name is in the message (default: the member)."""
    label = label or f"member {show(name)}"
    if "\0" in name:
        raise InputError(f"{what}: {label} contains a NUL byte")
    if name.startswith("/"):
        raise InputError(f"{what}: {label} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(f"{what}: {label} climbs out of the root with '..'")
    return "/".join(parts)


class _Unsafe(Exception):
    """Resolving a path left the root (or went through an absolute link, or looped)."""


class MemberChecker:
    """Checks the members of one tar stream as they go by: names, link targets and duplicates,
    with every path resolved through the symbolic links seen so far."""

    def __init__(self, what: str):
        self.what = what
        self._seen: dict[str, bool] = {}   # resolved path -> is a directory
        self._links: dict[str, str] = {}   # resolved path of a symlink -> its target text
        self._parents: set[str] = set()    # resolved directories members were written into
        self._cache: dict[str, str] = {}   # parent as named -> parent resolved
        self._visited: set[str] = set()    # every path the cached resolutions went through

    def _resolve(self, base: str, path: str, follow_last: bool, visited: set[str] | None = None) -> str:
        """`path` taken from the directory `base`, every link seen so far followed the way the
        kernel does (a link's target is read from the directory holding it)."""
        if path.startswith("/"):
            raise _Unsafe("absolute")
        parts = base.split("/") if base else []
        todo = [p for p in reversed(path.split("/")) if p not in ("", ".")]
        hops = 0
        while todo:
            part = todo.pop()
            if part == "..":
                if not parts:
                    raise _Unsafe("climbs")
                parts.pop()
                continue
            here = "/".join(parts + [part]) if parts else part
            if visited is not None:
                visited.add(here)
            link = self._links.get(here)
            if link is None or (not todo and not follow_last):
                parts.append(part)
                continue
            hops += 1
            if hops > MAX_HOPS:
                raise _Unsafe("loops")
            if link.startswith("/"):
                raise _Unsafe("absolute")
            todo.extend(p for p in reversed(link.split("/")) if p not in ("", "."))
        return "/".join(parts)

    def _parent(self, name: str) -> str:
        parent = name.rpartition("/")[0]
        if not parent:
            return ""
        cached = self._cache.get(parent)
        if cached is not None:
            return cached
        try:
            resolved = self._resolve("", parent, True, self._visited)
        except _Unsafe as e:
            raise InputError(f"{self.what}: member {show(name)} is written through a symbolic link "
                             f"that {_WHY[e.args[0]]}") from None
        # Every directory on the way is now a directory for the extractor: a later member may not
        # turn one into a link or a file.
        prefix = resolved
        while prefix and prefix not in self._parents:
            self._parents.add(prefix)
            prefix = prefix.rpartition("/")[0]
        self._cache[parent] = resolved
        return resolved

    def check(self, member: tarfile.TarInfo) -> str:
        name = normalize(member.name, self.what)
        if member.type not in _ALLOWED_TYPES and not member.type.isdigit():
            raise InputError(f"{self.what}: member {show(name)} has unsupported type {member.type!r}")
        parent = self._parent(name)
        if parent and self._seen.get(parent) is False:
            # tar cannot create it; Python's tarfile gives up on it and may later copy it elsewhere
            # (a hard link to it), where a relative symlink means something else.
            raise InputError(f"{self.what}: member {show(name)} is written into {show(parent)}, which an "
                             "earlier member made a file")
        base = name.rpartition("/")[2]
        resolved = f"{parent}/{base}" if parent and base else (parent or base)
        if member.islnk():
            self._check_hard_link(name, member)
        elif member.issym():
            self._check_symlink(name, parent, member.linkname)
        is_dir = member.isdir()
        if resolved in self._seen and not (self._seen[resolved] and is_dir):
            also = "" if resolved == name else f" (it is {show(resolved)})"
            raise InputError(f"{self.what}: duplicate member {show(name)}{also}")
        if not is_dir and resolved in self._parents:
            raise InputError(f"{self.what}: member {show(name)} replaces a directory earlier members "
                             "were written into")
        self._seen[resolved] = is_dir
        if member.issym():
            self._links[resolved] = member.linkname
            if resolved in self._visited:  # a cached resolution went through this path: redo them all
                self._cache.clear()
                self._visited.clear()
        return name

    def _check_hard_link(self, name: str, member: tarfile.TarInfo) -> None:
        target = normalize(member.linkname, self.what,
                           f"hard link {show(name)} -> {show(member.linkname)}: the target")
        try:
            # tar links the target itself; Python's tarfile follows a final symlink: both must stay.
            as_named = self._resolve("", target, False)
            self._resolve("", target, True)
        except _Unsafe as e:
            raise InputError(f"{self.what}: hard link {show(name)} -> {show(member.linkname)} "
                             f"reaches through a symbolic link that {_WHY[e.args[0]]}") from None
        if as_named not in self._seen or (as_named == "" and target):
            raise InputError(f"{self.what}: hard link {show(name)} -> {show(member.linkname)} "
                             "points outside the archive (or to a member not yet seen)")
        link = self._links.get(as_named)
        if link is not None and not link.startswith("/"):
            # A hard link to a symlink is a second symlink with the same text, here: Python's
            # tarfile even extracts it as a copy of the link. Its relative target must stay in the
            # root read from where the hard link is.
            try:
                self._resolve(self._parent(name), link, True)
            except _Unsafe as e:
                raise InputError(f"{self.what}: hard link {show(name)} -> {show(member.linkname)} is a symlink "
                                 f"to {show(link)} that, from there, {_WHY[e.args[0]]}") from None

    def _check_symlink(self, name: str, parent: str, target: str) -> None:
        if "\0" in target:
            raise InputError(f"{self.what}: symlink {show(name)} target contains a NUL byte")
        if not target:
            raise InputError(f"{self.what}: symlink {show(name)} has an empty target")
        # An absolute target names a file of the container's own root (extraction writes through
        # it only if a later member's path does, and those are refused); a relative one must not
        # climb above the root, counted from where the link really lands.
        if target.startswith("/"):
            return
        try:
            self._resolve(parent, target, True)
        except _Unsafe as e:
            if e.args[0] == "climbs":
                raise InputError(f"{self.what}: symlink {show(name)} -> {show(target)} escapes the root") from None
            if e.args[0] == "loops":
                raise InputError(f"{self.what}: symlink {show(name)} -> {show(target)} "
                                 "loops through other links") from None
            # through an absolute link: a name in the container's root, like an absolute target


_WHY = {"climbs": "leads out of the root", "absolute": "points to an absolute path",
        "loops": "loops (too many levels of links)"}
