"""fsdgimg web-config nginx|apache|caddy --root DIR: print a web-server configuration for a static tree
(with --blob-mirror, one that redirects blob downloads to the tree's mirrors: transports/static/mirrors.py);
web-config mirrorbits: the configuration of a redirector in front of those mirrors; policy, registries.d:
the client side.

`fsdgimg web-config nginx --locations-only --root DIR` prints only nginx `location` blocks: the Guix
channel's static-registry-service-type includes that output in its server. Keep it stable."""

from __future__ import annotations

from pathlib import Path

from fsdgimg.commands.options import add_json, emit_text
from fsdgimg.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("web-config", help="print an nginx, Apache or Caddy configuration for a static tree")
    p.add_argument("server", choices=("nginx", "apache", "caddy", "mirrorbits", "policy", "registries.d"),
                   help="a web server; mirrorbits, a redirector in front of the tree's mirrors; or the client "
                        "side: containers policy.json / registries.d requiring the distribution's signatures")
    p.add_argument("--root", metavar="DIR", help="the static tree (the directory holding v2/)")
    p.add_argument("--registry", action="append", default=[], metavar="HOST[:PORT][/NAMESPACE]",
                   help="policy, registries.d: where the official images are pulled from (repeatable)")
    p.add_argument("--mirror", action="append", default=[], metavar="MIRROR=ORIGIN",
                   help="policy, registries.d: a mirror (HOST[:PORT][/PATH]) serving the images of ORIGIN "
                        "(HOST[:PORT][/PATH]) with their signatures, which name ORIGIN (repeatable)")
    p.add_argument("--sigstore-key", action="append", default=[], type=Path, metavar="PUB",
                   help="policy: a cosign public key that signs them (repeatable: any one)")
    p.add_argument("--gpg-key", action="append", default=[], type=Path, metavar="KEYRING",
                   help="policy: an OpenPGP public keyring that signs them")
    p.add_argument("--default", choices=("insecureAcceptAnything", "reject"), default="insecureAcceptAnything",
                   help="policy: what images from elsewhere get (default insecureAcceptAnything); with reject, "
                        "as a system's policy, the local transports (oci:, dir:, containers-storage: ...) are "
                        "accepted, and without keys the registries are accepted unsigned")
    p.add_argument("--block", action="append", default=[], metavar="HOST[:PORT][/NAMESPACE]",
                   help="policy: a registry whose images are rejected (repeatable)")
    p.add_argument("--lookaside", action="append", default=[], metavar="[SCOPE=]URL",
                   help="registries.d: where OpenPGP signatures are served, for every scope or for one "
                        "(repeatable; default: a static tree's, https://HOST/sigstore; http for a loopback HOST)")
    p.add_argument("--no-default-lookaside", action="store_true",
                   help="registries.d: no lookaside for a scope that --lookaside SCOPE=URL does not name")
    p.add_argument("--redis", metavar="HOST:PORT", help="mirrorbits: its redis (default 127.0.0.1:6379)")
    p.add_argument("--fallback", action="append", default=[], metavar="URL",
                   help="mirrorbits: where a file goes that no mirror has yet (a blob published since the last "
                        "scan): a complete copy of the tree served as plain files, e.g. the origin's (repeatable)")
    p.add_argument("--server-name", help="server name (nginx server_name, Apache ServerName, Caddy site)")
    p.add_argument("--listen", help="listen address, PORT or HOST:PORT (default 80; mirrorbits 127.0.0.1:8080)")
    p.add_argument("--locations-only", action="store_true",
                   help="nginx: only the location blocks, to include in a server of your own")
    p.add_argument("--blob-mirror", action="append", default=[], metavar="[files:]URL",
                   help="nginx, apache, caddy: redirect blob downloads to this mirror of the tree (repeatable; "
                        "blob sha256:HEX goes to mirror int(HEX[0:2], 16) %% N, in the order given). URL serves "
                        "the tree with fsdgimg's web configuration; files:URL serves its plain files "
                        "(a file mirror or a redirector such as mirrorbits). Manifests, tags and signatures "
                        "stay here; DIR/_web/mirrors-down/HOST[_PORT] marks a mirror down (its blobs served here)")
    add_json(p, 'print {"server": ..., "config": TEXT} instead of the text alone (and "blob_mirrors": each '
                'mirror\'s URL, layout and down marker)')
    p.set_defaults(func=run)


