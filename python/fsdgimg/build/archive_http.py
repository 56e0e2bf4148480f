"""Files of a distribution's archive over HTTP(S), bounded: keyring tarballs, release files,
indices, .debs and source files. Every caller checks what it got against a pin (a catalog's
sha256, a lock, a signed release file), so the transport needs no trust; an unreachable host or a
refusal is one line naming the URL."""

from __future__ import annotations

from pathlib import Path

import requests

from fsdgimg.errors import FsdgimgError, InputError

TIMEOUT = (15, 60)      # connect, read


def get_to(url: str, limit: int, dest: Path, what: str | None = None) -> None:
    """`url`'s body into `dest` (at most `limit` bytes). `what` goes before the URL in messages."""
    with open(dest, "wb") as f:
        for chunk in _chunks(url, limit, what):
            f.write(chunk)


def get(url: str, limit: int, what: str | None = None) -> bytes:
    """`url`'s body (at most `limit` bytes)."""
    return b"".join(_chunks(url, limit, what))


def _chunks(url: str, limit: int, what: str | None):
    label = f"{what} {url}" if what else url      # what: "the locked x.deb", "…: cannot fetch the keyring from"
    try:
        with requests.get(url, stream=True, timeout=TIMEOUT) as response:
            if response.status_code != 200:
                raise FsdgimgError(f"{label}: HTTP {response.status_code}")
            size = 0
            for chunk in response.iter_content(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise InputError(f"{label}: larger than the {limit} bytes expected")
                yield chunk
    except requests.RequestException as e:
        raise FsdgimgError(f"{label}: unreachable ({type(e).__name__})") from None
