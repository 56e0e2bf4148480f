"""An incremental tar reader that sees the bytes go by and checks each member's header.

It never holds more than one header (plus a long name or pax record) in memory, reads member data
only to skip it, and notices a stream that stops early: tarfile's stream mode takes such a stream for
a normal end. It is fed the same chunks that are being hashed and compressed, so checking a layer
costs no extra read.
"""

from __future__ import annotations

import re
import tarfile

from fsdgimg.errors import InputError
from fsdgimg.oci.tarsafety import MemberChecker, show

BLOCK = 512
MAX_EXTENSION = 1 << 20  # a pax header or GNU long name beyond this is not a real file name
MAX_TRAILING = 16 << 20  # padding after the end of an archive (GNU tar's largest records are 10 MiB)
_EXTENSIONS = {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
               tarfile.SOLARIS_XHDTYPE}
_NO_DATA = {tarfile.LNKTYPE, tarfile.SYMTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE,
            tarfile.FIFOTYPE}


def _round_up(n: int) -> int:
    return (n + BLOCK - 1) // BLOCK * BLOCK


_PAX_LENGTH = re.compile(rb"[0-9]+")
# Header fields that are numbers: GNU tar refuses anything but octal digits (or base-256), padded
# with spaces or NULs, and then hunts for the next valid header, while tarfile's int() takes '0o7',
# '+7' or '7_7'. Two readers framing the stream differently could see different members.
_NUMERIC = [(100, 108), (108, 116), (116, 124), (124, 136), (136, 148), (148, 156), (329, 337), (337, 345)]
_OCTAL = re.compile(rb" *[0-7]*[ \0]*\Z")  # GNU tar skips one leading NUL, tarfile stops there
# How tar writers (GNU tar, tarfile, Go) write those fields: checked at once, the common case.
_USUAL_NUMBERS = re.compile(rb"[0-7]{7}\0[0-7]{7}\0[0-7]{7}\0[0-7]{11}\0[0-7]{11}\0[0-7]{6}\0 ")
_USUAL_DEVICES = re.compile(rb"(?:[0-7]{7}\0|\0{8}){2}")
_POSIX_MAGIC = b"ustar\0"  # GNU tar takes the prefix when the magic is this, whatever the version
# pax keywords whose meaning tar readers do not share (sparse files: tarfile takes
# GNU.sparse.name as the path) or that fsdgimg does not support.
_REFUSED_PAX = ("GNU.sparse.",)


