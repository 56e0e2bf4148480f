"""fsdgimg attest REF --key KEY --predicate FILE --type T"""

from __future__ import annotations

from pathlib import Path

from fsdgimg.commands.options import add_insecure, add_json, require_identity

MAX_PREDICATE = 32 << 20


def register(sub) -> None:
    p = sub.add_parser("attest", help="sign an in-toto attestation about a published image (cosign's format)",
                       description="REF: docker://HOST/NAME[:TAG|@DIGEST] or static:DIR/NAME[:TAG]. Wraps the "
                                   "predicate (a JSON file: an SPDX document, an FSDG audit report, SLSA "
                                   "provenance, a verification summary…) in an in-toto Statement v1 about "
                                   "REF's manifest digest, signs it in a DSSE envelope with a cosign-format "
                                   "key (password from COSIGN_PASSWORD) and adds it to the image's "
                                   "sha256-<hex>.att tag, as cosign attest does: `cosign verify-attestation "
                                   "--key` and `fsdgimg verify` accept it. The key's earlier attestation of "
                                   "the same type is replaced; others are kept.")
    p.add_argument("ref", metavar="REF")
    p.add_argument("--key", type=Path, required=True, metavar="KEY", help="private key (cosign.key, or PEM)")
    p.add_argument("--predicate", type=Path, required=True, metavar="FILE", help="the predicate, a JSON file")
    p.add_argument("--type", required=True, metavar="T",
                   help="spdxjson, fsdg-audit, slsaprovenance1, vsa, or a predicate type URI (https://…)")
    p.add_argument("--identity", metavar="HOST/NAME",
                   help="the name the statement gives the image (default: the registry's HOST/NAME; "
                        "needed for a static tree: where it is served)")
    add_insecure(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from fsdgimg.errors import InputError
    from fsdgimg.oci.jsonio import load_json
    from fsdgimg.signature import intoto, keys
    from fsdgimg.trust.attesting import attest
    from fsdgimg.trust.remote import target
    ptype = intoto.predicate_type(args.type)
    try:
        with open(args.predicate, "rb") as f:
            data = f.read(MAX_PREDICATE + 1)
    except OSError as e:
        raise InputError(f"--predicate {args.predicate}: {e.strerror}") from None
    predicate = load_json(data, f"--predicate {args.predicate}", MAX_PREDICATE)
    t = target(args.ref, insecure=args.insecure)
    require_identity(t, args.identity, args.ref)
    key = keys.load_private_key(args.key)
    out = attest(t, key, ptype, predicate, identity=args.identity)
    if args.json:
        from fsdgimg.commands.options import emit_json
        emit_json(out)
    else:
        print(f"{out['image']} {out['digest']}: attested {out['predicate_type']} by key {out['key']} "
              f"for {out['subject']} ({out['attestations']} attestation{'s' * (out['attestations'] > 1)} "
              f"at {out['attestation']})")
    return 0
