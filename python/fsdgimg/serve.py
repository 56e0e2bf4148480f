"""`fsdgimg serve DIR`: a small read-only HTTP server for a static tree, with the same URLs and headers
as the generated nginx configuration (HEAD everywhere, Range on blobs), for trying a tree locally.

Only URLs of the distribution grammar are answered; names, tags and digests are validated by regular
expression before any path is built, and every file served is checked to lie inside DIR.
"""

from __future__ import annotations

import email.utils
import os
import re
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fsdgimg.digest import Digest
from fsdgimg.static.layout import (API_VERSION, DIGEST_RE, IMMUTABLE, MEDIA_TYPE_OF, MUTABLE, NAME_RE, TAG_RE,
                                   Tree, read_tag_link)

_ROUTES = [
    ("base", re.compile(r"/v2/?\Z")),
    ("catalog", re.compile(r"/v2/_catalog\Z")),
    ("tags", re.compile(rf"/v2/(?P<name>{NAME_RE})/tags/list\Z")),
    ("blob", re.compile(rf"/v2/(?P<name>{NAME_RE})/blobs/(?P<digest>{DIGEST_RE})\Z")),
    ("manifest", re.compile(rf"/v2/(?P<name>{NAME_RE})/manifests/(?P<digest>{DIGEST_RE})\Z")),
    ("tag", re.compile(rf"/v2/(?P<name>{NAME_RE})/manifests/(?P<tag>{TAG_RE})\Z")),
    ("page", re.compile(r"/(?:index\.html)?\Z")),
]
_RANGE = re.compile(r"bytes=(\d*)-(\d*)\Z")


class _Handler(BaseHTTPRequestHandler):
    server_version = "fsdgimg-serve"
    protocol_version = "HTTP/1.1"
    tree: Tree
    real_root: str
    quiet: bool

    def log_message(self, format, *args):
        if not self.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def do_HEAD(self):
        self._answer(head=True)

    def do_GET(self):
        self._answer(head=False)

    def _not_allowed(self):
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "UNSUPPORTED", "this registry is read-only",
                    {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_PATCH = do_DELETE = _not_allowed

    def _error(self, status: int, code: str, message: str, extra: dict | None = None, head: bool = False):
        body = ('{"errors":[{"code":"%s","message":"%s"}]}' % (code, message)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", API_VERSION)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head and self.command != "HEAD":
            self.wfile.write(body)

    def _inside(self, path: Path) -> Path | None:
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.real_root]) != self.real_root or not os.path.isfile(real):
            return None
        return Path(real)

    def _answer(self, head: bool):
        path = self.path.split("?", 1)[0]
        for route, pattern in _ROUTES:
            m = pattern.match(path)
            if m:
                break
        else:
            return self._error(404, "NOT_FOUND", "no such resource", head=head)
        t, g = self.tree, m.groupdict()
        if route == "base":
            return self._send_file(t.v2 / "index.json", "application/json", head, cache=None)
        if route == "page":
            return self._send_file(t.root / "index.html", "text/html; charset=utf-8", head, cache=MUTABLE)
        if route == "catalog":
            return self._send_file(t.v2 / "_catalog.json", "application/json", head, cache=MUTABLE)
        if route == "tags":
            return self._send_file(t.tags_list_path(g["name"]), "application/json", head, cache=MUTABLE,
                                   missing=("NAME_UNKNOWN", "repository name not known to registry"))
        if route == "blob":
            return self._send_file(t.blob_path(g["name"], Digest.parse(g["digest"])), "application/octet-stream",
                                   head, digest=g["digest"], ranges=True,
                                   missing=("BLOB_UNKNOWN", "blob unknown to registry"))
        if route == "tag":
            target = read_tag_link(t.tag_path(g["name"], g["tag"]))
            if target is None:
                return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown", head=head)
            digest, media_type = target
        else:
            digest = Digest.parse(g["digest"])
            found = t.find_manifest(g["name"], digest)
            if found is None:
                return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown", head=head)
            media_type = MEDIA_TYPE_OF[found.name.rsplit(".", 1)[1]]
        return self._send_file(t.manifest_path(g["name"], digest, media_type), media_type, head,
                               digest=str(digest), cache=MUTABLE if route == "tag" else IMMUTABLE,
                               missing=("MANIFEST_UNKNOWN", "manifest unknown"))

    def _send_file(self, path: Path, content_type: str, head: bool, *, digest: str | None = None,
                   cache: str | None = IMMUTABLE, ranges: bool = False, missing=("NOT_FOUND", "not found")):
        real = self._inside(path)
        if real is None:
            return self._error(404, *missing, head=head)
        try:
            f = open(real, "rb")
        except OSError:
            return self._error(404, *missing, head=head)
        with f:
            st = os.fstat(f.fileno())
            size, start, length, status = st.st_size, 0, st.st_size, 200
            header = self.headers.get("Range")
            if ranges and header:
                m = _RANGE.match(header.strip())
                if m and (m.group(1) or m.group(2)):
                    if m.group(1):
                        start = int(m.group(1))
                        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                    else:
                        start, end = max(0, size - int(m.group(2))), size - 1
                    if start >= size or end < start:
                        return self._error(416, "RANGE_INVALID", "range not satisfiable",
                                           {"Content-Range": f"bytes */{size}"}, head=head)
                    length, status = end - start + 1, 206
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(length))
            self.send_header("Docker-Distribution-API-Version", API_VERSION)
            self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
            if digest:
                self.send_header("Docker-Content-Digest", digest)
                self.send_header("ETag", f'"{digest}"')
            if cache:
                self.send_header("Cache-Control", cache)
            if ranges:
                self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{start + length - 1}/{size}")
            self.end_headers()
            if head:
                return
            self.wfile.flush()
            try:
                self.connection.sendfile(f, start, length)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True


def make_server(root: Path, host: str = "127.0.0.1", port: int = 8080, quiet: bool = False) -> ThreadingHTTPServer:
    tree = Tree(root)
    handler = type("Handler", (_Handler,), {"tree": tree, "real_root": os.path.realpath(root), "quiet": quiet})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
