"""fsdgimg rebuild REF|LOCK [--key PUB] [--inputs DIR] [--attest-key KEY --publish-to DEST]"""

from __future__ import annotations

import sys
from pathlib import Path

from fsdgimg.commands.options import (
    add_insecure,
    add_json,
    add_platform,
    add_rebuild_inputs,
    add_tools,
)


def register(sub) -> None:
    p = sub.add_parser("rebuild", help="build an image again from its lock and say whether it reproduces",
                       description="REF: docker://HOST/NAME[:TAG|@DIGEST] or static:DIR/NAME[:TAG] (its lock is "
                                   "read from its SLSA provenance, which must be signed by --key), or a lock "
                                   "file (LOCK.json: fsdgimg/lock.json of a build's layout). Builds from exactly "
                                   "the locked inputs — a local apt repository of the locked .debs, each "
                                   "checked against its SHA256 — never from today's catalog, and compares the "
                                   "digest with the one the image records (org.fsdgimg.built). With "
                                   "--attest-key, publishes the outcome as a signed SLSA verification summary "
                                   "about the image (an independent rebuilder's word; `verify --rebuilder-key "
                                   "--threshold` counts them). Exit status 0 only when it reproduces.")
    p.add_argument("ref", metavar="REF|LOCK")
    p.add_argument("--key", type=Path, action="append", default=[], metavar="PUB",
                   help="the distribution's public key: the lock in REF's provenance counts only when it signed it")
    add_rebuild_inputs(p)
    add_tools(p, "as for 'fsdgimg build --tools' (a rebuild from a lock runs mmdebstrap)")
    add_platform(p, "OS/ARCH[/VARIANT]: of a multi-platform index, rebuild only this platform")
    p.add_argument("--attest-key", type=Path, metavar="KEY",
                   help="sign the outcome as a verification summary (cosign-format key; COSIGN_PASSWORD)")
    p.add_argument("--publish-to", metavar="DEST",
                   help="with --attest-key: where the attestation goes — REF's own registry or tree (default), "
                        "or your own static:DIR/NAME or docker://HOST/NAME")
    p.add_argument("--identity", metavar="HOST/NAME",
                   help="the name the attestation gives the image (default: REF's HOST/NAME; needed for a "
                        "static tree: where it is served)")
    add_insecure(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from fsdgimg.errors import UsageError
    if args.publish_to and not args.attest_key:
        raise UsageError("--publish-to goes with --attest-key")
    if Path(args.ref).is_file() and ":" not in args.ref.split("/")[0]:
        return _rebuild_lock_file(args)
    from fsdgimg.build.rebuild import rebuild_published
    from fsdgimg.signature.keys import load_private_key
    from fsdgimg.trust.remote import index_children, target
    key = load_private_key(args.attest_key) if args.attest_key else None   # before building: a wrong password fails now
    t = target(args.ref, insecure=args.insecure)
    if key is not None:
        _check_identity(t, args)
    found = t.manifest()
    if found is None:
        raise UsageError(f"{t.display}: no such image")
    data, media_type, digest = found
    images = [(None, t, data, digest)]
    children = index_children(data, media_type, f"{t.display}: index")
    if children is not None:
        chosen = [c for c in children if not c.is_index and c.platform != "unknown/unknown"
                  and (not args.platform or c.platform.startswith(args.platform))]
        if not chosen:
            raise UsageError(f"{t.display}: no platform {args.platform or ''} to rebuild in the index".replace("  ", " "))
        images = []
        for c in chosen:
            one = t.with_reference(str(c.digest))
            got = one.manifest()
            if got is None:
                raise UsageError(f"{one.display}: listed by the index but missing")
            images.append((c.platform, one, got[0], got[2]))
    results = []
    for platform, one, manifest, d in images:
        outcome = rebuild_published(one, manifest, d, platform, keys=args.key, inputs=args.inputs,
                                    lock_file=args.lock, tools=args.tools, from_catalog=args.from_catalog,
                                    catalog_path=args.catalog)
        outcome = {"image": one.display, "digest": str(d), **({"platform": platform} if platform else {}), **outcome}
        if key is not None:
            outcome["attestation"] = _attest(one, d, outcome, key, args)
        results.append(outcome)
    return _report(args, results)


def _rebuild_lock_file(args) -> int:
    from fsdgimg.build.rebuild import build_from_lock, fetcher, lock_of_file
    from fsdgimg.errors import UsageError
    if args.attest_key or args.lock or args.from_catalog:
        raise UsageError("a lock file alone names no image to attest or compare: give REF (and --lock FILE)")
    found = lock_of_file(Path(args.ref))
    rebuilt = build_from_lock(found.lock, fetcher(found.lock, inputs=args.inputs), tools=args.tools)
    result = {"entry": found.lock.entry["name"], "lock": found.source, "rebuilt": rebuilt, "from": "lock"}
    if args.json:
        from fsdgimg.commands.options import emit_json
        emit_json(result)
    else:
        print(f"{found.lock.entry['name']}: rebuilt {rebuilt} from {found.source}")
    return 0


def _check_identity(t, args) -> None:
    if t.kind == "static" and not args.identity and not (args.publish_to or "").startswith("docker://"):
        from fsdgimg.errors import UsageError
        raise UsageError("--attest-key for a static tree needs --identity HOST[:PORT]/NAME, where users pull it")


def _attest(image_target, digest, outcome: dict, key, args) -> dict:
    """The rebuilder's verdict, signed, beside the image or in the rebuilder's own place."""
    from fsdgimg.build.provenance import rebuild_summary
    from fsdgimg.signature import intoto
    from fsdgimg.trust.attesting import attest
    dest = image_target
    if args.publish_to:
        from fsdgimg.trust.remote import own_place
        dest = own_place(args.publish_to, image_target.name, insecure=args.insecure, create=True)
    summary = rebuild_summary(image_target.name, str(digest), outcome)
    return attest(dest, key, intoto.VSA, summary, digest=digest,
                  identity=args.identity or (image_target.repository if image_target.kind == "docker" else None))


def _report(args, results: list[dict]) -> int:
    ok = all(r["reproduced"] for r in results)
    if args.json:
        from fsdgimg.commands.options import emit_json
        emit_json(results[0] if len(results) == 1 else {"platforms": results, "reproduced": ok})
        return 0 if ok else 1
    for r in results:
        where = f" {r['platform']}" if r.get("platform") else ""
        how = f"from {r.get('lock') or 'the catalog'}"
        if r["reproduced"]:
            print(f"{r['image']}{where}: reproduced {r['rebuilt']} {how}")
        else:
            print(f"{r['image']}{where}: DIFFERS: rebuilt {r['rebuilt']} {how}, the image records {r['published']}")
        if r.get("attestation"):
            print(f"  attested by key {r['attestation']['key']} at {r['attestation']['attestation']}")
    if not ok:
        print("fsdgimg rebuild: the rebuild does not reproduce the published image", file=sys.stderr)
    return 0 if ok else 1
