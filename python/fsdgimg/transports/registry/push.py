"""Pushing an Image or Index to a registry (OCI distribution spec, "push" workflow).

Blobs first, in parallel (bounded): a blob the repository already has (HEAD) is not sent; one seen in
another repository of the same registry is cross-mounted; a small blob goes whole — in the upload's
opening POST (`?digest=`, the spec's single-request upload) where the registry takes it, else in one
PUT after the POST; a large one in PATCH chunks, and an upload cut short resumes at the offset the
registry reports — within the run (after a backoff) or in the next run (the upload URL is
remembered). A blob the caller has just made (`unseen`: it carries a signature made this run) is
sent without asking first: no registry can hold it, so the HEAD could only answer 404. Manifests go
last, each with its own media type, children of an index before the index; a tag that already names
the same digest is left alone, so re-pushing an unchanged image sends no blob and no manifest.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from fsdgimg.errors import DigestMismatch, FsdgimgError, InputError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.descriptor import Descriptor
from fsdgimg.oci.digest import CHUNK, Digest
from fsdgimg.oci.image import Artifact, Image, blob_descriptors, walk
from fsdgimg.oci.reference import Reference
from fsdgimg.transports.registry.client import RegistryClient, RegistryError, printable
from fsdgimg.transports.registry.state import PushState

MONOLITHIC_MAX = 16 << 20   # up to this size a blob goes in a single PUT (or POST)
# While it is unknown whether the registry stores a blob sent with the opening POST, only a blob up
# to this size is sent there: a registry that ignores the body (Distribution 2.8 answers 202)
# then costs little, and Go's HTTP server reads and discards up to 256 KiB of an unread body and keeps
# the connection, where a larger one would be cut off mid-send.
SINGLE_POST_PROBE_MAX = 192 << 10
CHUNK_SIZE = 128 << 20      # PATCH size for larger blobs: each chunk is a resume point
SMALL_BLOB = 4 << 20        # a blob this size or smaller is latency, not bandwidth (Pusher._workers)
ACCEPT_MANIFESTS = ", ".join(mt.MANIFESTS)


@dataclass
class PushReport:
    reference: str
    digest: Digest
    blobs_total: int = 0
    blobs_sent: int = 0
    blobs_present: int = 0
    blobs_mounted: int = 0
    blobs_resumed: int = 0
    blobs_restarted: int = 0  # a remembered upload the registry no longer accepts: sent again from 0
    bytes_sent: int = 0
    manifests_put: int = 0
    manifests_present: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def to_json(self) -> dict:
        return {k: (str(v) if isinstance(v, Digest) else v) for k, v in self.__dict__.items()
                if not k.startswith("_")}


class _Body:
    """A slice [start, start+length) of a blob, read in blocks, hashed as it is sent."""

    def __init__(self, f, length: int, hasher, on_bytes=None, close: bool = False):
        self._f = f
        self._close = close
        self._left = length
        self._length = length
        self._hasher = hasher
        self._on_bytes = on_bytes

    def __len__(self) -> int:
        return self._length

    @property
    def complete(self) -> bool:
        return self._left == 0

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            if self._close:
                self._f.close()
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        if not data:
            raise InputError(f"blob file ended {self._left} bytes early")
        self._left -= len(data)
        self._hasher.update(data)
        if self._on_bytes:
            self._on_bytes(len(data))
        return data


class _BlobFile:
    """Random access to a blob of the source: its file when the store has one, else one stream
    (a registry, a remote tree) that successive chunks continue reading; only a resume that goes
    back re-opens it (and reads up to the offset again)."""

    def __init__(self, image: Image, desc: Descriptor):
        self.desc = desc
        self._image = image
        path = None
        path_of = getattr(image.blobs, "path", None)
        p = path_of(desc.digest) if path_of is not None else None
        if p is not None and os.path.isfile(p):
            path = p  # a local file: seekable, so a resumed upload need not re-read what was sent
        self.path = path
        self._stream = None
        self._pos = 0

    def open_at(self, offset: int):
        if self.path is not None:
            f = open(self.path, "rb")
            f.seek(offset)
            return f
        if self._stream is None or self._pos != offset:
            self.close()
            self._stream, self._pos = self._image.blobs.open(self.desc), 0
            skip = offset
            while skip:
                got = self._stream.read(min(skip, CHUNK))
                if not got:
                    raise InputError(f"blob {self.desc.digest.short} is shorter than {offset} bytes")
                skip -= len(got)
            self._pos = offset
        return _Continued(self)

    def _read(self, n: int) -> bytes:
        data = self._stream.read(n)
        self._pos += len(data)
        return data

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


class _Continued:
    """A view of _BlobFile's one stream from its current position; closing it keeps the stream."""

    def __init__(self, blob: _BlobFile):
        self._blob = blob

    def read(self, n: int = -1) -> bytes:
        return self._blob._read(CHUNK if n is None or n < 0 else n)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def _with_digest(url: str, digest: Digest) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + [("digest", str(digest))]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _range_end(resp) -> int | None:
    """The registry's `Range: 0-N` (bytes it holds: N+1); None when absent."""
    m = re.fullmatch(r"(?:bytes=)?0-(\d+)", (resp.headers.get("Range") or "").strip())
    return int(m.group(1)) if m else None


