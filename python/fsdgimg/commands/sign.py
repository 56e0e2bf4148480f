"""fsdgimg sign REF --key KEY | --generate-key PREFIX"""

from __future__ import annotations

import argparse
from pathlib import Path

from fsdgimg.commands.options import add_insecure, add_json, require_identity
from fsdgimg.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("sign", help="sign a published image's manifest digest (cosign's format)",
                       description="REF: docker://HOST/NAME[:TAG|@DIGEST] or static:DIR/NAME[:TAG]. "
                                   "Signs the manifest digest with an ECDSA P-256 key (cosign's key "
                                   "files work; the password comes from COSIGN_PASSWORD) and stores the "
                                   "signature as cosign does, at the tag sha256-<hex>.sig of the same "
                                   "repository; `cosign verify --key` and podman/skopeo with a "
                                   "sigstoreSigned policy check it. A multi-platform index is signed "
                                   "as `cosign sign --recursive` signs it: every manifest it lists (each "
                                   "platform's image) and then the index itself, each at its own .sig tag "
                                   "(a client pulling one platform checks that platform's signature). "
                                   "With --generate-key PREFIX, write PREFIX.key (encrypted like "
                                   "cosign's) and PREFIX.pub instead.")
    p.add_argument("ref", nargs="?", metavar="REF")
    p.add_argument("--key", type=Path, help="private key (cosign.key, or PEM)")
    p.add_argument("--gpg-key", metavar="KEYID",
                   help="sign with this OpenPGP key instead (gpg; containers simple signing; an index: "
                        "every manifest it lists too, as with --key)")
    p.add_argument("--lookaside", type=Path, metavar="DIR",
                   help="with --gpg-key: the lookaside directory a web server serves (registries.d lookaside); "
                        "default for static:DIR/NAME: the tree's own DIR/sigstore/")
    p.add_argument("--gnupghome", type=Path, help="with --gpg-key: gpg's home directory")
    p.add_argument("--generate-key", type=Path, metavar="PREFIX", help="make a key pair and stop")
    p.add_argument("--identity", metavar="HOST/NAME",
                   help="the repository the signature names (default: the registry's HOST/NAME; "
                        "for a static tree, where it is served)")
    p.add_argument("--recursive", action=argparse.BooleanOptionalAction, default=True,
                   help="an index: sign every manifest it lists too (default); --no-recursive signs the "
                        "index alone, as cosign does without --recursive")
    add_insecure(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from fsdgimg.signature import keys
    if args.generate_key:
        key, pub = keys.generate(args.generate_key)
        if args.json:
            from fsdgimg.commands.options import emit_json
            emit_json({"private_key": str(key), "public_key": str(pub)})
        else:
            print(f"{key} (private, encrypted with COSIGN_PASSWORD) and {pub}")
        return 0
    if not args.ref or not (args.key or args.gpg_key):
        raise UsageError("sign needs REF and --key or --gpg-key (or --generate-key PREFIX)")
    if args.gpg_key and not args.lookaside and not args.ref.startswith("static:"):
        raise UsageError("--gpg-key needs --lookaside DIR, where the signatures are served from "
                         "(an image in a static tree is signed into the tree's own sigstore/)")
    from fsdgimg.trust.remote import target
    t = target(args.ref, insecure=args.insecure)
    require_identity(t, args.identity, args.ref)
    if args.gpg_key:
        from fsdgimg.trust.openpgp import sign_openpgp
        out = sign_openpgp(t, args.gpg_key, args.lookaside, identity=args.identity, homedir=args.gnupghome,
                           recursive=args.recursive)
        if args.json:
            from fsdgimg.commands.options import emit_json
            emit_json(out)
        else:
            for one in out.get("children", []):
                print(f"  {one['platform'] or one['digest']}: {one['digest']} ({one['signature']})")
            print(f"{out['image']} {out['digest']}: signed by OpenPGP key {out['fingerprint']}"
                  f"{' (' + out['uid'] + ')' if out['uid'] else ''} for {out['identity']} ({out['signature']}"
                  f"{'; the %d manifests it lists too' % len(out['children']) if out.get('children') else ''})")
        return 0
    from fsdgimg.trust.signing import sign_sigstore
    out = sign_sigstore(t, args.key, args.identity, recursive=args.recursive)
    if args.json:
        from fsdgimg.commands.options import emit_json
        emit_json(out)
    else:
        for one in out.get("children", []):
            print(f"  {one['platform'] or one['digest']}: {one['digest']} "
                  f"({one['signatures']} signature{'s' * (one['signatures'] > 1)} at {one['signature']})")
        below = f"; the {len(out['children'])} manifests it lists too" if out.get("children") else ""
        print(f"{out['image']} {out['digest']}: signed by key {out['key']} for {out['identity']} "
              f"({out['signatures']} signature{'s' * (out['signatures'] > 1)} at {out['signature']}{below})")
    return 0
