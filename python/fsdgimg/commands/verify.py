"""fsdgimg verify REF [--key PUB ...] [--rebuild]"""

from __future__ import annotations

import sys
from pathlib import Path

from fsdgimg.commands.options import (
    add_insecure,
    add_json,
    add_platform,
    add_rebuild_inputs,
    add_source_registry,
    add_strict,
    add_tools,
    source_registry_from,
)


def register(sub) -> None:
    p = sub.add_parser("verify", help="check an official image: signatures, SBOM and FSDG audit, rebuild",
                       description="REF: docker://HOST/NAME[:TAG|@DIGEST] or static:DIR/NAME[:TAG]. Checks "
                                   "the image's signatures against the given public keys (cosign's "
                                   "format), fetches its attached SBOM and judges the FSDG audit from it, "
                                   "and with --rebuild builds the catalog entry again and compares the "
                                   "digests. A multi-platform index: its signature and those of the indexes "
                                   "nested in it (walked as sign walks them), then every platform's "
                                   "image (or the one --platform picks) is checked like a single image. "
                                   "Attachments are found through the referrers API where the server "
                                   "answers it, else the sha256-<hex> tag. Exit status 0 only when "
                                   "everything asked holds.")
    p.add_argument("ref", metavar="REF")
    p.add_argument("--key", type=Path, action="append", default=[], metavar="PUB",
                   help="a public key (cosign.pub) whose signature is required; repeat for several "
                        "(any one of them suffices)")
    p.add_argument("--gpg-keyring", type=Path, action="append", default=[], metavar="KEYRING",
                   help="an exported OpenPGP public keyring (as podman's signedBy keyPath) whose signature, "
                        "in the containers simple-signing format, is required; repeat for several")
    p.add_argument("--lookaside", metavar="URL",
                   help="where the OpenPGP signatures are (registries.d's lookaside; a URL or a directory); "
                        "default: https://HOST/sigstore (http:// for a loopback HOST), for static:DIR the "
                        "tree's own sigstore/")
    p.add_argument("--identity", metavar="HOST[:PORT]/NAME",
                   help="the repository the OpenPGP signatures must name (default: REF's; for static:DIR, "
                        "NAME whatever the host)")
    add_platform(p, "OS/ARCH[/VARIANT]: of a multi-platform index, check only this platform's image (and the index)")
    p.add_argument("--attestation-key", type=Path, action="append", default=[], metavar="PUB",
                   help="a public key (cosign.pub) the SBOM, audit and reproducibility attestations must be "
                        "signed by, when not the image's --key; repeat for several")
    p.add_argument("--from-layers", action="store_true",
                   help="recompute the SBOM from the image's own layers (dpkg/pacman databases, Guix store "
                        "items) and fail if its packages differ from the signed SBOM's")
    p.add_argument("--no-sbom", action="store_true", help="do not require a signed SBOM")
    add_strict(p)
    p.add_argument("--rebuild", action="store_true",
                   help="build the image again from its signed lock (its exact inputs) and compare digests")
    add_rebuild_inputs(p)
    p.add_argument("--rebuilder-key", type=Path, action="append", default=[], metavar="PUB",
                   help="an independent rebuilder's public key (cosign format); repeat for each rebuilder you "
                        "trust: their signed rebuild verdicts (fsdgimg rebuild --attest-key) are counted")
    p.add_argument("--threshold", type=int, metavar="N",
                   help="with --rebuilder-key: pass only when N distinct rebuilder keys reproduced the image "
                        "(default 1; one key signing twice counts once)")
    p.add_argument("--rebuilders-from", action="append", default=[], metavar="PLACE",
                   help="also look for rebuild verdicts in PLACE (a rebuilder's own static:DIR or "
                        "docker://HOST/NAME), beside the image's own; repeat for several")
    add_tools(p, "--rebuild of a debootstrap-family image: as for 'fsdgimg build --tools'")
    add_insecure(p)
    add_source_registry(p, "REF")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from fsdgimg.trust.remote import target
    from fsdgimg.trust.verify import verify
    if not args.key and not args.gpg_keyring and args.no_sbom and not args.rebuild and not args.rebuilder_key:
        from fsdgimg.errors import UsageError
        raise UsageError("nothing to verify: give --key, --gpg-keyring, --rebuild, --rebuilder-key, "
                         "or leave out --no-sbom")
    rebuilders = None
    if args.rebuilder_key:
        from fsdgimg.trust.verify import Rebuilders
        threshold = 1 if args.threshold is None else args.threshold
        if not 1 <= threshold <= len(args.rebuilder_key):
            from fsdgimg.errors import UsageError
            raise UsageError(f"--threshold {threshold}: between 1 and the {len(args.rebuilder_key)} --rebuilder-key given")
        rebuilders = Rebuilders(args.rebuilder_key, threshold, args.rebuilders_from, args.insecure)
    elif args.threshold is not None or args.rebuilders_from:
        from fsdgimg.errors import UsageError
        raise UsageError("--threshold and --rebuilders-from go with --rebuilder-key")
    openpgp = None
    if args.gpg_keyring:
        from fsdgimg.trust.openpgp_verify import OpenPGPCheck
        openpgp = OpenPGPCheck(args.gpg_keyring, args.lookaside, args.identity, args.insecure)
        openpgp.check_usage()
    elif args.lookaside or args.identity:
        from fsdgimg.errors import UsageError
        raise UsageError("--lookaside and --identity go with --gpg-keyring")
    if args.platform:
        from fsdgimg.commands.options import usage_value
        from fsdgimg.oci.descriptor import Platform
        usage_value(Platform.parse, args.platform)
    t = target(args.ref, insecure=args.insecure, options=source_registry_from(args, args.insecure))
    import functools
    rebuild = None
    if args.rebuild:

        from fsdgimg.build.rebuild import rebuild_published
        rebuild = functools.partial(rebuild_published, keys=args.attestation_key or args.key, openpgp=openpgp,
                                    inputs=args.inputs, lock_file=args.lock, tools=args.tools,
                                    from_catalog=args.from_catalog, catalog_path=args.catalog)
    elif args.inputs or args.lock or args.from_catalog:
        from fsdgimg.errors import UsageError
        raise UsageError("--inputs, --lock and --from-catalog go with --rebuild")
    from_layers = None
    if args.from_layers:
        from fsdgimg.sbom.generate import bom_of_published
        from_layers = functools.partial(bom_of_published, registry=source_registry_from(args, args.insecure))
    v = verify(t, keys=args.key, require_sbom=not args.no_sbom, strict=args.strict, rebuild=rebuild,
               platform=args.platform, openpgp=openpgp, attestation_keys=args.attestation_key or args.key,
               from_layers=from_layers, rebuilders=rebuilders)
    if args.json:
        from fsdgimg.commands.options import emit_json
        emit_json(v.to_json())
    elif v.platforms is not None:
        n = sum(not c.index for c in v.platforms)
        nested = len(v.platforms) - n
        print(f"{v.image} {v.digest} (an index; {n} platform{'s' * (n != 1)} checked"
              + (f", {nested} nested index{'es' * (nested != 1)})" if nested else ")"))
        _print_checks(v, "  ")
        for c in v.platforms:
            print(f"  {c.platform or '?'} {c.digest}")
            _print_checks(c, "    ")
    else:
        print(f"{v.image} {v.digest}")
        _print_checks(v, "  ")
    for line in v.ignored:
        print(f"fsdgimg verify: note: {line}", file=sys.stderr)
    for line in v.failures:
        print(f"fsdgimg verify: {line}", file=sys.stderr)
    return 0 if v.ok else 1


