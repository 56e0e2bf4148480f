"""fsdgimg publish SRC --to DEST: to a registry (docker://), a static tree (static:DIR), an OCI layout
or a docker archive."""

from __future__ import annotations

import sys

from fsdgimg.commands.convert import add_image_options, options_from
from fsdgimg.errors import UsageError
from fsdgimg.reference import Reference, check_name, check_tag
from fsdgimg.transport import parse


def register(sub) -> None:
    p = sub.add_parser(
        "publish", help="publish an image to a registry, a static tree, an OCI layout or an archive",
        description="Publish SRC (anything fsdgimg reads: OCI layout, Guix/docker archive, root file system; "
                    "single images and multi-platform indexes) to DEST: docker://HOST[:PORT]/NAME[:TAG|@DIGEST] "
                    "(a registry), static:DIR (a static tree any web server serves), oci:DIR[:TAG] or "
                    "docker-archive:FILE.")
    p.add_argument("src")
    p.add_argument("--to", required=True, metavar="DEST", dest="dest")
    p.add_argument("--name", metavar="NAME[:TAG]",
                   help="static: repository and tag (default: the image's own name and tag)")
    g = p.add_argument_group("registry (docker://)")
    g.add_argument("--username", help="user name (the password comes from --password-stdin)")
    g.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    g.add_argument("--insecure", action="store_true",
                   help="allow plain HTTP and unverified TLS (always allowed for loopback: plain HTTP only)")
    g.add_argument("--ca-file", metavar="PEM", help="CA certificate(s) to verify the registry's TLS certificate with")
    g.add_argument("--jobs", type=int, default=4, help="blobs uploaded at once (default 4)")
    g.add_argument("--retries", type=int, default=5, help="retries of a failed request, with backoff (default 5)")
    g.add_argument("--mount-from", action="append", default=[], metavar="REPO",
                   help="another repository on the same registry to cross-mount blobs from (repeatable)")
    g.add_argument("--no-state", action="store_true",
                   help="do not remember blob locations and unfinished uploads between runs")
    s = p.add_argument_group("static tree (static:DIR)")
    s.add_argument("--server-name", help="server name for the generated web-server configurations")
    s.add_argument("--listen", help="listen address for the generated web-server configurations (default 80)")
    s.add_argument("--public-host", help="HOST[:PORT] shown in the pull commands of index.html "
                                         "(default: the host the page is served from)")
    s.add_argument("--copy-blobs", action="store_true",
                   help="copy blobs even when the source is on the same file system (default: hard-link them)")
    s.add_argument("--no-fsync", action="store_true", help="do not fsync files (faster; not crash-safe)")
    add_image_options(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def _read_password(args) -> str | None:
    if not args.password_stdin:
        return None
    if sys.stdin is None or sys.stdin.closed:
        raise UsageError("--password-stdin: standard input is closed")
    return sys.stdin.readline().rstrip("\r\n")


def run(args) -> int:
    from fsdgimg.source import open_source
    dest = parse(args.dest, for_writing=True)
    if args.password_stdin and not args.username:
        raise UsageError("--password-stdin needs --username")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    options = options_from(args)
    if dest.kind in ("oci", "docker-archive"):
        from fsdgimg.convert import convert
        result = convert(args.src, args.dest, options)
        return _print(args, result, f"{result['destination']} {result['digest']}")
    if dest.kind not in ("docker", "static"):
        raise UsageError(f"{args.dest}: cannot publish to a {dest.kind} location")
    with open_source(args.src, compression=options.compression, platform=options.platform,
                     epoch=options.source_date_epoch) as artifact:
        if options.annotations:
            from fsdgimg.mutate import annotate
            artifact = annotate(artifact, options.annotations)
        if dest.kind == "docker":
            return _push(args, dest.reference, artifact)
        return _publish_static(args, dest, artifact)


def _push(args, ref: Reference, artifact) -> int:
    from fsdgimg.registry import RegistryClient, push
    from fsdgimg.registry.auth import find_credentials
    from fsdgimg.registry.state import PushState
    if args.name:
        raise UsageError("--name is for static: destinations; a docker:// destination names its repository")
    if ref.tag is None and ref.digest is None:
        ref = Reference(ref.registry, ref.name, artifact.tag or "latest")
    creds = find_credentials(ref.registry, ref.name, username=args.username, password=_read_password(args))
    client = RegistryClient(ref.registry, credentials=creds, insecure=args.insecure, retries=max(0, args.retries), ca_file=args.ca_file,
                            connections=max(2, args.jobs + 2))
    from fsdgimg.progress import Progress
    try:
        with Progress(f"pushing to {ref.registry}") as bar:
            report = push(artifact, ref, client, jobs=args.jobs, mount_from=args.mount_from,
                          state=PushState(enabled=not args.no_state), progress=bar)
    finally:
        client.close()
    summary = (f"{report.blobs_sent} blob(s) sent ({report.bytes_sent / 1e6:.1f} MB), {report.blobs_present} "
               f"already there, {report.blobs_mounted} mounted, {report.blobs_resumed} resumed; "
               f"{report.manifests_put} manifest(s) put, {report.manifests_present} unchanged "
               f"in {report.seconds:.2f}s")
    if not args.json:
        print(summary, file=sys.stderr)
    return _print(args, report.to_json(), f"docker://{ref} {report.digest}")


def _publish_static(args, dest, artifact) -> int:
    from fsdgimg.static.writer import StaticPublisher
    name, tag = artifact.name, artifact.tag or "latest"
    if args.name:
        head, slash, last = args.name.rpartition("/")
        last, colon, t = last.partition(":")
        name, tag = head + slash + last, (check_tag(t) if colon else tag)
    if not name:
        raise UsageError(f"{args.src}: the image has no name of its own: give --name NAME[:TAG]")
    check_name(name)
    web = {"server_name": args.server_name, "listen": args.listen, "public_host": args.public_host}
    if not any(web.values()):
        web = None  # keep the options of the last publish
    report = StaticPublisher(dest.path, fsync=not args.no_fsync, web_options=web,
                             link=not args.copy_blobs).publish(artifact, name, tag)
    if not args.json:
        print(f"{report.blobs_written} blob(s) written ({report.bytes_written / 1e6:.1f} MB) of "
              f"{report.blobs_total}; {report.manifests_written} manifest(s); tag "
              f"{'moved' if report.tag_moved else 'unchanged'} in {report.seconds:.2f}s", file=sys.stderr)
    return _print(args, report.__dict__, f"static:{dest.path}/{name}:{tag} {report.digest}")


def _print(args, obj, line: str) -> int:
    if args.json:
        from fsdgimg.cli import emit_json
        emit_json(obj)
    else:
        print(line)
    return 0
