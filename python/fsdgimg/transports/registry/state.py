"""What a pusher remembers between runs, per registry: where each blob was seen (to cross-mount it
into another repository instead of sending it again) and unfinished uploads (to resume them at the
offset the registry reports). A cache, not a source of truth: every entry is re-checked before use.

Kept in ${XDG_CACHE_HOME:-~/.cache}/fsdgimg/registry-state.json (mode 0600: upload URLs carry the
registry's signed session state). Several processes may share it: each rewrites it whole, by rename.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

MAX_LOCATIONS = 20000
MAX_UPLOADS = 1000


def default_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fsdgimg" / "registry-state.json"


class PushState:
    def __init__(self, path: Path | None = None, *, enabled: bool = True):
        self.path = path or default_path()
        self.enabled = enabled
        self._lock = threading.Lock()
        self._data = {"locations": {}, "uploads": {}}
        if enabled:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    self._data["locations"] = dict(data.get("locations") or {})
                    self._data["uploads"] = dict(data.get("uploads") or {})
            except (OSError, ValueError):
                pass

    # blob locations: "registry digest" -> [repository, ...] (most recent last)
    def repositories_with(self, registry: str, digest: str) -> list[str]:
        with self._lock:
            return list(self._data["locations"].get(f"{registry} {digest}", []))

    def saw_blob(self, registry: str, digest: str, repository: str) -> None:
        with self._lock:
            key = f"{registry} {digest}"
            repos = [r for r in self._data["locations"].pop(key, []) if r != repository][-7:]
            self._data["locations"][key] = repos + [repository]
            while len(self._data["locations"]) > MAX_LOCATIONS:
                self._data["locations"].pop(next(iter(self._data["locations"])))

    def forget_blob(self, registry: str, digest: str, repository: str) -> None:
        with self._lock:
            key = f"{registry} {digest}"
            repos = [r for r in self._data["locations"].get(key, []) if r != repository]
            self._data["locations"][key] = repos

    # unfinished uploads: "registry repository digest" -> upload URL
    def upload(self, registry: str, repository: str, digest: str) -> str | None:
        with self._lock:
            return self._data["uploads"].get(f"{registry} {repository} {digest}")

    def set_upload(self, registry: str, repository: str, digest: str, url: str | None) -> None:
        with self._lock:
            key = f"{registry} {repository} {digest}"
            self._data["uploads"].pop(key, None)
            if url:
                self._data["uploads"][key] = url
                while len(self._data["uploads"]) > MAX_UPLOADS:
                    self._data["uploads"].pop(next(iter(self._data["uploads"])))
        self.save()

    def save(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            data = json.dumps(self._data, separators=(",", ":")).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".registry-state-", dir=self.path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path)
        except OSError:
            pass  # a cache that cannot be written costs only speed