def _print_checks(v, indent: str) -> None:
    for s in v.signatures:
        print(f"{indent}signed by {s['key']} (key {s['key_id']}) for {s['identity']}")
    for s in v.openpgp_signatures:
        print(f"{indent}signed by OpenPGP key {s['fingerprint']} for {s['identity']} ({s['signature']})")
    for a in v.attestations:
        print(f"{indent}attestation {a['predicate_type']} signed by {a['key']} (key {a['key_id']})")
    if v.sbom:
        how = f"signed by {v.sbom['signed_by']}" if v.sbom.get("signed_by") else "recomputed from the layers"
        also = f"; {v.sbom['recomputed']} recomputed from the layers" if v.sbom.get("signed_by") and \
            "recomputed" in v.sbom else ""
        print(f"{indent}SBOM: {v.sbom['packages']} packages ({v.sbom['distribution']}), {how}{also}")
    if v.audit:
        c = v.audit["counts"]
        print(f"{indent}FSDG audit: {v.audit['verdict']} ({c['free']} free, {c['nonfree']} nonfree, "
              f"{c['unknown']} unknown)")
    if v.rebuilders:
        r = v.rebuilders
        print(f"{indent}rebuilders: reproduced by {len(r['reproduced_by'])} of {r['keys']} keys "
              f"(threshold {r['threshold']})" + "".join(f"; key {k}" for k in r["reproduced_by"]))
        for f in r["failed"]:
            print(f"{indent}rebuilders: key {f['key_id']} ({f['verifier']}) says {f['result']}: rebuilt {f['rebuilt']}")
    if v.rebuild:
        print(f"{indent}rebuild from {v.rebuild.get('lock') or 'the catalog'}: "
              f"{'reproduced' if v.rebuild['reproduced'] else 'DIFFERS'} ({v.rebuild['rebuilt']})")
