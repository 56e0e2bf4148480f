"""Content digests as a type (OCI image-spec "descriptor.md#digests")."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import BinaryIO

from fsdgimg.errors import DigestMismatch, InputError

# Registered algorithms and the length of their hex encoding.
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[a-f0-9]+\Z")
CHUNK = 1 << 20


@dataclass(frozen=True, order=True)
class Digest:
    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> "Digest":
        if not isinstance(text, str):
            raise InputError(f"digest must be a string, not {type(text).__name__}")
        algorithm, sep, encoded = text.partition(":")
        if not sep or algorithm not in _HEX_LENGTH:
            raise InputError(f"invalid digest {text[:80]!r}: expected sha256:<64 hex digits>")
        if len(encoded) != _HEX_LENGTH[algorithm] or not _HEX.match(encoded):
            raise InputError(f"invalid digest {text[:80]!r}: bad {algorithm} encoding")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes) -> "Digest":
        return cls("sha256", hashlib.sha256(data).hexdigest())

    @classmethod
    def from_hash(cls, h: "hashlib._Hash") -> "Digest":
        return cls(h.name, h.hexdigest())

    def hasher(self):
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        return f"{self.algorithm}:{self.hex[:12]}"


class VerifyingReader:
    """Reads a stream and checks, at its end, that it had the expected size and digest.

    Verification happens the moment the blob is read, once: a consumer that reads to EOF
    has either the right bytes or a DigestMismatch naming `what`.
    """

    def __init__(self, raw: BinaryIO, digest: Digest, size: int | None, what: str):
        self._raw = raw
        self._digest = digest
        self._size = size
        self._what = what
        self._hash = digest.hasher()
        self._seen = 0
        self._checked = False

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while chunk := self.read(CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        data = self._raw.read(n)
        if data:
            self._hash.update(data)
            self._seen += len(data)
            if self._size is not None and self._seen > self._size:
                raise DigestMismatch(f"{self._what}: larger than its descriptor's size {self._size}")
        elif not self._checked:
            self._check()
        return data

    def _check(self) -> None:
        self._checked = True
        if self._size is not None and self._seen != self._size:
            raise DigestMismatch(
                f"{self._what}: {self._seen} bytes, but its descriptor says {self._size}")
        actual = Digest.from_hash(self._hash)
        if actual != self._digest:
            raise DigestMismatch(f"{self._what}: content has digest {actual}, expected {self._digest}")

    @property
    def digest(self) -> Digest:
        """The digest the bytes are checked against (at their end)."""
        return self._digest

    def close(self) -> None:
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

