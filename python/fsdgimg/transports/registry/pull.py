"""Reading an image or index from a registry (OCI distribution spec, "pull" workflow), lazily.

Only manifests and configs are fetched when the source opens; a layer's bytes stream from the
registry when a writer asks for them, checked against their digest and size as they arrive
(a mismatch is one line naming the blob, raised before the reader's last byte is handed over).
A body cut short by the network is resumed with a `Range` request, under the client's retry policy.
Nothing is staged on disk.
"""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from typing import Iterator

import requests
import urllib3.exceptions

from fsdgimg.errors import DigestMismatch, InputError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.descriptor import Descriptor, Platform
from fsdgimg.oci.digest import CHUNK, Digest, VerifyingReader
from fsdgimg.oci.image import MAX_CONFIG, Artifact, Image, Index
from fsdgimg.oci.manifest import ImageIndex, parse_manifest
from fsdgimg.oci.reference import Reference
from fsdgimg.transports.registry.client import (
    NETWORK_ERRORS,
    RegistryClient,
    RegistryError,
    printable,
)

MAX_MANIFEST = 4 << 20
MAX_DEPTH = 8
ACCEPT = ", ".join(mt.MANIFESTS)
STREAM_ERRORS = NETWORK_ERRORS + (urllib3.exceptions.HTTPError, OSError)


class _BlobStream:
    """A blob's bytes from the registry, re-requested from the last offset after a network error."""

    def __init__(self, blobs: "RegistryBlobs", desc: Descriptor, what: str):
        self._blobs = blobs
        self._desc = desc
        self._what = what
        self._resp: requests.Response | None = None
        self._offset = 0
        self._failures = 0
        self._closed = False

    def _open(self) -> None:
        client = self._blobs.client
        headers = {"Range": f"bytes={self._offset}-"} if self._offset else None
        resp = client.request("GET", self._blobs.blob_path(self._desc.digest), ok=(200, 206), headers=headers,
                              stream=True, what=f"get blob {self._desc.digest.short}")
        skip = self._offset if resp.status_code == 200 else 0
        if resp.status_code == 206 and not (resp.headers.get("Content-Range") or "").startswith(
                f"bytes {self._offset}-"):
            resp.close()
            raise RegistryError(f"registry {client.registry}: blob {self._desc.digest.short}: the answer to a "
                                f"resumed download does not start at byte {self._offset}")
        self._resp = resp
        # Without a Content-Encoding, read from http.client's response directly: urllib3's own
        # buffering copies every byte once more, which shows at a gigabyte or more.
        encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
        fp = getattr(resp.raw, "_fp", None)
        self._read = fp.read if encoding == "identity" and hasattr(fp, "read") else \
            (lambda k: resp.raw.read(k, decode_content=True))
        while skip:  # a server without Range support: read up to where we were
            got = self._read(min(skip, CHUNK))
            if not got:
                break
            skip -= len(got)

    def read(self, n: int = -1) -> bytes:
        n = CHUNK if n is None or n < 0 else n
        while True:
            if self._closed:
                return b""
            try:
                if self._resp is None:
                    self._open()
                data = self._read(n)
                if not data and self._offset < self._desc.size:
                    # http.client ends a body cut short quietly: a network failure, resumed below.
                    raise urllib3.exceptions.ProtocolError("connection closed early")
            except RegistryError:
                raise
            except STREAM_ERRORS as e:
                if self._closed:
                    return b""
                self._drop()
                self._failures += 1
                client = self._blobs.client
                if self._failures > client.retries:
                    raise RegistryError(f"registry {client.registry}: blob {self._desc.digest.short}: download "
                                        f"stopped at byte {self._offset} of {self._desc.size} "
                                        f"({printable(type(e).__name__)})") from None
                client.sleep(self._failures - 1)
                continue
            self._offset += len(data)
            return data

    def _drop(self) -> None:
        resp, self._resp = self._resp, None
        if resp is not None:
            resp.close()

    def close(self) -> None:
        self._closed = True
        self._drop()


