"""An incremental tar reader that sees the bytes go by and checks each member's header.

It never holds more than one header (plus a long name or pax record) in memory, reads member data
only to skip it, and notices a stream that stops early: tarfile's stream mode takes such a stream for
a normal end. It is fed the same chunks that are being hashed and compressed, so checking a layer
costs no extra read.
"""

from __future__ import annotations

import tarfile

from fsdgimg.errors import InputError
from fsdgimg.tarsafety import MemberChecker

BLOCK = 512
MAX_EXTENSION = 1 << 20  # a pax header or GNU long name beyond this is not a real file name
_EXTENSIONS = {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
               tarfile.SOLARIS_XHDTYPE}
_NO_DATA = {tarfile.LNKTYPE, tarfile.SYMTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE,
            tarfile.FIFOTYPE}


def _round_up(n: int) -> int:
    return (n + BLOCK - 1) // BLOCK * BLOCK


def parse_pax(data: bytes, what: str) -> dict[str, str]:
    """Records of the form '<length> <key>=<value>\\n' (POSIX pax extended header)."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos)
        if space < 0 or not data[pos:space].isdigit():
            raise InputError(f"{what}: malformed pax header")
        length = int(data[pos:space])
        record = data[space + 1:pos + length]
        if length <= 0 or pos + length > len(data) or not record.endswith(b"\n") or b"=" not in record:
            raise InputError(f"{what}: malformed pax header")
        key, _, value = record[:-1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def parse_header(block: bytes, what: str) -> tarfile.TarInfo | None:
    """The header in a 512-byte block, or None for a zero block (end of archive)."""
    if block.count(0) == BLOCK:
        return None
    try:
        return tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError as e:
        raise InputError(f"{what}: not a valid tar archive ({e})") from None


def apply_extension(kind: bytes, data: bytes, pending: dict[str, str], what: str) -> None:
    """Record what a GNU long name/link or pax header says about the member that follows."""
    if kind == tarfile.GNUTYPE_LONGNAME:
        pending["path"] = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    elif kind == tarfile.GNUTYPE_LONGLINK:
        pending["linkpath"] = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    elif kind in (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE):
        pending.update(parse_pax(data, what))
    # Global pax headers (XGLTYPE) set defaults for later members; no tar writer we read uses them
    # for paths, and they cannot make a member escape.


def complete(info: tarfile.TarInfo, pending: dict[str, str], what: str) -> tarfile.TarInfo:
    if "path" in pending:
        info.name = pending["path"]
    if "linkpath" in pending:
        info.linkname = pending["linkpath"]
    if "size" in pending:
        try:
            info.size = int(pending["size"])
        except ValueError:
            raise InputError(f"{what}: malformed pax size for {info.name[:200]!r}") from None
    return info


def data_size(info: tarfile.TarInfo) -> int:
    """Bytes of data (with padding) that follow the header."""
    return 0 if info.type in _NO_DATA else _round_up(info.size)


def extension_size(info: tarfile.TarInfo, what: str) -> int | None:
    """For an extension header, the size of its data; None for a real member."""
    if info.type not in _EXTENSIONS:
        return None
    if info.size > MAX_EXTENSION:
        raise InputError(f"{what}: tar extension header of {info.size} bytes")
    return info.size


class TarWalker:
    def __init__(self, what: str):
        self.what = what
        self.checker = MemberChecker(what)
        self.members = 0
        self._header = bytearray()
        self._skip = 0           # bytes of member data (with padding) still to pass over
        self._collect: bytearray | None = None  # data of an extension header being gathered
        self._collect_size = 0
        self._collect_type = b""
        self._pending: dict[str, str] = {}      # overrides for the next real member
        self._ended = False
        self._offset = 0

    def feed(self, data) -> None:
        view = memoryview(data)
        pos, size = 0, len(view)
        self._offset += size
        while pos < size:
            if self._ended:
                return  # after the end-of-archive block tar ignores the rest (padding)
            if self._skip:
                n = min(self._skip, size - pos)
                if self._collect is not None:
                    self._collect += view[pos:pos + n]
                self._skip -= n
                pos += n
                if not self._skip and self._collect is not None:
                    self._extension_done()
                continue
            n = min(BLOCK - len(self._header), size - pos)
            self._header += view[pos:pos + n]
            pos += n
            if len(self._header) == BLOCK:
                header, self._header = bytes(self._header), bytearray()
                self._member(header)

    def _member(self, header: bytes) -> None:
        info = parse_header(header, self.what)
        if info is None:
            self._ended = True
            return
        size = extension_size(info, self.what)
        if size is not None:
            self._collect = bytearray()
            self._collect_size = size
            self._collect_type = info.type
            self._skip = _round_up(size)
            if not self._skip:
                self._extension_done()
            return
        pending, self._pending = self._pending, {}
        self.checker.check(complete(info, pending, self.what))
        self.members += 1
        self._skip = data_size(info)

    def _extension_done(self) -> None:
        data = bytes(self._collect[:self._collect_size])
        self._collect = None
        apply_extension(self._collect_type, data, self._pending, self.what)

    def finish(self) -> None:
        """The stream is over: it must have ended at an end-of-archive block."""
        if self._offset == 0:
            raise InputError(f"{self.what}: empty file, not a tar archive")
        if not self._ended:
            raise InputError(f"{self.what}: tar archive is truncated (it stops after {self._offset} bytes, "
                             "before its end-of-archive block)")


class TarReader:
    """Pull-style reading of a tar stream: iterate (member, reader) pairs; each member is checked,
    and its data must be read (or is skipped) before the next one. For archives whose members are
    themselves processed as streams (a docker archive's layers)."""

    def __init__(self, stream, what: str):
        self._stream = stream
        self.what = what
        self.checker = MemberChecker(what)

    def _read_exact(self, n: int) -> bytes:
        parts, left = [], n
        while left:
            chunk = self._stream.read(min(left, 1 << 20))
            if not chunk:
                raise InputError(f"{self.what}: tar archive is truncated")
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def __iter__(self):
        pending: dict[str, str] = {}
        first = True
        while True:
            block = self._stream.read(BLOCK)
            if first and not block:
                raise InputError(f"{self.what}: empty file, not a tar archive")
            first = False
            if len(block) < BLOCK:  # short reads happen; a stream that ends here was cut short
                block += self._read_exact(BLOCK - len(block))
            info = parse_header(block, self.what)
            if info is None:
                return
            size = extension_size(info, self.what)
            if size is not None:
                data = self._read_exact(_round_up(size))[:size]
                apply_extension(info.type, data, pending, self.what)
                continue
            info = complete(info, pending, self.what)
            pending = {}
            name = self.checker.check(info)
            padded = data_size(info)
            reader = _MemberData(self, info.size if padded else 0)
            yield name, info, reader
            reader.skip_rest()
            self._read_exact(padded - info.size if padded else 0)


class _MemberData:
    """Reads exactly one member's data from the archive stream."""

    def __init__(self, tar: TarReader, size: int):
        self._tar = tar
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if self._left == 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._tar._stream.read(n)
        if not data:
            raise InputError(f"{self._tar.what}: tar archive is truncated")
        self._left -= len(data)
        return data

    def skip_rest(self) -> None:
        while self.read(1 << 20):
            pass
