"""Web-server configurations for a static tree, from the jinja2 templates in fsdgimg/templates.

`render("nginx", root, locations_only=True)` is what the Guix channel's static-registry-service-type
includes in its nginx server: only `location` blocks, no `server {}` around them. Keep it stable.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from fsdgimg.errors import UsageError
from fsdgimg.static.layout import API_VERSION, DIGEST_RE, IMMUTABLE, KIND_OF, MUTABLE, NAME_RE, TAG_RE

KINDS = ("nginx", "apache", "caddy")
FILES = {"nginx": "nginx.conf", "apache": "apache.conf", "caddy": "Caddyfile"}

_env = jinja2.Environment(loader=jinja2.PackageLoader("fsdgimg", "templates"), autoescape=False,
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _context(root: Path) -> dict:
    root_text = str(Path(root).resolve())
    if any(c in root_text for c in '"\'{};$ \t\n\\'):
        raise UsageError(f"{root_text!r}: a static tree's path must not contain quotes, braces, ';', '$', "
                         "backslashes or white space (it goes into web-server configurations)")
    return {"root": root_text, "name_re": NAME_RE, "tag_re": TAG_RE, "digest_re": DIGEST_RE,
            "api_version": API_VERSION, "immutable": IMMUTABLE, "mutable": MUTABLE,
            "kinds": [(kind, media_type) for media_type, kind in KIND_OF.items()]}


def render(kind: str, root: Path, *, server_name: str | None = None, listen: str | None = None,
           locations_only: bool = False) -> str:
    ctx = _context(root)
    if kind == "nginx":
        locations = _env.get_template("nginx-locations.conf.j2").render(ctx)
        if locations_only:
            return locations
        return _env.get_template("nginx-server.conf.j2").render(
            ctx, locations=locations, listen=listen or "80", server_name=server_name or "_")
    if locations_only:
        raise UsageError("--locations-only is for nginx (the Guix static-registry service includes them)")
    if kind == "apache":
        listen = listen or "80"
        port_only = listen.isdigit()
        return _env.get_template("apache.conf.j2").render(
            ctx, listen=listen, listen_port=listen not in ("80", "*:80"),
            vhost=f"*:{listen}" if port_only else listen, server_name=server_name or "localhost")
    if kind == "caddy":
        address = server_name or ""
        if listen:
            port = listen.rsplit(":", 1)[-1]
            host = listen.rsplit(":", 1)[0] if ":" in listen else ""
            address = f"http://{server_name or host or ''}:{port}"
        return _env.get_template("Caddyfile.j2").render(ctx, caddy_address=address or ":80")
    raise UsageError(f"unknown web server {kind!r} (use {', '.join(KINDS)})")


def caddy_tag_template(root: Path) -> str:
    return _env.get_template("caddy-tag.tmpl.j2").render(_context(root))
