"""`fsdgimg serve DIR`: a small read-only HTTP server for a static tree, with the same URLs, headers,
cache semantics and errors as the generated nginx, Apache and Caddy configurations
(fsdgimg/transports/static/responses.py), for trying a tree, for tests and for small sites. A distribution serving
many clients should run nginx with `fsdgimg web-config nginx` (sendfile, TLS, HTTP/2, access logs).

How it stays up with slow, idle and many clients:
- one thread runs a selector over every connection and reads request heads; a connection goes to a
  worker of a bounded pool only once its whole head has arrived, so a client that dribbles its request
  costs a buffer, not a thread (and is dropped after HEAD_TIMEOUT);
- kept-alive connections wait in the selector, not in a worker, and are closed after IDLE_TIMEOUT;
- when file descriptors run out (or MAX_CONNECTIONS is reached) the longest-idle connection is closed to
  make room, so idle sockets cannot stop it answering;
- TCP_NODELAY, and small responses written with their headers in one send: a kept-alive request is
  answered in well under a millisecond (no Nagle delay meeting a delayed ACK).

With --blob-mirror, blob downloads are answered with a 307 to a mirror of the tree, chosen as
fsdgimg/transports/static/mirrors.py says (as the generated configurations do).

Only URLs of the distribution grammar are answered; names, tags and digests are validated by regular
expression before any path is built, and every file served is checked to lie inside DIR.
"""

from __future__ import annotations

import email.utils
import errno
import io
import json
import os
import re
import select
import selectors
import socket
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, quote

from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import dump_json
from fsdgimg.transports.static import mirrors as blob_mirrors
from fsdgimg.transports.static import responses as rs
from fsdgimg.transports.static.layout import (
    DIGEST_RE,
    LOOKASIDE_PATH_RE,
    LOOKASIDE_ROOT,
    MEDIA_TYPE_OF,
    NAME_RE,
    TAG_RE,
    Tree,
    read_tag_link,
)

WORKERS = 32
IDLE_TIMEOUT = 15.0  # a kept-alive connection with no request
HEAD_TIMEOUT = 10.0  # from a request's first byte to the end of its head
SEND_TIMEOUT = 60.0  # one blocking send to a client that stopped reading
MAX_HEAD = 32 * 1024
LINGER = 0.002  # how long a worker waits for a kept-alive client's next request before handing it back
SMALL = 64 * 1024  # bodies up to this size go out with their headers in one send
MAX_PAGE = 10000

_ROUTES = [
    ("base", re.compile(r"/v2/?\Z")),
    ("catalog", re.compile(r"/v2/_catalog\Z")),
    ("tags", re.compile(rf"/v2/(?P<name>{NAME_RE})/tags/list\Z")),
    ("blob", re.compile(rf"/v2/(?P<name>{NAME_RE})/blobs/(?P<digest>{DIGEST_RE})\Z")),
    ("manifest", re.compile(rf"/v2/(?P<name>{NAME_RE})/manifests/(?P<digest>{DIGEST_RE})\Z")),
    ("tag", re.compile(rf"/v2/(?P<name>{NAME_RE})/manifests/(?P<tag>{TAG_RE})\Z")),
    ("referrers", re.compile(rf"/v2/(?P<name>{NAME_RE})/referrers/(?P<digest>{DIGEST_RE})\Z")),
    ("page", re.compile(r"/(?:index\.html)?\Z")),
    ("signature", re.compile(rf"/{LOOKASIDE_ROOT}/(?P<signature>{LOOKASIDE_PATH_RE})\Z")),
]
_RANGE = re.compile(r"bytes=(\d*)-(\d*)\Z")
_TLS_HANDSHAKE = 0x16
_BIG = 1 << 62  # what a Range number too long to be a real offset stands for


def _number(text: str) -> int:
    """A decimal from a header, bounded: 5,000 digits mean "more than any file", not a traceback."""
    return int(text) if len(text) <= 18 else _BIG


