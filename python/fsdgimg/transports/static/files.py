"""Small atomic file operations the static tree is made of: everything appears by rename."""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from fsdgimg.errors import DigestMismatch, FsdgimgError
from fsdgimg.oci.digest import CHUNK, Digest
from fsdgimg.transports.static.layout import TMP_PREFIX


def make_dirs(path: Path) -> None:
    """mkdir -p with mode 0755 whatever the umask: the web server's user must traverse the tree."""
    if path.is_dir():
        return
    make_dirs(path.parent)
    try:
        path.mkdir()
    except FileExistsError:
        return
    os.chmod(path, 0o755)


def tmp_name(final: Path) -> Path:
    return final.with_name(f"{TMP_PREFIX}{final.name[:60]}-{os.getpid()}-{threading.get_ident() % 100000}")


def write_bytes(final: Path, data: bytes, *, fsync: bool = True) -> bool:
    """Write `data` at `final` by rename; False (and nothing touched) when it is already there."""
    try:
        if final.stat().st_size == len(data) and final.read_bytes() == data:
            return False
    except OSError:
        pass
    make_dirs(final.parent)
    tmp = tmp_name(final)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _place(final: Path, make) -> None:
    """Create an entry with make(tmp) at a temporary name beside `final`, then rename it into place."""
    make_dirs(final.parent)
    tmp = tmp_name(final)
    tmp.unlink(missing_ok=True)
    try:
        make(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def link(source: Path, final: Path) -> bool:
    """Hard-link `source` at `final` by rename; False when `final` is that very file already."""
    try:
        if os.path.samefile(source, final):
            return False
    except OSError:
        pass
    _place(final, lambda tmp: os.link(source, tmp))
    return True


def symlink(target: str, final: Path) -> bool:
    """Point the symlink `final` at `target` by rename; False when it already does."""
    try:
        if os.readlink(final) == target:
            return False
    except OSError:
        pass
    _place(final, lambda tmp: os.symlink(target, tmp))
    return True


def _hash_file(path: Path, algorithm: str, out: list) -> None:
    try:
        h = hashlib.new(algorithm)
        size = 0
        buf = bytearray(4 * CHUNK)
        view = memoryview(buf)
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
                size += n
        out.append((Digest.from_hash(h), size))
    except BaseException as e:  # handed to the caller's thread
        out.append(e)


def copy_verified(source: Path, final: Path, digest: Digest, size: int, *, fsync: bool = True) -> None:
    """Copy the file `source` to `final` (by rename) while a second thread hashes it: the wall time is
    the hashing's, as the copy runs in the kernel (copy_file_range) at the same time."""
    make_dirs(final.parent)
    tmp = tmp_name(final)
    result: list = []
    hasher = threading.Thread(target=_hash_file, args=(source, digest.algorithm, result))
    hasher.start()
    try:
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            left = os.fstat(src.fileno()).st_size
            while left > 0:
                try:
                    n = os.copy_file_range(src.fileno(), dst.fileno(), min(left, 1 << 30))
                except OSError:
                    n = 0
                if n == 0:  # unsupported here, or a file that shrank: copy by hand
                    while chunk := src.read(CHUNK):
                        dst.write(chunk)
                    break
                left -= n
            if fsync:
                dst.flush()
                os.fsync(dst.fileno())
        hasher.join()
        outcome = result[0]
        if isinstance(outcome, BaseException):
            raise outcome
        actual, actual_size = outcome
        if actual != digest or actual_size != size or os.path.getsize(tmp) != size:
            raise DigestMismatch(f"{source}: has digest {actual.short} and {actual_size} bytes, "
                                 f"expected {digest.short} and {size}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    finally:
        hasher.join()
        tmp.unlink(missing_ok=True)


def link_verified(source: Path, final: Path, digest: Digest, size: int, *, fsync: bool = True) -> bool:
    """Hash `source` and hard-link it at `final` (by rename): a publish costs one read of the bytes.
    False, doing nothing, when a link is not possible here (another file system, or a file that the
    web server's user could not read): the caller copies instead."""
    try:
        st = os.stat(source)
    except OSError:
        return False
    if st.st_dev != os.stat(final.parent).st_dev or st.st_mode & 0o444 != 0o444 or not os.path.isfile(source):
        return False
    result: list = []
    _hash_file(source, digest.algorithm, result)
    outcome = result[0]
    if isinstance(outcome, BaseException):
        raise outcome
    actual, actual_size = outcome
    if actual != digest or actual_size != size:
        raise DigestMismatch(f"{source}: has digest {actual.short} and {actual_size} bytes, "
                             f"expected {digest.short} and {size}")
    if fsync:
        fd = os.open(source, os.O_RDONLY)
        try:
            os.fsync(fd)  # the source may have been written moments ago and not be on disk yet
        finally:
            os.close(fd)
    try:
        _place(final, lambda tmp: os.link(source, tmp))
    except OSError:
        return False
    return True


def copy_stream_verified(reader, final: Path, *, fsync: bool = True) -> None:
    """Copy from a verifying reader (it raises DigestMismatch at its end) to `final`, by rename."""
    make_dirs(final.parent)
    tmp = tmp_name(final)
    try:
        with open(tmp, "wb") as dst:
            while chunk := reader.read(CHUNK):
                dst.write(chunk)
            if fsync:
                dst.flush()
                os.fsync(dst.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def tree_lock(root: Path, what: str):
    """One writer (publish or gc) at a time per tree; readers (web servers) never lock."""
    make_dirs(root)
    fd = os.open(root / ".fsdgimg-lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits for another writer; released when a killed one dies
        except OSError as e:
            raise FsdgimgError(f"{root}: cannot lock the tree for {what} ({e.strerror})") from None
        yield
    finally:
        os.close(fd)
