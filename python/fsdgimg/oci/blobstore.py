"""A content-addressed blob directory (`blobs/<alg>/<hex>`), as in an OCI image layout.

Blobs are written to a temporary file beside their final place and renamed into it once their
digest is known, so a reader never sees a partial blob under a digest name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from fsdgimg.errors import DigestMismatch, FsdgimgError, InputError
from fsdgimg.oci.descriptor import Descriptor
from fsdgimg.oci.digest import CHUNK, Digest, VerifyingReader


class BlobWriter:
    """A file object that hashes what it is given; commit() names it by its digest."""

    def __init__(self, store: "BlobStore", *, hashing: bool = True):
        self._store = store
        store.blob_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=store.blob_dir)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._tmp = Path(tmp)
        # hashing=False: the bytes come from a VerifyingReader, which checks them once already.
        self._hash = hashlib.sha256() if hashing else None
        self.size = 0
        self.digest: Digest | None = None

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self._hash is not None:
            self._hash.update(data)
        try:
            self._file.write(data)
        except OSError as e:  # a full disk or quota: say where, the OSError of write() names no file
            raise FsdgimgError(f"{self._store.blob_dir}: cannot write a blob ({e.strerror or e})") from None
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def commit(self, expected: Digest | None = None) -> Digest:
        try:
            self._file.close()
        except OSError as e:
            raise FsdgimgError(f"{self._store.blob_dir}: cannot write a blob ({e.strerror or e})") from None
        if self._hash is None:
            if expected is None:
                self.abort()
                raise ValueError("a blob written without hashing needs its expected digest")
            digest = expected
        else:
            digest = Digest.from_hash(self._hash)
        if expected is not None and digest != expected:
            self.abort()
            raise DigestMismatch(f"blob has digest {digest}, expected {expected}")
        final = self._store.path(digest)
        if final.exists():
            self._tmp.unlink()
        else:
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, final)
        self.digest = digest
        return digest

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is not None or self.digest is None:
            self.abort()


class BlobStore:
    def __init__(self, root: Path, algorithm: str = "sha256"):
        self.root = Path(root)
        self.blob_dir = self.root / "blobs" / algorithm

    def path(self, digest: Digest) -> Path:
        return self.root / "blobs" / digest.algorithm / digest.hex

    def has(self, digest: Digest) -> bool:
        return self.path(digest).is_file()

    def open(self, desc: Descriptor, what: str | None = None) -> VerifyingReader:
        """The blob's bytes, checked against the descriptor's digest and size as they are read."""
        path = self.path(desc.digest)
        try:
            raw = open(path, "rb")
        except FileNotFoundError:
            raise InputError(f"{what or self.root}: blob {desc.digest} is missing") from None
        # The file is named: a truncated or damaged blob is something a user goes and looks at.
        return VerifyingReader(raw, desc.digest, desc.size, f"{what} ({path})" if what else str(path))

    def read_bytes(self, desc: Descriptor, what: str | None = None, limit: int = 4 << 20) -> bytes:
        if desc.size > limit:
            raise InputError(f"{what or self.root}: blob {desc.digest.short} of {desc.size} bytes "
                             f"exceeds the {limit}-byte limit")
        with self.open(desc, what) as r:
            return r.read()

    def writer(self, *, hashing: bool = True) -> BlobWriter:
        return BlobWriter(self, hashing=hashing)

    def put_bytes(self, data: bytes) -> Digest:
        digest = Digest.of(data)
        if not self.has(digest):
            with self.writer(hashing=False) as w:     # (hashed just above)
                w.write(data)
                w.commit(digest)
        return digest

    def copy_from(self, reader: BinaryIO, expected: Digest) -> Digest:
        # A VerifyingReader for `expected` checks digest and size when it reaches its end (which the
        # loop reads to): hashing the same bytes again here would only double the CPU per byte.
        verified = isinstance(reader, VerifyingReader) and reader.digest == expected
        with self.writer(hashing=not verified) as w:
            while chunk := reader.read(CHUNK):
                w.write(chunk)
            return w.commit(expected)

    def link_or_copy(self, source: Path, digest: Digest) -> None:
        """Place an existing verified blob file here: a hard link when possible, else a copy."""
        final = self.path(digest)
        if final.exists():
            return
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".tmp-link-{digest.hex[:16]}-{os.getpid()}")
        try:
            os.link(source, tmp)
        except OSError:
            with open(source, "rb") as r:
                self.copy_from(r, digest)
            return
        os.replace(tmp, final)


@contextmanager
def scratch_store(parent: Path | None = None) -> Iterator[BlobStore]:
    """A temporary blob store, removed afterwards; beside `parent` so that blobs can be hard-linked out."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    # Signals wait while the directory is made, so that an interrupt cannot fall between its
    # creation and the clean-up that owns it.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        path = Path(tempfile.mkdtemp(prefix=".fsdgimg-scratch-", dir=parent))
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        raise
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        yield BlobStore(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


class MemoryBlobs:
    """A few small blobs held in memory, named by the digest computed as they are put: the source of
    a signature or attestation image pushed to a registry the moment it is made, which then touches
    no disk (a temporary store cost more in creating and removing its directories than the push's
    requests). BlobStore's reading interface; `path` is None, so a writer streams them."""

    def __init__(self):
        self._blobs: dict[Digest, bytes] = {}

    def put_bytes(self, data: bytes) -> Digest:
        digest = Digest.of(data)
        self._blobs[digest] = data
        return digest

    def path(self, digest: Digest) -> None:
        return None

    def has(self, digest: Digest) -> bool:
        return digest in self._blobs

    def open(self, desc: Descriptor, what: str | None = None):
        import io
        data = self._blobs.get(desc.digest)
        if data is None or len(data) != desc.size:
            raise InputError(f"{what or 'memory'}: blob {desc.digest} is missing")
        return io.BytesIO(data)      # named by its own hash when put: nothing to verify again

    def read_bytes(self, desc: Descriptor, what: str | None = None, limit: int = 4 << 20) -> bytes:
        with self.open(desc, what) as r:
            return r.read()

