"""Progress for long steps: a self-rewriting line on a terminal, nothing at all in a pipe."""

from __future__ import annotations

import os
import sys
import time

from fsdgimg.errors import printable


class Progress:
    def __init__(self, label: str, total: int | None = None, stream=None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = self.stream.isatty() and os.environ.get("TERM") != "dumb"
        self.enabled = enabled
        self.label = printable(label)  # file and image names may come from an archive
        self.total = total
        self.done_bytes = 0
        self._start = time.monotonic()
        self._last = 0.0

    def advance(self, n: int) -> None:
        self.done_bytes += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= 0.2:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        mb = self.done_bytes / 1e6
        rate = mb / max(now - self._start, 1e-6)
        if self.total:
            pct = 100 * self.done_bytes / self.total
            text = f"{self.label}: {pct:5.1f}% {mb:8.1f}/{self.total / 1e6:.1f} MB {rate:6.1f} MB/s"
        else:
            text = f"{self.label}: {mb:8.1f} MB {rate:6.1f} MB/s"
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class CountingReader:
    """Counts the bytes read through it (for progress and for truncation checks)."""

    def __init__(self, raw, progress: Progress | None = None):
        self._raw = raw
        self._progress = progress
        self.total = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.total += len(data)
        if self._progress is not None and data:
            self._progress.advance(len(data))
        return data
