"""fsdgimg build NAME [--check] [--rounds N] [--publish DEST] [--out DIR]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fsdgimg.commands.options import (
    add_annotations,
    add_catalog,
    add_compression,
    add_digestfile,
    add_epoch,
    add_json,
    add_publish_signing,
    add_registry,
    add_strict,
    add_tools,
    check_publish_signing,
    compression_from,
)


def _rounds(text: str) -> int:
    if not text.isdigit() or int(text) < 2:
        raise argparse.ArgumentTypeError(f"--rounds needs a whole number of at least 2, got {text!r}")
    return int(text)


def register(sub) -> None:
    p = sub.add_parser("build", help="build an image of the catalog and, with --check, prove it reproducible",
                       description="Build the catalog image NAME (see 'fsdgimg list') into an OCI layout. "
                                   "With --check, build it again independently and compare manifest, "
                                   "config and every layer's diff ID; differences are reported per file "
                                   "(text and HTML) and make the exit status 1.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--check", action="store_true",
                   help="rebuild independently and compare (Guix: guix build --check)")
    p.add_argument("--rounds", type=_rounds, default=None, metavar="N",
                   help="number of builds to compare, the first included (implies --check; default 2)")
    p.add_argument("--out", type=Path, help="OCI layout directory to write (default: out/NAME)")
    p.add_argument("--publish", metavar="DEST",
                   help="publish the image too (oci:DIR[:TAG], docker-archive:FILE, or what "
                        "'fsdgimg publish' supports); skipped when --check finds differences")
    add_digestfile(p, "built manifest")
    g = p.add_argument_group("registry --publish writes to (docker://; its reports and signatures go there "
                             "with the same credentials)")
    add_registry(g)
    add_catalog(p)
    add_epoch(p, "timestamp for every file and the image (default: $SOURCE_DATE_EPOCH)")
    add_tools(p, "debootstrap family: the host's mmdebstrap/debootstrap, or debootstrap "
                 "in 'guix shell --container' (auto: guix when it is installed)")
    add_compression(p, default="gzip")
    add_annotations(p)
    p.add_argument("--no-diffoscope", action="store_true", help="do not run diffoscope on differing layers")
    p.add_argument("--diffoscope-timeout", type=float, default=300.0, metavar="SECONDS")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory of the builds")
    p.add_argument("--derivation", "-d", action="store_true",
                   help="Guix images: only print the derivations that would be built (like guix build -d), "
                        "one a line, one per architecture")
    p.add_argument("--arch", metavar="A,B",
                   help="build only these of the entry's architectures (OCI names: amd64,arm64,arm/v7…); "
                        "default: all it lists. Several make one OCI index, one makes that platform's image "
                        "(to merge with 'fsdgimg index' when each architecture is built on its own host)")
    p.add_argument("--skip-unavailable", action="store_true",
                   help="build the platforms this host can build (natively or under emulation) and record "
                        "the others as missing, instead of failing")
    add_publish_signing(p, sign_help="sign the published image (cosign's format; password from COSIGN_PASSWORD); "
                                     "of several architectures: the index and every platform's image",
                        gpg_help="with --publish static:DIR: also sign with this OpenPGP key (gpg, its GNUPGHOME) "
                                 "into the tree's lookaside storage, DIR/sigstore/; of several architectures: the "
                                 "index and every platform's image",
                        identity_help="the repository the signature names (needed for static trees)")
    p.add_argument("--publish-inputs", action="store_true",
                   help="with --publish docker://… or static:…: attach the locked binary packages beside the "
                        "image (an OCI artifact whose blobs are the .debs under their own SHA256, its config "
                        "the lock), so that a rebuild needs nothing but what the image's mirrors carry")
    p.add_argument("--with-sources", action="store_true",
                   help="with --publish docker://… or static:…: attach the source packages of the locked binaries "
                        "too (.dsc and its files from the archive's deb-src, as of the build; oras pull gives a "
                        "directory dpkg-source -x unpacks)")
    add_strict(p, "the FSDG license audit fails on unknown licenses too (nonfree always fails)")
    add_json(p, "print the outcome as JSON")
    p.set_defaults(func=run)


def _print_derivations(entries, as_json: bool) -> int:
    from fsdgimg.build.builders import builder_for
    from fsdgimg.build.builders.base import Context
    from fsdgimg.guix import Guix
    drvs = {e.architecture: builder_for(e).derivation(e, Context(Path("."), None, Guix())) for e in entries}
    if as_json:
        from fsdgimg.commands.options import emit_json
        emit_json({"image": entries[0].name, "derivations": {
            e.architecture: {"system": e.guix_system, "target": e.guix_target, "derivation": drvs[e.architecture]}
            for e in entries}})
    else:
        print("\n".join(drvs.values()))
    return 0


def run(args) -> int:
    from fsdgimg import catalog
    from fsdgimg.build import multiplatform
    from fsdgimg.build.check.report import NOT_REPRODUCIBLE
    from fsdgimg.build.pipeline import BuildOptions, run_build
    from fsdgimg.transports.read import epoch_from_env
    entry = catalog.load(args.catalog).get(args.name)
    entries = multiplatform.select(entry, args.arch)
    if args.derivation:
        return _print_derivations(entries, args.json)
    epoch = args.source_date_epoch if args.source_date_epoch is not None else epoch_from_env()
    opts = BuildOptions(
        out=args.out or Path("out") / entry.name,
        check=args.check or args.rounds is not None,
        rounds=args.rounds or 2,
        publish=args.publish,
        epoch=epoch,
        tools=args.tools,
        compression=compression_from(args),
        diffoscope=not args.no_diffoscope,
        diffoscope_timeout=args.diffoscope_timeout,
        keep=args.keep,
        annotations=dict(args.annotation),
        strict=args.strict,
        sign_key=args.sign_key,
        sign_identity=args.sign_identity,
        sign_gpg_key=args.gpg_key,
        publish_inputs=args.publish_inputs,
        with_sources=args.with_sources)
    for flag, given in (("--publish-inputs", args.publish_inputs), ("--with-sources", args.with_sources)):
        from fsdgimg.errors import UsageError
        if given and not (args.publish or "").startswith(("docker://", "static:")):
            raise UsageError(f"{flag} attaches beside what --publish writes: give --publish docker://… or static:…")
        if flag == "--publish-inputs" and given and entry.is_guix:
            raise UsageError("--publish-inputs: a Guix image's inputs are store items, which substitute servers "
                             "already serve (--with-sources lists its source derivations)")
        if given and len(entries) > 1:
            raise UsageError(f"{flag}: one architecture at a time for now (--arch A); "
                             "each platform's inputs attach to its own image")
    if args.publish and args.publish.startswith("docker://"):
        from fsdgimg.commands.options import registry_from
        from fsdgimg.transports.options import WriteOptions
        opts.write_options = WriteOptions(registry=registry_from(args))
    elif args.username or args.password_stdin:
        from fsdgimg.errors import UsageError
        raise UsageError("--username/--password-stdin are for --publish docker://HOST/NAME[:TAG]")
    publish_kind = None
    if args.publish and (args.sign_key or args.gpg_key):
        from fsdgimg.transports.location import parse
        publish_kind = parse(args.publish, for_writing=True).kind
    check_publish_signing(args, publish_kind, "--publish")   # before the build starts
    if args.digestfile:
        from fsdgimg.commands.options import check_output_file
        check_output_file(args.digestfile, "--digestfile")
    several = len(entries) > 1
    entries, missing = multiplatform.available(entries, args.skip_unavailable)
    # What is loaded by now (modules, the catalog, an unlocked key) lives until the command ends:
    # frozen, it is no longer rescanned by the collections that the SBOM's and the audit's many
    # small objects set off (about a fifth of their time; bench/trust).
    import gc
    gc.freeze()
    if several:
        outcome = multiplatform.build_platforms(entries, missing, opts)
        if args.digestfile:
            Path(args.digestfile).write_text(outcome.digest)
        return _report_platforms(outcome, args.json)
    entry = entries[0]
    outcome = run_build(entry, opts)
    if args.digestfile:
        Path(args.digestfile).write_text(outcome.digest)
    if args.json:
        from fsdgimg.commands.options import emit_json
        emit_json(outcome.to_json())
    else:
        print(f"{entry.name}: oci:{outcome.layout}:{outcome.tag} {outcome.digest}")
        if outcome.verdict is not None:
            print(f"{entry.name}: {outcome.verdict} ({len(outcome.digests)} builds: "
                  f"{', '.join(sorted(set(outcome.digests)))})")
        if outcome.report.get("text"):
            print(f"{entry.name}: report {outcome.report['text']} and {outcome.report['html']}")
        if outcome.report.get("audit-text"):
            print(f"{entry.name}: FSDG audit passed ({outcome.report['audit-text']}); "
                  f"SBOM {outcome.report['sbom']}")
        if outcome.published:
            print(f"{entry.name}: published {outcome.published}")
    if outcome.verdict == NOT_REPRODUCIBLE:
        print(f"fsdgimg build: {entry.name} is not reproducible: "
              f"see {outcome.report.get('text')}", file=sys.stderr)
        return 1
    return 0


def _report_platforms(outcome, as_json: bool) -> int:
    from fsdgimg.build.multiplatform import NOT_REPRODUCIBLE, REPRODUCIBLE
    if as_json:
        from fsdgimg.commands.options import emit_json
        emit_json(outcome.to_json())
    else:
        print(f"{outcome.name}: oci:{outcome.layout}:{outcome.tag} {outcome.digest} (index of "
              f"{len(outcome.platforms)} platforms)")
        for plat, one in outcome.platforms.items():
            verdict = f" {one['verdict']}" if one.get("verdict") else ""
            print(f"{outcome.name}: {plat} {one['digest']}{verdict}")
        for plat, why in outcome.missing.items():
            print(f"{outcome.name}: {plat} not built: {why}")
        if outcome.verdict is not None:
            print(f"{outcome.name}: {outcome.verdict} (reproducible: "
                  f"{', '.join(p for p, o in outcome.platforms.items() if o.get('verdict') == REPRODUCIBLE) or 'none'})")
        if outcome.published:
            print(f"{outcome.name}: published {outcome.published}")
    if outcome.verdict == NOT_REPRODUCIBLE:
        bad = [p for p, o in outcome.platforms.items() if o.get("verdict") == NOT_REPRODUCIBLE]
        print(f"fsdgimg build: {outcome.name} is not reproducible for {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0
