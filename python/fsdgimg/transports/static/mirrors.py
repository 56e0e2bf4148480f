"""Blob mirrors of a static tree: which mirror a blob download is redirected to, and when the origin
serves it itself. nginx, Apache and Caddy (through the templates) and `fsdgimg serve` all take the
choice from here, so every server of one tree sends a given blob to the same mirror.

A mirror is a copy of the tree (rsync'ed in two passes, docs/publish.md) on another host. The origin
answers `GET`/`HEAD /v2/NAME/blobs/sha256:HEX` with a 307 to

    URL/v2/NAME/blobs/sha256:HEX        a mirror serving the tree with `fsdgimg web-config` (`--blob-mirror URL`)
    URL/v2/NAME/_blobs/sha256:HEX       any plain file server or redirector (mirrorbits) serving the
                                        tree's files as they are (`--blob-mirror files:URL`)

Manifests, tags, tag lists, referrers and signatures are always answered by the origin: they change and
they decide what is trusted; a blob is named by its digest, which every client checks, so a mirror
can withhold one but never substitute one.

The choice is stable per digest: mirror number int(HEX[0:2], 16) % len(mirrors), in the order the
mirrors are given. The same blob always goes to the same mirror, so each mirror's (or CDN's) cache holds
a share of the blobs rather than all of them, and a blob shared by many images is fetched once per
mirror. The origin serves the blob itself when no mirror is configured, when it does not hold the blob
(a 404 from the origin, not a redirect to a mirror that lacks it too), and when the chosen mirror is
marked down: a file DIR/_web/mirrors-down/KEY (KEY: the mirror's host, ':PORT' as '_PORT'; mirrors on
one host and port share it, as they share a failure), read on every request, so marking a mirror down or
up needs no reload. To spread a dead mirror's share over the
others instead, drop its --blob-mirror and reload: the modulus changes, and so do most choices.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from fsdgimg.errors import UsageError

MAX_MIRRORS = 32
DOWN_DIR = "mirrors-down"  # under the tree's _web/ (never served)
# A redirect is cached briefly: a CDN in front of the origin absorbs a burst of pulls, and a mirror
# marked down stops receiving clients within a minute even through such a cache.
REDIRECT_CACHE = "public, max-age=60"
LAYOUTS = ("api", "files")

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\Z")
_PATH = re.compile(r"(?:/[A-Za-z0-9._~+@=,-]+)*/?\Z")  # nothing a configuration or a shell could read


@dataclass(frozen=True)
class BlobMirror:
    base: str     # scheme://host[:port][/path], no trailing slash
    layout: str   # "api" (the mirror runs fsdgimg's web configuration) or "files" (plain files)
    key: str      # the name of its down marker

    def url(self, name: str, digest: str) -> str:
        """Where the blob `digest` of repository `name` is redirected to."""
        return f"{self.base}{self.path(name, digest)}"

    def path(self, name: str, digest: str) -> str:
        return f"/v2/{name}/blobs/{digest}" if self.layout == "api" else f"/v2/{name}/_blobs/{digest}"

    def to_json(self) -> dict:
        return {"url": self.base, "layout": self.layout, "down_marker": f"_web/{DOWN_DIR}/{self.key}"}


def parse(text: str, flag: str = "--blob-mirror") -> BlobMirror:
    """`[files:]http(s)://HOST[:PORT][/PATH]`, checked: one line naming the flag on anything else (it is
    written into web-server configurations)."""
    def bad(why: str) -> UsageError:
        return UsageError(f"{flag} {str(text)[:120]!r}: {why}")

    if not isinstance(text, str) or not text.isascii() or not text.isprintable() or len(text) > 400:
        raise bad("expected [files:]http(s)://HOST[:PORT][/PATH]")
    layout, rest = ("files", text[6:]) if text.startswith("files:") else ("api", text)
    parts = urllib.parse.urlsplit(rest)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad("expected an http:// or https:// URL ([files:]http(s)://HOST[:PORT][/PATH])")
    if "@" in parts.netloc:
        raise bad("a mirror URL carries no user name or password (clients would send them to the mirror)")
    if parts.query or parts.fragment or "?" in rest or "#" in rest:
        raise bad("a mirror URL has no query or fragment: the blob's path is appended to it")
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise bad("the port must be a number from 1 to 65535") from None
    if parts.netloc.startswith("["):
        raise bad("give the mirror a host name or an IPv4 address (an IPv6 literal cannot be a down-marker name)")
    if not _HOST.match(host) or len(host) > 253:
        raise bad(f"{host[:80]!r} is not a host name")
    if port == 0 or (parts.netloc.endswith(":") or (port is not None and f":{port}" not in parts.netloc)):
        raise bad("the port must be a number from 1 to 65535")
    if not _PATH.match(parts.path):
        raise bad("the path may hold only letters, digits and '/._~+@=,-'")
    netloc = host.lower() + (f":{port}" if port else "")
    return BlobMirror(f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}", layout,
                      host.lower() + (f"_{port}" if port else ""))


def parse_all(texts, flag: str = "--blob-mirror") -> list[BlobMirror]:
    mirrors = [parse(t, flag) for t in texts or ()]
    if len(mirrors) > MAX_MIRRORS:
        raise UsageError(f"{flag} given {len(mirrors)} times: at most {MAX_MIRRORS} mirrors")
    seen = set()
    for m in mirrors:
        if m.base in seen:
            raise UsageError(f"{flag} {m.base!r} is given twice")
        seen.add(m.base)
    return mirrors


def index(digest: str, count: int) -> int:
    """The mirror number of a blob: its hex digest's first byte modulo the number of mirrors."""
    return int(digest.partition(":")[2][:2], 16) % count


def choose(mirrors: list[BlobMirror], digest: str) -> BlobMirror | None:
    return mirrors[index(digest, len(mirrors))] if mirrors else None


def prefixes(i: int, count: int) -> str:
    """The part of a regular expression (for nginx, Apache and Caddy) after `sha256:` that matches the
    digests going to mirror `i` of `count`: the two-hex-digit prefixes p with int(p, 16) % count == i."""
    if count == 1:
        return ""
    return "(?:" + "|".join(f"{p:02x}" for p in range(256) if p % count == i) + ")"


def is_down(root: Path, mirror: BlobMirror) -> bool:
    return (Path(root) / "_web" / DOWN_DIR / mirror.key).exists()


def template_context(mirrors: list[BlobMirror]) -> list[dict]:
    """What the web-server templates need of each mirror."""
    return [{"base": m.base, "layout": m.layout, "key": m.key, "prefixes": prefixes(i, len(mirrors)),
             "blob_path": "blobs" if m.layout == "api" else "_blobs"}
            for i, m in enumerate(mirrors)]