class _Writer:
    def __init__(self, sock: socket.socket):
        self.sock = sock

    def write(self, data) -> int:
        self.sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    """One request, parsed from a head the event loop has read completely."""

    server_version = "fsdgimg-serve"
    protocol_version = "HTTP/1.1"

    def __init__(self, conn: "_Connection", head: bytes, server: "StaticServer"):
        # BaseHTTPRequestHandler's own __init__ reads from the socket; here the head is already read.
        self.server, self.tree, self.real_root = server, server.tree, server.real_root
        self.connection = self.request = conn.sock
        self.client_address = conn.address
        self.rfile = io.BytesIO(head)
        self.wfile = _Writer(conn.sock)
        self.close_connection = True

    def log_message(self, format, *args):
        if not self.server.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def handle_expect_100(self):
        return True  # no 100 Continue: every request with a body is refused before reading it

    # --- responses -------------------------------------------------------------------------------
    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes = b"", *, length: int | None = None):
        """Status line and headers (with `body` when it is small) in one send."""
        self.log_request(status)
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Server: {self.server_version}",
                 f"Date: {email.utils.formatdate(usegmt=True)}",
                 f"Docker-Distribution-API-Version: {rs.API_VERSION}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append(f"Content-Length: {len(body) if length is None else length}")
        if self.close_connection:
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if self.command != "HEAD":
            data += body
        self.wfile.write(data)

    def _error(self, code: str, extra: list[tuple[str, str]] = ()):
        headers = [("Content-Type", "application/json"), ("Cache-Control", rs.ERROR), *extra]
        if rs.status(code) == 405:
            headers.append(("Allow", rs.ALLOW))
        self._send(rs.status(code), headers, rs.error_body(code).encode())

    def send_error(self, code, message=None, explain=None):
        """A malformed request line or header: JSON, like every other error, then close."""
        self.close_connection = True
        body = json.dumps({"errors": [{"code": "UNSUPPORTED" if code == 501 else "BAD_REQUEST",
                                       "message": HTTPStatus(code).phrase, "detail": None}]}).encode()
        self.command = getattr(self, "command", None) or "GET"
        self._send(code, [("Content-Type", "application/json"), ("Cache-Control", rs.ERROR)], body)

    # --- methods ---------------------------------------------------------------------------------
    def do_GET(self):
        self._answer()

    do_HEAD = do_GET

    def do_OPTIONS(self):
        self._send(204, [("Allow", rs.ALLOW)])

    def _refuse_write(self):
        # The body (if any) is never read: answer, then close so its bytes are not taken for a request.
        self.close_connection = True
        self._error("UNSUPPORTED")

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse_write

    def __getattr__(self, name):
        if name.startswith("do_"):  # any other method: read-only all the same
            return self._refuse_write
        raise AttributeError(name)

    # --- routes ----------------------------------------------------------------------------------
    def _answer(self):
        path, _, query = self.path.partition("?")
        for route, pattern in _ROUTES:
            m = pattern.match(path)
            if m:
                break
        else:
            return self._error("NOT_FOUND")
        t, g = self.tree, m.groupdict()
        if route == "base":
            return self._file(t.v2 / "index.json", "application/json", cache=rs.REVALIDATE)
        if route == "page":
            return self._file(t.root / "index.html", "text/html; charset=utf-8", cache=rs.REVALIDATE)
        if route == "signature":
            return self._file(t.lookaside / g["signature"], rs.SIGNATURE_MEDIA_TYPE, cache=rs.SIGNATURE_CACHE)
        if route == "catalog":
            return self._listing(t.v2 / "_catalog.json", "repositories", "/v2/_catalog", query, "NOT_FOUND")
        if route == "tags":
            return self._listing(t.tags_list_path(g["name"]), "tags", f"/v2/{g['name']}/tags/list", query,
                                 "NAME_UNKNOWN")
        if route == "blob":
            mirror = blob_mirrors.choose(self.server.blob_mirrors, g["digest"])
            if mirror is not None and self._inside(t.blob_path(g["name"], Digest.parse(g["digest"]))) \
                    and not blob_mirrors.is_down(t.root, mirror):
                # the blob goes to its mirror (mirrors.py); one this tree lacks is our 404, not the mirror's
                return self._send(307, [("Location", mirror.url(g["name"], g["digest"])),
                                        ("Cache-Control", blob_mirrors.REDIRECT_CACHE)])
            return self._file(t.blob_path(g["name"], Digest.parse(g["digest"])), "application/octet-stream",
                              digest=g["digest"], ranges=True, missing="BLOB_UNKNOWN")
        if route == "referrers":
            return self._referrers(g["name"], Digest.parse(g["digest"]), query)
        if route == "tag":
            target = read_tag_link(t.tag_path(g["name"], g["tag"]))
            if target is None:
                known = (t.v2 / g["name"] / "_manifests").is_dir()
                return self._error("MANIFEST_UNKNOWN" if known else "NAME_UNKNOWN")
            digest, media_type = target
        else:
            digest = Digest.parse(g["digest"])
            found = t.find_manifest(g["name"], digest)
            if found is None:
                return self._error("MANIFEST_UNKNOWN")
            media_type = MEDIA_TYPE_OF[found.name.rsplit(".", 1)[1]]
        return self._file(t.manifest_path(g["name"], digest, media_type), media_type, digest=str(digest),
                          cache=rs.REVALIDATE if route == "tag" else rs.IMMUTABLE, missing="MANIFEST_UNKNOWN")

    def _inside(self, path: Path) -> str | None:
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.real_root]) != self.real_root or not os.path.isfile(real):
            return None
        return real

    def _not_modified(self, etag: str, mtime: float) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return inm.strip() == "*" or etag in [v.strip() for v in inm.split(",")]
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                return int(mtime) <= email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError, OverflowError):
                return False
        return False

    def _range(self, size: int, etag: str, last_modified: str):
        """(start, length) for a satisfiable single Range, None to send it all, or "416"."""
        header = self.headers.get("Range")
        if not header:
            return None
        if_range = self.headers.get("If-Range")
        if if_range is not None and if_range.strip() not in (etag, last_modified):
            return None  # the client's copy is another version: it gets the whole current one
        m = _RANGE.match(header.strip())
        if not m or not (m.group(1) or m.group(2)):
            return None  # several ranges, or another unit: the whole file is a valid answer
        if m.group(1):
            start = _number(m.group(1))
            end = min(_number(m.group(2)), size - 1) if m.group(2) else size - 1
        else:
            start, end = max(0, size - _number(m.group(2))), size - 1
        if start >= size or end < start:
            return "416"
        return start, end - start + 1

    def _file(self, path: Path, content_type: str, *, digest: str | None = None, cache: str = rs.IMMUTABLE,
              ranges: bool = False, missing: str = "NOT_FOUND"):
        real = self._inside(path)
        try:
            if real is None:
                raise FileNotFoundError
            f = open(real, "rb")
        except OSError:
            return self._error(missing)
        with f:
            st = os.fstat(f.fileno())
            size = st.st_size
            etag = f'"{digest}"' if digest else f'"{st.st_mtime_ns:x}-{size:x}"'
            last_modified = email.utils.formatdate(st.st_mtime, usegmt=True)
            headers = [("ETag", etag), ("Last-Modified", last_modified), ("Cache-Control", cache)]
            if digest:
                headers.append(("Docker-Content-Digest", digest))
            if ranges:
                headers.append(("Accept-Ranges", "bytes"))
            if self._not_modified(etag, st.st_mtime):
                return self._send_304(headers)
            span = self._range(size, etag, last_modified) if ranges else None
            if span == "416":
                return self._send(416, [("Content-Type", "application/json"), ("Cache-Control", rs.ERROR),
                                        ("Content-Range", f"bytes */{size}")], rs.error_body("RANGE_INVALID").encode())
            status, start, length = (206, *span) if span else (200, 0, size)
            headers.append(("Content-Type", content_type))
            if status == 206:
                headers.append(("Content-Range", f"bytes {start}-{start + length - 1}/{size}"))
            if length <= SMALL or self.command == "HEAD":
                f.seek(start)
                return self._send(status, headers, f.read(length) if self.command != "HEAD" else b"", length=length)
            self._send(status, headers, length=length)
            try:
                self.connection.sendfile(f, start, length)
            except OSError:
                self.close_connection = True

    def _send_304(self, headers):
        self.log_request(304)
        lines = ["HTTP/1.1 304 Not Modified", f"Server: {self.server_version}",
                 f"Date: {email.utils.formatdate(usegmt=True)}", f"Docker-Distribution-API-Version: {rs.API_VERSION}",
                 *[f"{k}: {v}" for k, v in headers]]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _listing(self, path: Path, key: str, url: str, query: str, missing: str):
        """tags/list and _catalog, with the API's pagination: `n` entries after `last`, and a Link to
        the next page when there is one."""
        params = parse_qs(query, keep_blank_values=True)
        if "n" not in params and "last" not in params:
            return self._file(path, "application/json", cache=rs.REVALIDATE, missing=missing)
        n_text = params.get("n", [str(MAX_PAGE)])[-1]
        if not (n_text.isascii() and n_text.isdigit()) or len(n_text) > 9:
            return self._error("PAGINATION_NUMBER_INVALID")
        n = min(int(n_text), MAX_PAGE)
        last = params.get("last", [""])[-1]
        real = self._inside(path)
        try:
            if real is None:
                raise FileNotFoundError
            with open(real, "rb") as f:
                doc = json.loads(f.read())
        except (OSError, ValueError):
            return self._error(missing)
        entries = [e for e in doc.get(key, []) if not last or e > last]
        page, more = entries[:n], len(entries) > n
        doc[key] = page
        headers = [("Content-Type", "application/json"), ("Cache-Control", rs.REVALIDATE)]
        if more and page:
            headers.append(("Link", f'<{url}?n={n}&last={quote(page[-1], safe="")}>; rel="next"'))
        self._send(200, headers, dump_json(doc))

    def _referrers(self, name: str, subject: Digest, query: str):
        path = self.tree.referrers_path(name, subject)
        artifact_type = parse_qs(query).get("artifactType", [None])[-1]
        if artifact_type is None:
            found = self._inside(path)
            return self._file(Path(found) if found else self.tree.v2 / "_referrers-none.json",
                              rs.REFERRERS_MEDIA_TYPE, cache=rs.REVALIDATE)
        try:
            index = json.loads(path.read_bytes()) if self._inside(path) else dict(rs.EMPTY_REFERRERS)
        except (OSError, ValueError):
            index = dict(rs.EMPTY_REFERRERS)
        index["manifests"] = [d for d in index.get("manifests", []) if d.get("artifactType") == artifact_type]
        self._send(200, [("Content-Type", rs.REFERRERS_MEDIA_TYPE), ("Cache-Control", rs.REVALIDATE),
                         ("OCI-Filters-Applied", "artifactType")], dump_json(index))