class Pusher:
    def __init__(self, client: RegistryClient, repository: str, *, jobs: int = 4,
                 state: PushState | None = None, mount_from: list[str] | None = None,
                 chunk_size: int = CHUNK_SIZE, progress=None, unseen: frozenset[Digest] = frozenset()):
        self.client = client
        self.unseen = frozenset(unseen)
        self.repository = repository
        self.jobs = max(1, jobs)
        self.state = state or PushState(enabled=False)
        self.mount_from = list(mount_from or [])
        self.chunk_size = chunk_size
        self.progress = progress
        scopes = {f"repository:{repository}:pull,push"}
        scopes.update(f"repository:{r}:pull" for r in self.mount_from)
        client.add_scopes(scopes)

    @property
    def _blob_path(self) -> str:
        return f"/v2/{self.repository}/blobs"

    # -- blobs -------------------------------------------------------------------------------
    def has_blob(self, digest: Digest, size: int | None = None) -> bool:
        """Whether the repository holds the blob; a registry claiming it must also give its size
        (a server that says 200 to everything would otherwise make a manifest name missing bytes)."""
        resp = self.client.request("HEAD", f"{self._blob_path}/{digest}", what=f"check blob {digest.short}",
                                   allow=(404,))
        resp.close()
        if resp.status_code != 200:
            return False
        if size is not None:
            length = resp.headers.get("Content-Length")
            if length is None or not length.isdigit() or int(length) != size:
                raise RegistryError(f"registry {self.client.registry}: claims to have blob {digest.short} "
                                    f"but gives its size as {printable(str(length))[:40]}, not {size}: "
                                    "not a distribution registry, or a damaged one")
        return True

    def push_blob(self, image: Image, desc: Descriptor, report: PushReport) -> None:
        reg, repo, digest = self.client.registry, self.repository, desc.digest
        if digest not in self.unseen and self.has_blob(digest, desc.size):
            report.add(blobs_present=1)
            self.state.saw_blob(reg, str(digest), repo)
            return
        source = _BlobFile(image, desc)
        upload_url = self.state.upload(reg, repo, str(digest))
        remembered = upload_url is not None
        offset = 0
        if upload_url:
            offset = self._upload_status(upload_url, digest)
            if offset is None:
                # Distribution, for one, cannot resume an upload that received part of a chunk.
                upload_url, offset = None, 0
                report.add(blobs_restarted=1)
            else:
                report.add(blobs_resumed=1)
        if upload_url is None and desc.size <= MONOLITHIC_MAX and self._single_post_worth(desc):
            try:
                upload_url = self._post_whole(source, desc, report)
            finally:
                source.close()
            if upload_url is None:      # stored by the POST itself
                if remembered:
                    self.state.set_upload(reg, repo, str(digest), None)
                self.state.saw_blob(reg, str(digest), repo)
                report.add(blobs_sent=1)
                return
        elif upload_url is None:
            upload_url = self._start_upload(digest, report)
            if upload_url is None:
                self.state.saw_blob(reg, str(digest), repo)
                return  # mounted
        chunked = not (desc.size <= MONOLITHIC_MAX and offset == 0)
        try:
            if not chunked:
                self._put_whole(source, desc, upload_url, report)
            else:
                self._put_chunked(source, desc, upload_url, offset, report)
        finally:
            source.close()
        if chunked or remembered:   # (only then is an upload recorded: no rewrite of the state file)
            self.state.set_upload(reg, repo, str(digest), None)
        self.state.saw_blob(reg, str(digest), repo)
        report.add(blobs_sent=1)

    def _single_post_worth(self, desc: Descriptor) -> bool:
        """Send the blob with the opening POST? Where the registry is known to store it so, yes;
        where it is known not to, no; while unknown, for a small blob (SINGLE_POST_PROBE_MAX), which
        tells. A blob that could be mounted from another repository goes the mount way."""
        if self.mount_from or self.state.repositories_with(self.client.registry, str(desc.digest)):
            return False
        known = self.client.single_post
        return known if known is not None else desc.size <= SINGLE_POST_PROBE_MAX

    def _post_whole(self, source: _BlobFile, desc: Descriptor, report: PushReport) -> str | None:
        """The single-request upload (`POST .../uploads/?digest=D` with the blob): None when the
        registry stored it (201); else the upload it opened instead (202 and a Location), to PUT the
        blob to, and the client remembers not to send bodies with this registry's POSTs again."""
        resp = self._send_whole("POST", f"{self._blob_path}/uploads/", source, desc, ok=(201, 202),
                                params={"digest": str(desc.digest)}, what=f"upload blob {desc.digest.short}")
        if resp.status_code == 201:
            self.client.single_post = True
            self._check_stored(resp, desc.digest)
            report.add(bytes_sent=desc.size)
            return None
        self.client.single_post = False
        location = resp.headers.get("Location")
        if not location:
            raise RegistryError(f"registry {self.client.registry}: upload of {desc.digest.short} started "
                                "without a Location header")
        return self.client.url(location)

    def _start_upload(self, digest: Digest, report: PushReport) -> str | None:
        sources = [r for r in self.mount_from if r != self.repository]
        sources += [r for r in reversed(self.state.repositories_with(self.client.registry, str(digest)))
                    if r != self.repository and r not in sources]
        for source in sources[:3]:
            self.client.add_scopes([f"repository:{source}:pull"])
            resp = self.client.request("POST", f"{self._blob_path}/uploads/", ok=(201, 202),
                                       params={"mount": str(digest), "from": source},
                                       what=f"mount blob {digest.short} from {source}", allow=(401, 403, 404))
            resp.close()
            if resp.status_code == 201:
                report.add(blobs_mounted=1)
                return None
            if resp.status_code == 202 and resp.headers.get("Location"):
                # Not mountable from there (gone, or not allowed): the registry opened an upload instead.
                self.state.forget_blob(self.client.registry, str(digest), source)
                return self.client.url(resp.headers["Location"])
        resp = self.client.request("POST", f"{self._blob_path}/uploads/", ok=(202,),
                                   what=f"start upload of blob {digest.short}")
        resp.close()
        location = resp.headers.get("Location")
        if not location:
            raise RegistryError(f"registry {self.client.registry}: upload of {digest.short} started "
                                "without a Location header")
        return self.client.url(location)

    def _upload_status(self, url: str, digest: Digest) -> int | None:
        """How many bytes of an unfinished upload the registry holds; None when it forgot the upload."""
        try:
            resp = self.client.request("GET", url, ok=(204,), allow=(400, 404, 416),
                                       what=f"ask the state of the upload of {digest.short}")
        except RegistryError as e:
            if e.status is None or e.status >= 500:
                raise
            return None
        resp.close()
        if resp.status_code != 204:
            return None
        end = _range_end(resp)
        # `0-0` is what Distribution (and go-containerregistry's registry) say of an upload that
        # holds nothing yet: taken as 1 byte, a resume after a first chunk that never arrived sent
        # the blob from its second byte (the registry then refused its digest). A chunk is never
        # one byte long, so 0-0 is read as empty.
        return 0 if end is None or end == 0 else end + 1

    def _put_whole(self, source: _BlobFile, desc: Descriptor, url: str, report: PushReport) -> None:
        resp = self._send_whole("PUT", _with_digest(url, desc.digest), source, desc, ok=(201,),
                                what=f"upload blob {desc.digest.short}")
        self._check_stored(resp, desc.digest)
        report.add(bytes_sent=desc.size)

    def _send_whole(self, method: str, url: str, source: _BlobFile, desc: Descriptor, *, ok, what: str,
                    params=None):
        """Send the whole blob as one request's body, hashed as it goes; the (closed) response."""
        hashers = []

        def body():
            h = hashlib.new(desc.digest.algorithm)
            b = _Body(source.open_at(0), desc.size, h, self._advance, close=True)
            hashers.append((h, b))
            return b

        try:
            resp = self.client.request(method, url, ok=ok, body=body, params=params,
                                       headers={"Content-Type": "application/octet-stream",
                                                "Content-Length": str(desc.size)}, what=what)
            resp.close()
        finally:
            # A source that does not hash to its name is the clearer error (the registry only
            # says DIGEST_INVALID); a body cut short by the network is not checked.
            if hashers and hashers[-1][1].complete and Digest.from_hash(hashers[-1][0]) != desc.digest:
                raise DigestMismatch(f"blob {desc.digest.short}: the local file has digest "
                                     f"{Digest.from_hash(hashers[-1][0]).short}: the source is corrupt")
        return resp

    def _check_stored(self, resp, digest: Digest) -> None:
        returned = resp.headers.get("Docker-Content-Digest")
        if returned is not None and returned != str(digest):
            raise RegistryError(f"registry {self.client.registry}: blob {digest.short} stored as "
                                f"{printable(returned)[:100]}: not a distribution registry, or a damaged one")

    def _advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(n)

    def _put_chunked(self, source: _BlobFile, desc: Descriptor, url: str, offset: int,
                     report: PushReport) -> None:
        digest, size = desc.digest, desc.size
        reg, repo = self.client.registry, self.repository
        hasher, hashed = hashlib.new(digest.algorithm), 0
        failures = 0
        while True:
            self.state.set_upload(reg, repo, str(digest), url)
            # Bring the running hash to the registry's offset from the local file (a resume may
            # start anywhere), so the bytes sent are verified whole, once.
            if hashed > offset:
                hasher, hashed = hashlib.new(digest.algorithm), 0
            if hashed < offset:
                with source.open_at(hashed) as f:
                    left = offset - hashed
                    while left:
                        data = f.read(min(left, CHUNK))
                        if not data:
                            raise InputError(f"blob {digest.short}: local file shorter than {offset} bytes")
                        hasher.update(data)
                        left -= len(data)
                hashed = offset
            if offset >= size:
                break
            n = min(self.chunk_size, size - offset)
            snapshot = hasher.copy()
            try:
                with source.open_at(offset) as f:
                    resp = self.client.request(
                        # (go-containerregistry's registry, crane's, answers 204 where the spec says 202)
                        "PATCH", url, ok=(202, 204), retry=False, what=f"upload blob {digest.short}",
                        body=lambda: _Body(f, n, hasher, self._advance),
                        headers={"Content-Type": "application/octet-stream", "Content-Length": str(n),
                                 "Content-Range": f"{offset}-{offset + n - 1}"})
                resp.close()
            except RegistryError as e:
                hasher = snapshot
                if e.status is not None and e.status < 500 and e.status != 416:
                    raise
                status, failures = self._recover(url, digest, offset, size, failures, e)
                if status is None:  # the registry forgot the upload: start again
                    fresh = self._start_upload(digest, report)
                    if fresh is None:
                        return  # mounted after all
                    url, status = fresh, 0
                offset = status
                continue
            hashed = offset + n
            end = _range_end(resp)
            offset = offset + n if end is None else end + 1
            if resp.headers.get("Location"):
                url = self.client.url(resp.headers["Location"])
            report.add(bytes_sent=n)
            failures = 0
        if Digest.from_hash(hasher) != digest:
            self.state.set_upload(reg, repo, str(digest), None)
            raise DigestMismatch(f"blob {digest.short}: the local file has digest "
                                 f"{Digest.from_hash(hasher).short}: the source is corrupt")
        try:
            resp = self.client.request("PUT", _with_digest(url, digest), ok=(201,), what=f"finish blob {digest.short}",
                                       headers={"Content-Length": "0"})
        except RegistryError as e:
            if e.status is not None and e.status < 500:
                raise
            # The upload is still recorded: a rerun asks the registry where it stands and finishes it.
            raise RegistryError(f"registry {reg}: upload of blob {digest.short} to {repo}: all {size} bytes sent, "
                                f"finishing it failed ({e}); run the same publish again to resume it",
                                e.status) from None
        resp.close()
        self._check_stored(resp, digest)

    def _recover(self, url: str, digest: Digest, offset: int, size: int, failures: int,
                 error: RegistryError) -> tuple[int | None, int]:
        """After a failed chunk: wait, then ask the registry where the upload stands."""
        while True:
            failures += 1
            if failures > self.client.retries:
                raise RegistryError(f"registry {self.client.registry}: upload of blob {digest.short} to "
                                    f"{self.repository} stopped at byte {offset} of {size} ({error}); "
                                    "run the same publish again to resume it", error.status) from None
            self.client.sleep(failures - 1)
            try:
                return self._upload_status(url, digest), failures
            except RegistryError as e:
                if e.status is not None and e.status < 500:
                    raise
                error = e

    def _workers(self, order: list[tuple[Image, Descriptor]]) -> int:
        """Uploads in parallel: --jobs, which bounds what an image's blobs take of the link; but
        the few small blobs the caller has just made (`unseen`: an attestation's envelopes and
        config) all at once, up to the client's connections: each costs the registry's latency
        (Distribution syncs every upload to disk), not bandwidth, and the last need not wait for a
        first to finish."""
        if order and all(d.digest in self.unseen and d.size <= SMALL_BLOB for _, d in order):
            return max(self.jobs, min(len(order), getattr(self.client, "connections", self.jobs)))
        return self.jobs

    # -- manifests ---------------------------------------------------------------------------
    def manifest_digest(self, reference: str) -> Digest | None:
        resp = self.client.request("HEAD", f"/v2/{self.repository}/manifests/{reference}", allow=(404,),
                                   headers={"Accept": ACCEPT_MANIFESTS}, what=f"check manifest {reference}")
        resp.close()
        if resp.status_code != 200:
            return None
        header = resp.headers.get("Docker-Content-Digest")
        try:
            return Digest.parse(header) if header else None
        except InputError:
            return None

    def put_manifest(self, x: Artifact, reference: str) -> None:
        data = x.manifest.to_bytes()
        resp = self.client.request("PUT", f"/v2/{self.repository}/manifests/{reference}", ok=(200, 201),
                                   body=lambda: data, headers={"Content-Type": x.manifest.media_type},
                                   what=f"put manifest {reference}")
        resp.close()
        returned = resp.headers.get("Docker-Content-Digest")
        if resp.status_code != 201 or not returned:
            raise RegistryError(f"registry {self.client.registry}: manifest {reference} answered HTTP "
                                f"{resp.status_code} without the digest it stored: not a distribution registry")
        if returned != str(x.digest):
            raise RegistryError(f"registry {self.client.registry}: manifest {reference} stored as "
                                f"{printable(returned)[:100]}, expected {x.digest} (the registry rewrote it)")

    # -- the whole image -----------------------------------------------------------------------
    def tag(self, artifact: Artifact, tags: list[str], report: PushReport) -> None:
        """Point more tags at an image already pushed (no-op for a tag that already names it)."""
        for tag in tags:
            if self.manifest_digest(tag) == artifact.digest:
                report.add(manifests_present=1)
            else:
                self.put_manifest(artifact, tag)
                report.add(manifests_put=1)

    def push(self, artifact: Artifact, ref: Reference) -> PushReport:
        start = time.monotonic()
        if ref.digest is not None and ref.digest != artifact.digest:
            raise InputError(f"{ref}: the image's digest is {artifact.digest}, not the one named")
        report = PushReport(str(ref), artifact.digest)
        self.client.require_distribution_api()
        blobs: dict[Digest, tuple[Image, Descriptor]] = {}
        for x in walk(artifact):
            if isinstance(x, Image):
                for d in blob_descriptors(x):
                    if d.urls and mt.layer_compression(d.media_type) and "foreign" in d.media_type:
                        continue  # foreign layers stay where their URLs say
                    blobs.setdefault(d.digest, (x, d))
        report.blobs_total = len(blobs)
        # (This first request also settles the scheme and reachability, once, before parallel uploads.)
        top = ref.tag if ref.tag is not None else str(artifact.digest)
        # A manifest naming a blob no registry can hold yet (unseen) cannot be there: not asked.
        fresh = isinstance(artifact, Image) and any(d.digest in self.unseen for d in blob_descriptors(artifact))
        if not fresh and self.manifest_digest(top) == artifact.digest:
            # The registry accepted this very manifest before, so it holds every blob and child it
            # names (a registry refuses a manifest whose references are missing): nothing to send.
            report.add(blobs_present=len(blobs), manifests_present=sum(1 for _ in walk(artifact)))
            report.seconds = time.monotonic() - start
            return report
        order = sorted(blobs.values(), key=lambda item: -item[1].size)  # big ones start first
        with cf.ThreadPoolExecutor(max_workers=self._workers(order), thread_name_prefix="push") as pool:
            futures = [pool.submit(self.push_blob, img, d, report) for img, d in order]
            try:
                for fut in cf.as_completed(futures):
                    fut.result()
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
        self.state.save()
        for x in walk(artifact):
            is_top = x is artifact
            reference = str(x.digest) if not is_top or ref.tag is None else ref.tag
            # The top one was asked about before the blobs (or holds an unseen blob): not there.
            if not is_top and self.manifest_digest(reference) == x.digest:
                report.add(manifests_present=1)
                continue
            self.put_manifest(x, reference)
            report.add(manifests_put=1)
        report.seconds = time.monotonic() - start
        return report


def push(artifact: Artifact, ref: Reference, client: RegistryClient, *, additional_tags: list[str] = (),
         **options) -> PushReport:
    if ref.registry is None:
        raise FsdgimgError(f"{ref}: no registry host to push to")
    pusher = Pusher(client, ref.name, **options)
    report = pusher.push(artifact, ref)
    if additional_tags:
        start = time.monotonic() - report.seconds
        pusher.tag(artifact, [t for t in additional_tags if t != ref.tag], report)
        report.seconds = time.monotonic() - start
    return report
