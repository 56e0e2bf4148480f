"""Hand-made tar streams for hostile-input tests: every header kind a tar reader may meet (GNU long
names and links, local and global pax headers), in any order and with any values, including the
ones a well-behaved writer never produces. Python's tarfile writes only consistent archives, so
headers are assembled here block by block."""

from __future__ import annotations

import tarfile

BLOCK = 512
END = b"\0" * (2 * BLOCK)


def pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


def header(name: str, type: bytes = tarfile.REGTYPE, size: int = 0, linkname: str = "",
           mode: int = 0o644) -> bytes:
    """One ustar header block (names longer than ustar allows are cut: pair it with an L or x header)."""
    info = tarfile.TarInfo(name[:99])
    info.type, info.size, info.linkname, info.mode = type, size, linkname[:99], mode
    info.mtime = 1
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")


def pax_records(records: dict[str, str]) -> bytes:
    out = b""
    for key, value in records.items():
        body = f" {key}={value}\n".encode("utf-8", "surrogateescape")
        n = len(body) + 1
        while len(str(n)) + len(body) != n:
            n += 1
        out += str(n).encode() + body
    return out


def extension(kind: bytes, payload: bytes) -> bytes:
    return header("././@ext", kind, len(payload)) + pad(payload)


def long_name(name: str) -> bytes:
    return extension(tarfile.GNUTYPE_LONGNAME, name.encode("utf-8", "surrogateescape") + b"\0")


def long_link(target: str) -> bytes:
    return extension(tarfile.GNUTYPE_LONGLINK, target.encode("utf-8", "surrogateescape") + b"\0")


def pax(**records: str) -> bytes:
    return extension(tarfile.XHDTYPE, pax_records(records))


def global_pax(**records: str) -> bytes:
    return extension(tarfile.XGLTYPE, pax_records(records))


def file(name: str, data: bytes = b"x") -> bytes:
    return header(name, tarfile.REGTYPE, len(data)) + pad(data)


def directory(name: str) -> bytes:
    return header(name, tarfile.DIRTYPE, mode=0o755)


def symlink(name: str, target: str) -> bytes:
    return header(name, tarfile.SYMTYPE, linkname=target, mode=0o777)


def hardlink(name: str, target: str) -> bytes:
    return header(name, tarfile.LNKTYPE, linkname=target)


def archive(*parts: bytes) -> bytes:
    return b"".join(parts) + END
