"""Layers: objects that know their media type, digest, size and diff ID and open their bytes on demand;
and importing: one pass over an uncompressed layer tar gives its diff ID, its compressed blob and digest.

Each chunk read is hashed for the diff ID, fed to the compressor (whose output is hashed and
written into the blob store) and walked as tar (every member checked for escaping paths and
duplicates). Nothing holds more than a chunk and a few blocks in memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from fsdgimg.errors import DigestMismatch, InputError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.blobstore import BlobStore
from fsdgimg.oci.compression import ANNOTATION, Compression, detect, open_decompressed
from fsdgimg.oci.descriptor import Descriptor
from fsdgimg.oci.digest import CHUNK, Digest
from fsdgimg.oci.tarwalk import TarWalker


class Layer:
    """One layer of an image, as go-containerregistry's v1.Layer: nothing is read until a stream
    is opened. The only place that knows how a layer blob becomes plain tar."""

    def __init__(self, blobs, descriptor: Descriptor, diff_id: Digest | None, what: str):
        self.blobs = blobs
        self.descriptor = descriptor
        self.diff_id = diff_id
        self.what = what

    @property
    def media_type(self) -> str:
        return self.descriptor.media_type

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    @property
    def size(self) -> int:
        return self.descriptor.size

    @property
    def compression(self) -> str | None:
        """gzip, zstd or none; None for media types that are not layer tars (foreign layers, artifacts)."""
        return mt.layer_compression(self.descriptor.media_type)

    def open_compressed(self):
        """The blob as stored, checked against its digest and size as it streams."""
        return self.blobs.open(self.descriptor, self.what)

    def open_uncompressed(self) -> "UncompressedReader":
        """The layer as plain tar; at its end both the blob's digest and the diff ID have been checked."""
        if self.compression is None:
            raise InputError(f"{self.what}: media type {self.media_type} is not a layer tar")
        raw = self.open_compressed()
        return UncompressedReader(raw, open_decompressed(raw, self.compression, self.what), self.diff_id, self.what)


class UncompressedReader:
    """Plain tar bytes of a layer; reaching EOF verifies the diff ID (and drains the blob to verify it)."""

    def __init__(self, raw, plain, diff_id: Digest | None, what: str):
        self._raw = raw
        self._plain = plain
        self._diff_id = diff_id
        self._what = what
        self._hash = hashlib.sha256() if diff_id is not None else None
        self.total = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while chunk := self.read(CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        data = self._plain.read(n)
        if data:
            if self._hash is not None:
                self._hash.update(data)
            self.total += len(data)
        elif not self._done:
            self._done = True
            while self._raw.read(CHUNK):  # trailing bytes after the compressed stream: still the blob's
                pass
            if self._hash is not None and Digest.from_hash(self._hash) != self._diff_id:
                raise DigestMismatch(f"{self._what}: has diff ID {Digest.from_hash(self._hash)}, "
                                     f"the config says {self._diff_id}")
        return data

    def close(self) -> None:
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass(frozen=True)
class LayerBlob:
    """A layer as stored: its compressed blob's descriptor and the digest of its tar (diff ID)."""
    descriptor: Descriptor
    diff_id: Digest
    uncompressed_size: int
    files: int
    # What a collector (the `collect` of import_layer) kept of the members, e.g. an SBOM's files.
    collected: object = None


class _Tee:
    """Reads from `raw`; every chunk is hashed (diff ID), copied to `sink` and walked as tar."""

    def __init__(self, raw: BinaryIO, sink: BinaryIO, walker: TarWalker):
        self._raw = raw
        self._sink = sink
        self._walker = walker
        self.hash = hashlib.sha256()
        self.total = 0

    def run(self) -> None:
        while data := self._raw.read(CHUNK):
            self.hash.update(data)
            self._sink.write(data)
            self._walker.feed(data)
            self.total += len(data)
        self._walker.finish()


def import_layer(stream: BinaryIO, store: BlobStore, compression: Compression, what: str,
                 docker: bool = False, collect=None) -> LayerBlob:
    """Read a layer tar (plain, gzip or zstd: told by its magic number) once and store it compressed.
    `collect(what)`, when given, makes the collector the members are fed to (see TarWalker)."""
    head = b""
    while len(head) < 4 and (more := stream.read(4 - len(head))):  # short reads are allowed
        head += more
    source_compression = detect(head)
    plain = open_decompressed(_Prefixed(head, stream), source_compression, what)
    with store.writer() as blob:
        compressor = compression.writer(blob)
        collector = collect(what) if collect is not None else None
        walker = TarWalker(what, collector)
        tee = _Tee(plain, compressor, walker)
        try:
            tee.run()
        finally:
            compressor.close()
        digest = blob.commit()
    return LayerBlob(_descriptor(compression, digest, blob.size, docker), Digest.from_hash(tee.hash),
                     tee.total, walker.members, collector)


class _Prefixed:
    """A stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0 or n >= len(self._head):
                head, self._head = self._head, b""
                more = self._rest.read(n - len(head)) if n and n > len(head) else b""
                return head + more
            head, self._head = self._head[:n], self._head[n:]
            return head
        return self._rest.read(n)


class _DiffWriter:
    """Hashes and counts the uncompressed layer bytes on their way to the compressor."""

    def __init__(self, sink: BinaryIO):
        self._sink = sink
        self.hash = hashlib.sha256()
        self.total = 0

    def write(self, data) -> int:
        self.hash.update(data)
        self._sink.write(data)
        self.total += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def import_layer_from_writer(produce, store: BlobStore, compression: Compression, what: str,
                             docker: bool = False, collected: object = None) -> LayerBlob:
    """Store a layer that `produce(fileobj)` writes as tar (used for directories we archive ourselves);
    `collected`: what the producer's collector kept, carried on the LayerBlob."""
    with store.writer() as blob:
        compressor = compression.writer(blob)
        diff = _DiffWriter(compressor)
        try:
            produce(diff)
        except OSError as e:
            raise InputError(f"{what}: {e.strerror or e}: {getattr(e, 'filename', '')}") from None
        finally:
            compressor.close()
        digest = blob.commit()
    return LayerBlob(_descriptor(compression, digest, blob.size, docker), Digest.from_hash(diff.hash),
                     diff.total, 0, collected)


def _descriptor(compression: Compression, digest: Digest, size: int, docker: bool) -> Descriptor:
    annotations = {} if compression.algorithm == "none" else {ANNOTATION: compression.describe()}
    return Descriptor(mt.layer_media_type(compression.algorithm, docker), digest, size, annotations)