class _ReadAhead:
    """Reads and hashes the next chunks of a blob on a thread of its own while the consumer writes
    the previous ones (socket reads, sha256 and file writes all release the GIL), at most DEPTH
    chunks ahead: memory stays bounded whatever the blob's size. At the end it hands over either
    the end of the stream or the DigestMismatch that the bytes earned."""

    DEPTH = 4

    def __init__(self, stream: "_BlobStream", desc: Descriptor, what: str):
        self._stream = stream
        self._desc = desc
        self._what = what
        self._queue: queue.Queue = queue.Queue(self.DEPTH)
        self._stop = threading.Event()
        self._rest = b""
        self._done = False
        self._thread = threading.Thread(target=self._run, name="blob-read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        digest, size, what = self._desc.digest, self._desc.size, self._what
        hasher, seen = digest.hasher(), 0
        try:
            while not self._stop.is_set():
                data = self._stream.read(CHUNK)
                if not data:
                    break
                hasher.update(data)
                seen += len(data)
                if seen > size:
                    raise DigestMismatch(f"{what}: larger than its descriptor's size {size}")
                self._put(data)
            else:
                return
            if seen != size:
                raise DigestMismatch(f"{what}: {seen} bytes, but its descriptor says {size}")
            actual = Digest.from_hash(hasher)
            if actual != digest:
                raise DigestMismatch(f"{what}: content has digest {actual}, expected {digest}")
            self._put(b"")
        except BaseException as e:  # handed to the consumer, raised there
            self._put(e)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def read(self, n: int = -1) -> bytes:
        if not self._rest:
            if self._done:
                return b""
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._done = True
                raise item
            if not item:
                self._done = True
                return b""
            self._rest = item
        if n is None or n < 0 or n >= len(self._rest):
            data, self._rest = self._rest, b""
        else:
            data, self._rest = self._rest[:n], self._rest[n:]
        return data

    def close(self) -> None:
        self._stop.set()
        self._stream.close()
        self._thread.join(timeout=5)


class _VerifiedAhead(VerifyingReader):
    """A VerifyingReader whose hashing and checks run on the read-ahead thread."""

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while chunk := self._raw.read(CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        return self._raw.read(n)


class RegistryBlobs:
    """The blob source of a registry repository: open(desc) streams and verifies, path() is None."""

    def __init__(self, client: RegistryClient, repository: str, where: str):
        self.client = client
        self.repository = repository
        self.where = where

    def blob_path(self, digest: Digest) -> str:
        return f"/v2/{self.repository}/blobs/{digest}"

    def path(self, digest: Digest) -> None:
        return None  # nothing local: writers stream from open()

    def has(self, digest: Digest) -> bool:
        resp = self.client.request("HEAD", self.blob_path(digest), allow=(404,), what=f"check blob {digest.short}")
        resp.close()
        return resp.status_code == 200

    def open(self, desc: Descriptor, what: str | None = None) -> VerifyingReader:
        what = what or f"{self.where}: blob {desc.digest}"
        stream = _BlobStream(self, desc, what)
        if desc.size > CHUNK:
            return _VerifiedAhead(_ReadAhead(stream, desc, what), desc.digest, desc.size, what)
        return VerifyingReader(stream, desc.digest, desc.size, what)

    def read_bytes(self, desc: Descriptor, what: str | None = None, limit: int = 4 << 20) -> bytes:
        if desc.size > limit:
            raise InputError(f"{what or self.where}: blob {desc.digest.short} of {desc.size} bytes "
                             f"exceeds the {limit}-byte limit")
        with self.open(desc, what) as r:
            return r.read()

    def manifest(self, reference: str, expected: Digest | None = None,
                 media_type: str | None = None) -> tuple[bytes, str | None, Digest]:
        """A manifest's exact bytes, its media type and digest; verified against `expected` (a digest
        reference) or the registry's Docker-Content-Digest (a tag)."""
        what = f"{self.where}: manifest {reference}"
        resp = self.client.request("GET", f"/v2/{self.repository}/manifests/{reference}", stream=True,
                                   headers={"Accept": ACCEPT}, what=f"get manifest {reference}",
                                   allow=(404,))
        try:
            if resp.status_code == 404:
                raise InputError(f"{self.where}: no manifest {reference!s} in {self.repository} "
                                 f"on {self.client.registry}")
            data = b""
            while len(data) <= MAX_MANIFEST:
                chunk = resp.raw.read(CHUNK, decode_content=True)
                if not chunk:
                    break
                data += chunk
        except STREAM_ERRORS as e:
            raise RegistryError(f"registry {self.client.registry}: get manifest {reference}: "
                                f"{printable(type(e).__name__)}") from None
        finally:
            resp.close()
        if len(data) > MAX_MANIFEST:
            raise InputError(f"{what}: larger than {MAX_MANIFEST} bytes")
        digest = Digest.of(data)
        if expected is not None and digest != expected:
            raise DigestMismatch(f"{what}: content has digest {digest}, expected {expected}")
        header = resp.headers.get("Docker-Content-Digest")
        if expected is None and header and header != str(digest):
            raise DigestMismatch(f"{what}: content has digest {digest}, but the registry names it "
                                 f"{printable(header)[:100]}")
        content_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        return data, (content_type if content_type in mt.MANIFESTS else media_type), digest


def _load(blobs: RegistryBlobs, reference: str, expected: Digest | None, media_type: str | None,
          platform: Platform | None, depth: int = 0) -> Artifact:
    if depth > MAX_DEPTH:
        raise InputError(f"{blobs.where}: indexes nested deeper than {MAX_DEPTH}")
    data, kind, digest = blobs.manifest(reference, expected, media_type)
    where = f"{blobs.where}@{digest.short}" if depth else blobs.where
    parsed = parse_manifest(data, f"{blobs.where}: manifest {digest.short}", kind)
    if isinstance(parsed, ImageIndex):
        wanted = parsed.manifests
        if platform is not None:
            wanted = [d for d in parsed.manifests if d.platform is not None and platform.matches(d.platform)
                      and d.media_type in mt.IMAGE_MANIFESTS][:1]
            if not wanted:
                have = ", ".join(sorted({str(d.platform) for d in parsed.manifests if d.platform})) or "none"
                raise InputError(f"{blobs.where}: index has no image for {platform} (has: {have})")
            return _load(blobs, str(wanted[0].digest), wanted[0].digest, wanted[0].media_type, None, depth + 1)
        for d in wanted:
            if d.media_type not in mt.MANIFESTS:
                raise InputError(f"{where}: {d.digest.short} has media type {printable(d.media_type)}, "
                                 "not a manifest")
        children = [_load(blobs, str(d.digest), d.digest, d.media_type, None, depth + 1) for d in wanted]
        return Index(parsed, children, blobs, where=where)
    config = blobs.read_bytes(parsed.config, f"{where}: config {parsed.config.digest.short}", MAX_CONFIG)
    image = Image(parsed, config, blobs, where=where)
    image.check()
    if platform is not None and not platform.matches(image.platform):
        raise InputError(f"{blobs.where}: image is for {image.platform}, not {platform}")
    return image


def read_registry(client: RegistryClient, ref: Reference, platform: Platform | None = None) -> Artifact:
    """The image or index `ref` names (the platform's image, when given and `ref` is an index)."""
    blobs = RegistryBlobs(client, ref.name, f"docker://{ref}")
    artifact = _load(blobs, ref.reference, ref.digest, None, platform)
    artifact.name = ref.name
    artifact.tag = ref.tag
    return artifact


@contextmanager
def open_registry(loc, *, platform: Platform | None = None, options=None) -> Iterator[Artifact]:
    """The source for docker://HOST[:PORT]/NAME[:TAG|@DIGEST]; `options` is a RegistryOptions."""
    from fsdgimg.transports.registry.connect import connect
    ref: Reference = loc.reference
    client = connect(ref.registry, ref.name, options)
    try:
        yield read_registry(client, ref, platform)
    finally:
        client.close()
