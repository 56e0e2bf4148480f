"""Layer compression: deterministic compressors and magic-number detection.

Compressed bytes depend on the compressor's version and settings (diff IDs do not), so every
compressor describes itself for the `org.fsdgimg.compressor` annotation.
gzip is ISA-L's igzip, block-parallel: its output is the same whatever the thread count, and on
two cores it runs several times faster than zlib. zstd runs in its multi-threaded mode, whose output
is likewise independent of the number of workers (but differs from the single-threaded mode, which
we therefore never use).

ISA-L and zstandard are imported where bytes are (de)compressed, not here: the command line reads
COMPRESSIONS to describe its options, and `fsdgimg --help` should not load two compression libraries.
"""

from __future__ import annotations

import io
import os
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from fsdgimg.errors import InputError, UsageError

COMPRESSIONS = ("gzip", "zstd", "none")
DEFAULT_LEVEL = {"gzip": 2, "zstd": 3, "none": 0}
LEVELS = {"gzip": range(1, 10), "zstd": range(1, 20), "none": range(0, 1)}
ANNOTATION = "org.fsdgimg.compressor"

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_THREADS = max(1, min(4, os.cpu_count() or 1))
# zstd's workers do all the compressing while the calling thread hashes and parses tar; one worker
# more than there are cores keeps both busy (13 % faster on 2 cores). The output does not depend
# on the number of workers.
_ZSTD_THREADS = _THREADS + 1
_BLOCK = 1 << 20
# zstd's default job size at level 3 is 8 MiB and its buffers cost ~50 MiB more than 2 MiB jobs,
# for a ratio under 1 % better (measured in bench/RESULTS.md's notes).
_ZSTD_JOB = 2 << 20


def detect(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


@dataclass(frozen=True)
class Compression:
    """A compression choice: algorithm and level. Levels 1-3 of gzip use ISA-L, 4-9 zlib."""
    algorithm: str = "gzip"
    level: int | None = None

    def __post_init__(self):
        if self.algorithm not in COMPRESSIONS:
            raise UsageError(f"unknown compression {self.algorithm!r} (use gzip, zstd or none)")
        if self.level is not None and self.level not in LEVELS[self.algorithm]:
            r = LEVELS[self.algorithm]
            raise UsageError(f"--level {self.level} is out of range for {self.algorithm} ({r.start}-{r.stop - 1})")

    @property
    def effective_level(self) -> int:
        return DEFAULT_LEVEL[self.algorithm] if self.level is None else self.level

    def describe(self) -> str:
        """What produced the bytes, precisely enough to reproduce them."""
        lvl = self.effective_level
        if self.algorithm == "gzip":
            if lvl <= 3:
                import isal
                return f"gzip;isa-l={isal.ISAL_VERSION};level={lvl};block={_BLOCK}"
            return f"gzip;zlib={zlib.ZLIB_RUNTIME_VERSION};level={lvl}"
        if self.algorithm == "zstd":
            import zstandard
            version = ".".join(map(str, zstandard.ZSTD_VERSION))
            return f"zstd;libzstd={version};level={lvl};mt;job={_ZSTD_JOB}"
        return "none"

    def writer(self, sink: BinaryIO) -> BinaryIO:
        """A file object compressing into `sink`; close() flushes it (and leaves `sink` open)."""
        lvl = self.effective_level
        if self.algorithm == "gzip":
            if lvl <= 3:
                from isal import igzip_threaded
                return igzip_threaded.open(_NoClose(sink), "wb", compresslevel=lvl,
                                           threads=_THREADS, block_size=_BLOCK)
            return _ZlibGzipWriter(sink, lvl)
        if self.algorithm == "zstd":
            import zstandard
            params = zstandard.ZstdCompressionParameters.from_level(
                lvl, threads=_ZSTD_THREADS, job_size=_ZSTD_JOB)
            return zstandard.ZstdCompressor(compression_params=params).stream_writer(sink, closefd=False)
        return _NoClose(sink)


class _NoClose(io.RawIOBase):
    """Passes writes through; close() does not close the wrapped stream."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self._raw.write(b)
        return len(b)


class _ZlibGzipWriter(io.RawIOBase):
    """gzip through zlib at levels 4-9: header with mtime 0, so the bytes are reproducible."""

    def __init__(self, raw: BinaryIO, level: int):
        self._raw = raw
        self._c = zlib.compressobj(level, zlib.DEFLATED, 31)

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self._raw.write(self._c.compress(b))
        return len(b)

    def close(self) -> None:
        if not self.closed:
            self._raw.write(self._c.flush())
        super().close()


def open_decompressed(stream: BinaryIO, algorithm: str, what: str) -> BinaryIO:
    """A reader giving the uncompressed bytes of `stream`; corrupt or truncated input raises InputError."""
    if algorithm == "none":
        return stream
    if algorithm == "gzip":
        return _Checked(_GzipReader(stream), what)
    if algorithm == "zstd":
        import zstandard
        dctx = zstandard.ZstdDecompressor()
        return _Checked(dctx.stream_reader(stream, read_across_frames=True, closefd=False), what)
    raise InputError(f"{what}: unknown compression {algorithm}")


class _GzipReader(io.RawIOBase):
    """Streaming gzip decompression with ISA-L: several members, trailing zero padding
    (as tar blocking leaves) tolerated; a stream cut short is an error.

    Decompressed output is handed out from an offset into one buffer: a tar reader asks for 512-byte
    headers and small members, and re-slicing a megabytes-long buffer on each read cost more than
    the decompression itself."""

    def __init__(self, raw: BinaryIO):
        from isal import isal_zlib
        self._isal_zlib = isal_zlib
        self._raw = raw
        self._d = isal_zlib.decompressobj(47)
        self._eof = False
        self._pending = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 62
        if self._pos >= len(self._pending):
            self._pending, self._pos = self._fill(), 0
        pending, pos = self._pending, self._pos
        if pos == 0 and n >= len(pending):
            self._pos = len(pending)
            return pending
        out = pending[pos:pos + n]
        self._pos = pos + len(out)
        return out

    def _fill(self) -> bytes:
        """The next decompressed bytes (b"" at the end of the stream)."""
        while not self._eof:
            if self._d.eof:
                rest = self._d.unused_data.lstrip(b"\0")
                while not rest:
                    more = self._raw.read(_BLOCK)
                    if not more:
                        self._eof = True
                        break
                    rest = more.lstrip(b"\0")
                if self._eof:
                    break
                self._d = self._isal_zlib.decompressobj(47)  # another gzip member follows
                data = rest
            else:
                data = self._d.unconsumed_tail or self._raw.read(_BLOCK)
                if not data:
                    raise EOFError("compressed stream ended before its end-of-stream marker")
            out = self._d.decompress(data, _BLOCK * 4)
            if out:
                return out
        return b""


class _Checked(io.RawIOBase):
    """Turns a decompressor's errors into one InputError naming the input."""

    def __init__(self, inner, what: str):
        self._inner = inner
        self._what = what

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        try:
            return self._inner.read(n)
        except (EOFError, OSError, *_decompression_errors()) as e:
            raise InputError(f"{self._what}: corrupt or truncated compressed data ({e})") from None


def _decompression_errors() -> tuple[type[Exception], ...]:
    """What the decompressors raise on corrupt input (evaluated only when one raises)."""
    import zstandard
    from isal import isal_zlib
    return zlib.error, isal_zlib.error, zstandard.ZstdError