class _Connection:
    __slots__ = ("sock", "address", "buffer", "since", "started")

    def __init__(self, sock: socket.socket, address):
        self.sock, self.address = sock, address
        self.buffer = bytearray()
        self.since = time.monotonic()  # idle since (no request under way)
        self.started = None  # first byte of the request being read


class StaticServer:
    """The event loop, the worker pool and the connections; `serve_forever()` until `shutdown()`."""

    def __init__(self, root: Path, host: str, port: int, *, quiet: bool = False, workers: int = WORKERS,
                 idle_timeout: float = IDLE_TIMEOUT, head_timeout: float = HEAD_TIMEOUT,
                 blob_mirrors: list | None = None):
        self.tree = Tree(root)
        self.blob_mirrors = list(blob_mirrors or [])
        self.real_root = os.path.realpath(root)
        self.quiet = quiet
        self.idle_timeout, self.head_timeout = idle_timeout, head_timeout
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((host, port))
            self.socket.listen(512)
        except OSError:
            self.socket.close()
            raise
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()[:2]
        import resource
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        # room for the files workers open, the selector and the wake-up pair
        self.max_connections = max(4, min(4096, (soft if soft > 0 else 1024) - workers - 16))
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="serve")
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.returned: deque = deque()
        self.idle: dict[socket.socket, _Connection] = {}  # in the selector
        self.busy = 0
        self.accepting = False
        self.swept = 0.0
        self.stopping = threading.Event()
        self.stopped = threading.Event()

    # --- the loop ----------------------------------------------------------------------------------
    def serve_forever(self) -> None:
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        self._accepting(True)
        try:
            while not self.stopping.is_set():
                for key, _ in self.selector.select(timeout=1.0):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        self._take_back()
                    else:
                        self._read(key.data)
                self._sweep()
        finally:
            self.stopped.set()

    def shutdown(self) -> None:
        self.stopping.set()
        self.wake_w.send(b"x")
        self.stopped.wait()

    def server_close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        for conn in list(self.idle.values()):
            self._close(conn)
        for s in (self.socket, self.wake_r, self.wake_w):
            s.close()
        self.selector.close()

    def _accepting(self, on: bool) -> None:
        if on != self.accepting:
            (self.selector.register(self.socket, selectors.EVENT_READ, "listen") if on
             else self.selector.unregister(self.socket))
            self.accepting = on

    def _accept(self) -> None:
        for _ in range(64):
            if len(self.idle) + self.busy >= self.max_connections and not self._evict():
                self._accepting(False)  # full of busy connections: the backlog waits
                return
            try:
                sock, address = self.socket.accept()
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    if not self._evict():
                        self._accepting(False)
                    continue
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(sock, address)
            self.idle[sock] = conn
            self.selector.register(sock, selectors.EVENT_READ, conn)

    def _evict(self) -> bool:
        """Close the longest-idle connection with no request under way."""
        waiting = [c for c in self.idle.values() if c.started is None]
        if not waiting:
            return False
        self._close(min(waiting, key=lambda c: c.since))
        return True

    def _close(self, conn: _Connection) -> None:
        if self.idle.pop(conn.sock, None) is not None:
            try:
                self.selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
        try:
            conn.sock.close()
        except OSError:
            pass
        if not self.accepting and not self.stopping.is_set():
            self._accepting(True)

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            return self._close(conn)
        if conn.started is None:
            conn.started = time.monotonic()
        conn.buffer += data
        self._dispatch(conn)

    def _dispatch(self, conn: _Connection) -> None:
        """Hand the connection to a worker when its buffer holds a whole head (or is not HTTP)."""
        buf = conn.buffer
        if not buf:
            return
        tls = buf[0] == _TLS_HANDSHAKE
        end = buf.find(b"\r\n\r\n")
        if not tls and end < 0 and len(buf) <= MAX_HEAD:
            return
        self.idle.pop(conn.sock, None)
        self.selector.unregister(conn.sock)
        self.busy += 1
        if tls:
            job, head = "tls", b""
        elif end < 0:
            job, head = "too-large", b""
        else:
            job, head = "request", bytes(buf[:end + 4])
            del buf[:end + 4]
        self.pool.submit(self._work, conn, job, head)

    def _work(self, conn: _Connection, job: str, head: bytes) -> None:
        keep = False
        try:
            conn.sock.settimeout(SEND_TIMEOUT)
            if job == "tls":
                # A TLS ClientHello on the plain port: an HTTP answer lets clients (the docker CLI among
                # them) see that this is plain HTTP and fall back to it.
                body = b"Client sent an HTTP request to an HTTP server.\n"
                conn.sock.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                  b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            elif job == "too-large":
                conn.sock.sendall(b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
                                  b"Connection: close\r\n\r\n")
            else:
                keep = self._serve_requests(conn, head)
        except Exception:  # a client gone, a send timeout: that connection only
            keep = False
        finally:
            try:
                conn.sock.setblocking(False)
            except OSError:
                keep = False
            self.returned.append((conn, keep))
            try:
                self.wake_w.send(b"x")
            except OSError:
                pass

    def _serve_requests(self, conn: _Connection, head: bytes) -> bool:
        """Answer `head`, then the next requests of a client that sends them at once (a kept-alive
        client sends its next request within a fraction of a millisecond): handing the connection back
        to the loop and to a worker again would cost two thread switches per request."""
        while True:
            handler = _Handler(conn, head, self)
            handler.handle_one_request()
            if handler.close_connection or self.stopping.is_set():
                return False
            if not conn.buffer:
                ready, _, _ = select.select([conn.sock], [], [], LINGER)
                if not ready:
                    return True
                data = conn.sock.recv(65536)
                if not data:
                    return False
                conn.buffer += data
            end = conn.buffer.find(b"\r\n\r\n")
            if end < 0 or conn.buffer[0] == _TLS_HANDSHAKE:
                return True  # the rest of that head is the loop's to wait for
            head = bytes(conn.buffer[:end + 4])
            del conn.buffer[:end + 4]

    def _take_back(self) -> None:
        try:
            while self.wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        while self.returned:
            conn, keep = self.returned.popleft()
            self.busy -= 1
            if not keep or self.stopping.is_set():
                self._close_direct(conn)
                continue
            conn.since, conn.started = time.monotonic(), (time.monotonic() if conn.buffer else None)
            self.idle[conn.sock] = conn
            self.selector.register(conn.sock, selectors.EVENT_READ, conn)
            self._dispatch(conn)  # a pipelined request already read
        if not self.accepting and not self.stopping.is_set():
            self._accepting(True)

    def _close_direct(self, conn: _Connection) -> None:
        try:
            conn.sock.close()
        except OSError:
            pass

    def _sweep(self) -> None:
        now = time.monotonic()
        if now - self.swept < 0.5:
            return
        self.swept = now
        for conn in list(self.idle.values()):
            if conn.started is not None and now - conn.started > self.head_timeout:
                self._close(conn)
            elif conn.started is None and now - conn.since > self.idle_timeout:
                self._close(conn)


def make_server(root: Path, host: str = "127.0.0.1", port: int = 8080, quiet: bool = False,
                **kw) -> StaticServer:
    return StaticServer(root, host, port, quiet=quiet, **kw)
