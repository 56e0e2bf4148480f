"""fsdgimg publish SRC --to DEST: to a registry (docker://), a static tree (static:DIR), an OCI layout
or a docker archive."""

from __future__ import annotations

import sys
from pathlib import Path

from fsdgimg.commands.options import (
    add_digestfile,
    add_image_options,
    add_json,
    add_publish_signing,
    add_registry,
    add_source_registry,
    add_static_writing,
    check_output_file,
    check_publish_signing,
    emit,
    image_options_from,
    registry_from,
    source_registry_from,
    usage_value,
)


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
    p.add_argument("--additional-tag", action="append", default=[], metavar="TAG",
                   help="docker:// and static: also tag the image TAG (repeatable), e.g. latest")
    add_digestfile(p, "published manifest")
    g = p.add_argument_group("registry written to (docker:// DEST; --insecure, --ca-file, --jobs, --retries "
                             "apply to a docker:// SRC too, unless --src-tls-verify, --src-cert-dir say otherwise)")
    add_registry(g)
    g.add_argument("--mount-from", action="append", default=[], metavar="REPO",
                   help="another repository on the same registry to cross-mount blobs from (repeatable)")
    g.add_argument("--no-state", action="store_true",
                   help="do not remember blob locations and unfinished uploads between runs")
    s = p.add_argument_group("static tree (static:DIR)")
    s.add_argument("--server-name", help="server name for the generated web-server configurations")
    s.add_argument("--listen", help="listen address for the generated web-server configurations (default 80)")
    s.add_argument("--public-host", help="HOST[:PORT] shown in the pull commands of index.html "
                                         "(default: the host the page is served from)")
    add_static_writing(s, "copy blobs even when the source is on the same file system (default: hard-link them)")
    t = p.add_argument_group("signature (docker:// and static:)")
    add_publish_signing(t, sign_help="sign the published image (cosign's format; password from COSIGN_PASSWORD)",
                        gpg_help="static: also sign with this OpenPGP key (gpg, its GNUPGHOME) into the tree's "
                                 "lookaside storage, DIR/sigstore/",
                        identity_help="the repository the signature names (default: the registry's; needed "
                                      "for static:)")
    add_image_options(p)
    add_source_registry(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from fsdgimg.oci.reference import check_tag
    from fsdgimg.progress import Progress
    from fsdgimg.transports.convert import copy
    from fsdgimg.transports.location import parse
    from fsdgimg.transports.options import StaticOptions, WriteOptions, split_name
    dest = parse(args.dest, for_writing=True)
    if args.name:
        usage_value(lambda text: split_name(text, None), args.name)
    for tag in args.additional_tag:
        usage_value(check_tag, tag)
    options = image_options_from(args)
    if args.digestfile:
        check_output_file(args.digestfile, "--digestfile")
    check_publish_signing(args, dest.kind, "DEST")   # before anything is written
    predicates = _layout_predicates(args.src) if args.sign_key or args.gpg_key else []
    registry = registry_from(args, mount_from=args.mount_from, remember=not args.no_state)
    if args.sign_key:  # signed after the push with the same client (one /v2/ probe, one token)
        from fsdgimg.transports.registry.connect import sharing
        registry = sharing(registry, args.dest)
    source = source_registry_from(args, args.insecure, args.ca_file, args.jobs, args.retries)
    static = StaticOptions(not args.no_fsync, not args.copy_blobs,
                           {"server_name": args.server_name, "listen": args.listen, "public_host": args.public_host})
    label = {"docker": lambda: f"pushing to {dest.reference.registry}"}.get(dest.kind, lambda: f"writing {dest.path}")()
    with Progress(label) as bar:
        written = copy(args.src, dest, options, WriteOptions(args.name, None, list(args.additional_tag),
                                                             registry, static, bar), source=source)
    if args.digestfile:
        Path(args.digestfile).write_text(written.digest)
    r = written.report
    if args.sign_key or args.gpg_key:
        from fsdgimg.trust.publishing import after_publish
        r = dict(r, **after_publish(written.destination, sign_key=args.sign_key, identity=args.sign_identity,
                                   insecure=args.insecure, gpg_key=args.gpg_key, registry=registry,
                                   attestations=predicates))
    if not args.json and dest.kind in ("docker", "static"):
        print(_summary(dest.kind, r), file=sys.stderr)
    return emit(args, r, str(written))


def _layout_predicates(src: str) -> list:
    """The attestations `fsdgimg build` left in an OCI layout (SBOM, audit, provenance, verdict), for
    --sign-key to sign about the published image; none for other sources."""
    from fsdgimg.build import EXTRA_DIR
    from fsdgimg.transports.location import parse
    from fsdgimg.trust.publishing import load_predicates
    loc = parse(src)
    if loc.kind != "oci":
        return []
    return load_predicates(loc.path / EXTRA_DIR)


def _summary(kind: str, r: dict) -> str:
    if kind == "docker":
        return (f"{r['blobs_sent']} blob(s) sent ({r['bytes_sent'] / 1e6:.1f} MB), {r['blobs_present']} "
                f"already there, {r['blobs_mounted']} mounted, {r['blobs_resumed']} resumed; "
                f"{r['manifests_put']} manifest(s) put, {r['manifests_present']} unchanged "
                f"in {r['seconds']:.2f}s")
    return (f"{r['blobs_written']} blob(s) written ({r['bytes_written'] / 1e6:.1f} MB, "
            f"{r['blobs_linked']} linked) of {r['blobs_total']}; {r['manifests_written']} manifest(s); "
            f"tag {'moved' if r['tag_moved'] else 'unchanged'} in {r['seconds']:.2f}s")
