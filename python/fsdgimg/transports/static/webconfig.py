"""Web-server configurations for a static tree, from the jinja2 templates in fsdgimg/templates.

`render("nginx", root, locations_only=True)` is what the Guix channel's static-registry-service-type
includes in its nginx server: only `location` blocks, no `server {}` around them. Keep it stable.

Every value that reaches a configuration (the tree's path, --server-name, --listen, --public-host) is
checked here against a grammar that leaves no room for configuration syntax, whether it comes from the
command line or from a tree's stored `_web/options.json`; the templates then pass each one through a
filter that refuses anything outside the safe characters again (one check cannot be skipped by a caller
that forgot the other).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import jinja2

from fsdgimg.errors import FsdgimgError, InputError, UsageError
from fsdgimg.transports.static import mirrors as blob_mirrors
from fsdgimg.transports.static import responses
from fsdgimg.transports.static.layout import (
    DIGEST_RE,
    KIND_OF,
    LOOKASIDE_PATH_RE,
    LOOKASIDE_ROOT,
    NAME_RE,
    TAG_RE,
)

KINDS = ("nginx", "apache", "caddy")
FILES = {"nginx": "nginx.conf", "apache": "apache.conf", "caddy": "Caddyfile"}
OPTIONS = ("server_name", "listen", "public_host")
FLAGS = {"server_name": "--server-name", "listen": "--listen", "public_host": "--public-host"}

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\Z")
_SAFE = re.compile(r"[A-Za-z0-9.:\[\]*_-]+\Z")  # what a checked value can contain
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._+@=,/~-]*\Z")
_SAFE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[A-Za-z0-9._~+@=,-]+)*\Z")
_SAFE_PREFIXES = re.compile(r"(?:\(\?:[0-9a-f]{2}(?:\|[0-9a-f]{2})*\))?\Z")


def _is_host(text: str, *, wildcard: bool = False) -> bool:
    if text.startswith("[") and text.endswith("]"):
        try:
            return isinstance(ipaddress.ip_address(text[1:-1]), ipaddress.IPv6Address)
        except ValueError:
            return False
    if wildcard and text.startswith("*."):
        text = text[2:]
    return len(text) <= 253 and bool(_HOSTNAME.match(text))


def _port(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < int(text) < 65536 and not text.startswith("0")


def _host_port(text: str, need_port: bool) -> tuple[str, str | None] | None:
    host, sep, port = text.rpartition(":")
    if sep and not host.endswith("]") and ":" in host:
        return None  # a bare IPv6 address: must be written [::1]:PORT
    if not sep or (text.startswith("[") and not host.endswith("]")):
        host, port = text, None
    if port is None and need_port:
        return None
    if port is not None and not _port(port):
        return None
    return (host, port) if _is_host(host) else None


def check_option(key: str, value, where: str | None = None) -> str:
    """One web option, checked: returns it unchanged or raises one line naming it (UsageError for the
    command line, InputError naming the file when `where` is a stored tree's options.json)."""
    text = value if isinstance(value, str) else None
    ok = False
    if text is not None and 0 < len(text) <= 260 and text.isascii():
        if key == "server_name":
            ok = text in ("_", "localhost") or _is_host(text, wildcard=True)
        elif key == "listen":
            ok = _port(text) or (text.startswith("*:") and _port(text[2:])) or _host_port(text, True) is not None
        elif key == "public_host":
            ok = _host_port(text, False) is not None
    if ok and _SAFE.match(text):
        return text
    expected = {"server_name": "a host name (e.g. registry.example.org, *.example.org or _)",
                "listen": "PORT, HOST:PORT or [IPv6]:PORT",
                "public_host": "HOST or HOST:PORT, as clients write it before /NAME:TAG"}.get(key, "nothing")
    shown = repr(value)[:80]
    if where:
        raise InputError(f"{where}: {key} {shown} is not {expected}; fix or remove the file "
                         f"(it goes into web-server configurations and the page)")
    raise UsageError(f"{FLAGS.get(key, key)} {shown}: expected {expected}")


def check_options(options: dict, where: str | None = None) -> dict:
    """The web options of a tree, every one checked; unknown keys are refused (stored) or ignored."""
    out = {}
    if not isinstance(options, dict):
        raise InputError(f"{where}: expected a JSON object")
    for key, value in options.items():
        if value is None:
            continue
        if key not in OPTIONS:
            if where:
                raise InputError(f"{where}: unknown option {str(key)[:40]!r} (expected {', '.join(OPTIONS)})")
            continue
        out[key] = check_option(key, value, where)
    return out


def check_root(root: Path) -> str:
    root_text = str(Path(root).resolve())
    if not _SAFE_PATH.match(root_text):
        raise UsageError(f"{root_text[:200]!r}: a static tree's path may hold only letters, digits and "
                         "'._+@=,/~-' (it goes into web-server configurations)")
    return root_text


def _safe(value) -> str:
    """The templates' filter for every interpolated option: refuses what the checks above let through
    by mistake, rather than writing it into a configuration."""
    text = str(value)
    if not (_SAFE.match(text) or _SAFE_PATH.match(text)):
        raise FsdgimgError(f"refusing to write {text[:80]!r} into a web-server configuration")
    return text


_env = jinja2.Environment(loader=jinja2.PackageLoader("fsdgimg", "templates"), autoescape=False,
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
_env.filters["safe_value"] = _safe


def _safe_mirror(value) -> str:
    """The filter for a blob mirror's URL and digest-prefix expression (mirrors.py built both from
    checked input): the same refusal as _safe for anything else."""
    text = str(value)
    if not (_SAFE_URL.match(text) or _SAFE_PREFIXES.match(text) or _SAFE.match(text)):
        raise FsdgimgError(f"refusing to write {text[:80]!r} into a web-server configuration")
    return text


_env.filters["safe_mirror"] = _safe_mirror


def _context(root: Path) -> dict:
    return {"root": check_root(root), "name_re": NAME_RE, "tag_re": TAG_RE, "digest_re": DIGEST_RE,
            "api_version": responses.API_VERSION, "immutable": responses.IMMUTABLE,
            "revalidate": responses.REVALIDATE, "error_cache": responses.ERROR, "allow": responses.ALLOW,
            "errors": {code: (responses.status(code), responses.error_body(code)) for code in responses.ERRORS},
            "referrers_type": responses.REFERRERS_MEDIA_TYPE,
            "lookaside_root": LOOKASIDE_ROOT, "lookaside_re": LOOKASIDE_PATH_RE,
            "signature_type": responses.SIGNATURE_MEDIA_TYPE, "signature_cache": responses.SIGNATURE_CACHE,
            "kinds": [(kind, media_type) for media_type, kind in KIND_OF.items()],
            "mirrors": [], "redirect_cache": blob_mirrors.REDIRECT_CACHE,
            "down_dir": f"_web/{blob_mirrors.DOWN_DIR}"}


def _split_listen(listen: str) -> tuple[str | None, str]:
    """(host or None for every address, port)."""
    if _port(listen):
        return None, listen
    host, _, port = listen.rpartition(":")
    return (None if host == "*" else host), port


def render(kind: str, root: Path, *, server_name: str | None = None, listen: str | None = None,
           locations_only: bool = False, blob_mirrors: list | None = None) -> str:
    """`blob_mirrors`: mirrors.BlobMirror values (mirrors.parse_all): blob downloads are redirected
    to them (fsdgimg/transports/static/mirrors.py says which goes where)."""
    ctx = _context(root)
    ctx["mirrors"] = _mirror_context(blob_mirrors or [])
    if server_name is not None:
        check_option("server_name", server_name)
    if listen is not None:
        check_option("listen", listen)
    if kind == "nginx":
        locations = _env.get_template("nginx-locations.conf.j2").render(ctx)
        if locations_only:
            return locations
        return _env.get_template("nginx-server.conf.j2").render(
            ctx, locations=locations, listen=listen or "80", server_name=server_name or "_")
    if locations_only:
        raise UsageError("--locations-only is for nginx (the Guix static-registry service includes them)")
    host, port = _split_listen(listen or "80")
    if kind == "apache":
        return _env.get_template("apache.conf.j2").render(
            ctx, listen=f"{host}:{port}" if host else port, listen_port=(host, port) != (None, "80"),
            vhost=f"{host or '*'}:{port}", server_name=server_name or "localhost")
    if kind == "caddy":
        # A Caddy site address is a matcher, not a socket: `bind` makes it listen on that address only.
        # A server name without --listen keeps Caddy's automatic HTTPS for that name.
        name = server_name if server_name and server_name != "_" else ""
        if name and listen is None:
            return _env.get_template("Caddyfile.j2").render(ctx, caddy_scheme="", caddy_address=name, bind=None)
        return _env.get_template("Caddyfile.j2").render(ctx, caddy_scheme="http://", caddy_address=f"{name}:{port}",
                                                        bind=host.strip("[]") if host else None)
    raise UsageError(f"unknown web server {kind!r} (use {', '.join(KINDS)})")


def _mirror_context(mirrors: list) -> list[dict]:
    if mirrors and not all(isinstance(m, blob_mirrors.BlobMirror) for m in mirrors):
        raise FsdgimgError("blob mirrors must be parsed by mirrors.parse_all")
    return blob_mirrors.template_context(mirrors)


def render_mirrorbits(root: Path, *, listen: str | None = None, redis: str | None = None,
                      fallbacks: list | None = None) -> str:
    """A mirrorbits.conf for the tree at `root`: mirrorbits redirects the tree's files (the origin's
    `--blob-mirror files:http://LISTEN` sends blob downloads to it) to the mirrors it scans.
    `fallbacks`: mirrors.BlobMirror values (their base URLs; the file layout is mirrorbits' own)."""
    listen = check_option("listen", listen) if listen is not None else "127.0.0.1:8080"
    if redis is not None and _host_port(redis, True) is None:
        raise UsageError(f"--redis {redis[:80]!r}: expected HOST:PORT")
    if fallbacks and not all(isinstance(m, blob_mirrors.BlobMirror) for m in fallbacks):
        raise FsdgimgError("fallbacks must be parsed by mirrors.parse_all")
    return _env.get_template("mirrorbits.conf.j2").render(
        _context(root), listen=listen, redis=redis or "127.0.0.1:6379",
        fallbacks=[m.base for m in fallbacks or []])


def caddy_list_template() -> str:
    """The Go template Caddy cuts tag lists and the catalog with (copied as it is: no jinja2 here)."""
    return (Path(__file__).resolve().parents[2] / "templates" / "caddy-list.tmpl").read_text()


def caddy_tag_template(root: Path) -> str:
    return _env.get_template("caddy-tag.tmpl.j2").render(_context(root))