def run(args) -> int:
    if args.server in ("policy", "registries.d"):
        if args.blob_mirror:
            raise UsageError("--blob-mirror is for the web servers (nginx, apache, caddy)")
        from fsdgimg.trust.policy import check_mirror, check_scope, policy, registries_d
        # A system's files (--default reject, --no-default-lookaside) may list no registry: then only
        # local images are accepted.
        system = args.default == "reject" if args.server == "policy" else args.no_default_lookaside
        if not args.registry and not args.mirror and not system:
            raise UsageError(f"{args.server} needs --registry HOST[:PORT] or --mirror MIRROR=ORIGIN")
        for scope in args.registry:
            check_scope(scope)
        mirrors = [check_mirror(value) for value in args.mirror]
        scopes = args.registry + [mirror for mirror, _ in mirrors]
        if len(set(scopes)) != len(scopes):
            twice = next(s for s in scopes if scopes.count(s) > 1)
            raise UsageError(f"{twice[:80]!r} is given twice (--registry, --mirror)")
        lookaside, lookasides = _lookasides(args, scopes)
        if args.server == "policy":
            blocked = [check_scope(scope, "--block") for scope in args.block]
            if set(blocked) & set(scopes):
                twice = next(s for s in blocked if s in scopes)
                raise UsageError(f"{twice[:80]!r} is both accepted and blocked (--block)")
            if not args.sigstore_key and not args.gpg_key and args.default != "reject":
                raise UsageError("policy needs --sigstore-key PUB or --gpg-key KEYRING (or --default reject)")
            return emit_text(args, args.server, policy(args.registry, args.sigstore_key, args.gpg_key,
                                                           default=args.default, mirrors=mirrors,
                                                           blocked=list(dict.fromkeys(blocked))))
        return emit_text(args, args.server, registries_d(scopes, lookaside, lookasides))
    if not args.root:
        raise UsageError(f"--root DIR is required for {args.server}")
    from fsdgimg.transports.static import mirrors
    from fsdgimg.transports.static.webconfig import render, render_mirrorbits
    if args.server == "mirrorbits":
        if args.blob_mirror:
            raise UsageError("--blob-mirror is for the origin's web server; mirrorbits takes mirrors with "
                             "`mirrorbits add` and --fallback")
        fallbacks = mirrors.parse_all(args.fallback, flag="--fallback")
        return emit_text(args, args.server, render_mirrorbits(Path(args.root), listen=args.listen, redis=args.redis,
                                                              fallbacks=fallbacks))
    if args.fallback or args.redis:
        raise UsageError("--fallback and --redis are for mirrorbits")
    blob_mirrors = mirrors.parse_all(args.blob_mirror)
    text = render(args.server, Path(args.root), server_name=args.server_name, listen=args.listen,
                  locations_only=args.locations_only, blob_mirrors=blob_mirrors)
    if args.json and blob_mirrors:
        from fsdgimg.commands.options import emit_json
        emit_json({"server": args.server, "config": text, "blob_mirrors": [m.to_json() for m in blob_mirrors]})
        return 0
    return emit_text(args, args.server, text)


def _lookasides(args, scopes: list[str]) -> tuple[str | None, dict[str, str | None]]:
    """--lookaside URL (every scope) and --lookaside SCOPE=URL (one, the first given wins), and with
    --no-default-lookaside, no lookaside for the other scopes; one line for a URL that is not
    http(s) or a scope not given."""
    lookaside, lookasides = None, {}
    for value in args.lookaside:
        scope, sep, url = value.partition("=")
        if not sep or value.startswith(("https://", "http://")):
            scope, url = None, value
        if not (url.startswith(("https://", "http://")) and url.isprintable() and " " not in url):
            raise UsageError(f"--lookaside {value[:80]!r}: expected an http(s):// URL or SCOPE=URL")
        if scope is None:
            if lookaside is not None:
                raise UsageError("--lookaside URL is given twice")
            lookaside = url
        elif scope not in scopes:
            raise UsageError(f"--lookaside {value[:80]!r}: {scope[:80]!r} is not a --registry or --mirror")
        else:
            lookasides.setdefault(scope, url)
    if args.no_default_lookaside:
        lookasides = {scope: lookasides.get(scope) for scope in scopes}
    return lookaside, lookasides