def parse_pax(data: bytes, what: str) -> dict[str, str]:
    """Records of the form '<length> <key>=<value>\\n' (POSIX pax extended header)."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos)
        if space < 0 or not _PAX_LENGTH.fullmatch(data, pos, space):
            raise InputError(f"{what}: malformed pax header")
        length = int(data[pos:space])
        record = data[space + 1:pos + length]
        if length <= 0 or pos + length > len(data) or not record.endswith(b"\n") or b"=" not in record \
                or record.startswith(b"="):
            raise InputError(f"{what}: malformed pax header")
        key, _, value = record[:-1].partition(b"=")
        key_text = key.decode("utf-8", "surrogateescape")
        if key_text.startswith(_REFUSED_PAX):
            raise InputError(f"{what}: pax header keyword {show(key_text)} (sparse files) is not supported")
        out[key_text] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def parse_header(block: bytes, what: str) -> tarfile.TarInfo | None:
    """The header in a 512-byte block, or None for a zero block (end of archive)."""
    if block.count(0) == BLOCK:
        return None
    for start, end in (_NUMERIC if not (_USUAL_NUMBERS.match(block, 100, 156)
                                        and _USUAL_DEVICES.match(block, 329, 345)) else ()):
        if block[start] & 0x80 == 0 and not _OCTAL.match(block, start, end):
            raise InputError(f"{what}: not a valid tar archive (header field at offset {start} "
                             f"is not an octal number: {show(block[start:end].decode('latin-1'), 20)})")
    try:
        info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError as e:
        raise InputError(f"{what}: not a valid tar archive ({e})") from None
    # Only POSIX ustar has a name prefix; old GNU headers keep times there, which tarfile would
    # still prepend to the name while GNU tar does not.
    if block[345] and block[257:263] != _POSIX_MAGIC:
        raise InputError(f"{what}: member {show(info.name)} has a name prefix in a non-ustar header "
                         "(tar readers disagree on its name)")
    return info


class Extensions:
    """What extension headers say about the members that follow, as tar readers apply it.

    GNU long names/links (L/K) and local pax headers (x) apply to the next member; global pax
    headers (g) to every later one. Where GNU tar and Python's tarfile would take different values
    (tarfile lets an L header win over x or g, GNU tar the reverse), the member is refused rather
    than checked under one reading and extracted under the other."""

    def __init__(self, what: str):
        self.what = what
        self.globals: dict[str, str] = {}
        self._local: dict[str, str] = {}
        self._long: dict[str, str] = {}
        self._has_local = False

    def add(self, kind: bytes, data: bytes) -> None:
        # Two headers of one kind for one member: tarfile keeps the first, GNU tar the last.
        if kind in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
            key = "path" if kind == tarfile.GNUTYPE_LONGNAME else "linkpath"
            if key in self._long:
                raise InputError(f"{self.what}: two GNU long {key} headers for one member")
            self._long[key] = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        elif kind in (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE):
            if self._has_local:
                raise InputError(f"{self.what}: two pax headers for one member")
            self._has_local = True
            self._local = self._records(data, "pax")
        else:  # XGLTYPE
            records = self._records(data, "global pax")
            if "size" in records:
                # tarfile applies a global size to later members' data, GNU tar does not.
                raise InputError(f"{self.what}: global pax header sets 'size'")
            self.globals.update(records)

    def _records(self, data: bytes, kind: str) -> dict[str, str]:
        records = parse_pax(data, self.what)
        for key in ("path", "linkpath", "size"):
            if key in records and not records[key]:
                raise InputError(f"{self.what}: {kind} header with an empty {key!r}")
        size = records.get("size")
        if size is not None and not (size.isascii() and size.isdigit()):
            raise InputError(f"{self.what}: {kind} header with a malformed size {show(records['size'], 40)}")
        return records

    def apply(self, info: tarfile.TarInfo) -> tarfile.TarInfo:
        """The member as extracted: the next real header with what the extensions say."""
        if not (self._local or self._long or self.globals or self._has_local):  # the usual member
            return self._check_size(info, info.name)
        local, long, self._local, self._long = self._local, self._long, {}, {}
        self._has_local = False
        named = local.get("path", long.get("path", self.globals.get("path", info.name)))
        for key, attr in (("path", "name"), ("linkpath", "linkname")):
            if key in long:
                other = local.get(key, self.globals.get(key))
                if other is not None and other != long[key]:
                    raise InputError(f"{self.what}: member {show(long[key])} is given another {key} by a pax "
                                     f"header ({show(other)}); tar readers disagree on which applies")
            value = local.get(key, long.get(key, self.globals.get(key)))
            if value is not None:
                setattr(info, attr, value.rstrip("/") if key == "path" else value)
        if "size" in local:
            info.size = int(local["size"])
        return self._check_size(info, named)

    def _check_size(self, info: tarfile.TarInfo, named: str) -> tarfile.TarInfo:
        if info.size and info.type not in _NO_DATA and named.endswith("/"):
            # GNU tar makes a directory of a regular file named 'd/', tarfile a file with its data:
            # the checker cannot judge both readings at once.
            raise InputError(f"{self.what}: member {show(named)} is a file named like a directory, "
                             f"with {info.size} bytes of data")
        if info.type in _NO_DATA and info.size:
            # Readers disagree on whether data follows such a header (GNU tar skips it for symlinks
            # and devices, tarfile never): refuse what real tar writers never produce.
            raise InputError(f"{self.what}: member {show(info.name)} of a type without data declares "
                             f"{info.size} bytes of data")
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
    """`collector`, when given, sees every member as `collector.member(path, info)` (the path as the
    checker normalised it) and, when that returns True, the member's data as `collector.data(bytes)`
    before the next member (fsdgimg.sbom.files.LayerFiles: an SBOM's files, in the import pass)."""

    def __init__(self, what: str, collector=None):
        self.what = what
        self.checker = MemberChecker(what)
        self.collector = collector
        self.members = 0
        self._header = bytearray()
        self._skip = 0           # bytes of member data (with padding) still to pass over
        self._collect: bytearray | None = None  # data of an extension header (or a collected member)
        self._collect_size = 0
        self._collect_type: bytes | None = b""  # None: a member's data, for the collector
        self._extensions = Extensions(what)     # what extension headers say about later members
        self._ended = False
        self._trailing = 0
        self._offset = 0

    def feed(self, data) -> None:
        view = memoryview(data)
        pos, size = 0, len(view)
        self._offset += size
        while pos < size:
            if self._ended:
                # After the end-of-archive block tar ignores the rest (a record's padding), but an
                # endless stream (/dev/zero) must not be read for ever.
                self._trailing += size - pos
                if self._trailing > MAX_TRAILING:
                    raise InputError(f"{self.what}: more than {MAX_TRAILING >> 20} MiB after the tar "
                                     "archive's end-of-archive block")
                return
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
        info = self._extensions.apply(info)
        name = self.checker.check(info)
        self.members += 1
        self._skip = data_size(info)
        if self.collector is not None and self.collector.member(name, info):
            self._collect = bytearray()
            self._collect_size = info.size
            self._collect_type = None
            if not self._skip:
                self._extension_done()

    def _extension_done(self) -> None:
        data = bytes(self._collect[:self._collect_size])
        self._collect = None
        if self._collect_type is None:
            self.collector.data(data)
        else:
            self._extensions.add(self._collect_type, data)

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
        extensions = Extensions(self.what)
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
                extensions.add(info.type, data)
                continue
            info = extensions.apply(info)
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
