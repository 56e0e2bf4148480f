"""Signed attestations: an in-toto statement about one manifest digest, in a DSSE envelope signed
with a cosign-format key, stored as cosign stores it — a layer of the `sha256-<hex>.att` image in
the image's repository, on a registry or in a static tree, and on a registry with the referrers
API also as a sigstore bundle referring to the image (trust/bundles.py) — so that `cosign
verify-attestation --key` accepts what `fsdgimg attest` (and `build`/`publish --sign-key`) write,
in either of cosign's formats, and `fsdgimg verify` accepts what cosign writes.

Reading trusts nothing: an attestation counts only when its envelope verifies against one of the
given keys, its statement names this digest, and its predicate type is the one its layer
declares. Every other layer is reported (one line each) and skipped, so a mirror that adds forged
layers spoils only those.
"""

from __future__ import annotations

import concurrent.futures as cf
from dataclasses import dataclass
from pathlib import Path

from fsdgimg.errors import FsdgimgError, InputError
from fsdgimg.oci.digest import Digest
from fsdgimg.signature import artifacts, bundle, cosign, dsse, intoto, keys
from fsdgimg.trust import attach, bundles
from fsdgimg.trust.remote import Target


def _existing(target: Target, digest: Digest) -> list[tuple[dict, bytes]]:
    """(layer, envelope) of the attestations already at the `.att` tag, to keep beside a new one."""
    tag = cosign.attestation_tag(digest)
    found = target.manifest(tag)
    if found is None:
        return []
    where = f"{target.display}: {tag}"
    out = []
    for layer in cosign.attestation_layers(found[0], where):
        blob, size, _ = cosign.check_attestation_layer(layer, where)
        out.append((layer, target.blob(blob, size)))
    return out


def attest(target: Target, key, predicate_type: str, predicate, *, digest: Digest | None = None,
           identity: str | None = None) -> dict:
    """Sign `predicate` (a JSON value) as a statement about `digest` (default: what `target` names)
    and add it to the image's `.att` tag. `key`: a loaded private key. This key's earlier
    attestation of the same predicate type is replaced; everything else there is kept."""
    return attest_all(target, key, [(predicate_type, predicate)], digest=digest, identity=identity)[0]


def attest_all(target: Target, key, predicates: list[tuple[str, object]], *,
               digest: Digest | None = None, identity: str | None = None) -> list[dict]:
    """Several attestations of one image by one (loaded) key, written as one new `.att` manifest.
    `key` None: envelopes without a signature, for a distribution that signs the `.att` manifest
    with OpenPGP instead (publishing.after_publish)."""
    digest = digest or target.resolve()
    subject = identity or target.repository
    public = key.public_key() if key is not None else None
    # What the .att tag holds already, and whether the registry has the referrers API, are asked
    # while the statements are made and signed (requests wait on the network, signing on the CPU).
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        existing = pool.submit(_existing, target, digest)
        has_api = pool.submit(bundles.registry_has_referrers_api, target, digest) if public is not None else None
        made = []
        for ptype, predicate in predicates:
            body = intoto.statement(subject, digest, ptype, predicate)
            sigs = [keys.sign(key, dsse.pae(dsse.IN_TOTO, body))] if key is not None else []
            made.append((ptype, dsse.envelope(body, sigs)))
        referrers = has_api is not None and has_api.result()
        kept = [(l, e) for l, e in existing.result()
                if not any(_same(l, e, ptype, public) for ptype, _ in made)]
    layers = [l for l, _ in kept] + [cosign.attestation_layer(e, ptype) for ptype, e in made]
    config = cosign.config_blob(layers)
    manifest = artifacts.manifest_bytes(config, artifacts.OCI_CONFIG, layers)
    tag = cosign.attestation_tag(digest)
    if target.kind == "static" and public is not None:    # the page names the signer: keys recorded
        from fsdgimg.transports.static.signers import record_sigstore_key
        record_sigstore_key(target.root, public)
    # A signed envelope is new bytes every time (ECDSA signatures are randomised), and so is the
    # config listing it: the push sends them without asking the registry whether it has them.
    fresh = [config, *(e for _, e in made)] if key is not None else []
    written = attach.write(target, tag, manifest, [config, *dict.fromkeys([e for _, e in kept + made])],
                           unseen=fresh)
    where = target.with_reference(tag).display
    new_layers = layers[len(kept):]
    out = [{"image": target.display, "digest": str(digest), "predicate_type": ptype, "subject": subject,
            "key": keys.key_id(key) if key is not None else None, "attestation": where,
            "attestation_digest": written,
            "envelope": layer["digest"], "attestations": len(layers)}
           for (ptype, _), layer in zip(made, new_layers)]
    if referrers:
        _as_referrers(target, digest, public, made, out)
    return out


def _as_referrers(target: Target, digest: Digest, public, made: list[tuple[str, bytes]], out: list[dict]) -> None:
    """The same envelopes as sigstore bundles referring to the image (trust/bundles.py), then this
    key's earlier bundles of the same types removed (after: never a moment with none)."""
    found = target.manifest(str(digest))
    if found is None:
        raise InputError(f"{target.display}: {digest} vanished while it was attested")
    data, media_type, _ = found
    earlier = _own_bundles(target, digest, public, {ptype for ptype, _ in made})
    written = bundles.write(target, {"mediaType": media_type, "digest": str(digest), "size": len(data)}, made,
                            bundle.key_hint(public))
    kept = [d for d in earlier if d not in written and not bundles.delete(target, d)]
    for result, referrer in zip(out, written):
        result["referrer"] = referrer
        if kept:
            result["referrers_kept"] = kept      # replaced, but the registry refuses deletes


def _own_bundles(target: Target, digest: Digest, public, types: set[str]) -> list[str]:
    """Manifest digests of the bundle referrers of `digest` of these types that `public` signed."""
    listed, _, _ = bundles.listed(target, digest)
    out = []
    for item in listed:
        if item.predicate_type not in types:
            continue
        try:
            env = bundle.envelope_of(target.blob(item.blob, item.size), item.where)
        except FsdgimgError:
            continue
        if any(keys.verify(public, env.signed_bytes(), s) for s in env.signatures):
            out.append(item.manifest_digest)
    return out


def _same(layer: dict, envelope: bytes, predicate_type: str, public) -> bool:
    """Is this layer an attestation of `predicate_type` by `public`'s key (which a new one replaces)?"""
    if layer.get("annotations", {}).get(cosign.PREDICATE_TYPE_ANNOTATION) != predicate_type:
        return False
    try:
        env = dsse.parse(envelope, "attestation")
    except InputError:
        return False
    if public is None:       # an unsigned envelope (OpenPGP mode) replaces an unsigned one
        return not env.signatures
    return any(keys.verify(public, env.signed_bytes(), s) for s in env.signatures)


@dataclass
class Verified:
    """An attestation that holds: signed by `key`, about the digest asked, of `predicate_type`."""
    predicate_type: str
    predicate: object
    key: str            # the public key file that verified it
    key_id: str
    envelope: str       # the envelope's digest (the .att layer)
    subject: str        # the name the statement gives the image

    def to_json(self) -> dict:
        return {"predicate_type": self.predicate_type, "key": self.key, "key_id": self.key_id,
                "envelope": self.envelope, "subject": self.subject}


def verified_attestations(target: Target, public_keys: list[Path], digest: Digest,
                          predicate_types: set[str] | None = None) -> tuple[list[Verified], list[str]]:
    """Every attestation about `digest` that holds (see the module's docstring) — the layers of its
    `.att` tag, then the sigstore bundles that refer to it (trust/bundles.py) whose statement is not
    one of those already — and a line for each one that does not. `predicate_types`: only these
    (None: all)."""
    pubs = [(p, keys.load_public_key(p)) for p in public_keys]
    good: list[Verified] = []
    problems: list[str] = []
    seen: set[Digest] = set()           # statements already trusted: a bundle of the same is no news
    tag = cosign.attestation_tag(digest)
    found = target.manifest(tag)
    where = f"{target.display}: {tag}"
    for n, layer in enumerate(cosign.attestation_layers(found[0], where) if found else [], 1):
        here = f"{where} layer {n}"
        try:
            blob, size, declared = cosign.check_attestation_layer(layer, here)
            if predicate_types is not None and declared not in predicate_types:
                continue
            env = dsse.parse(target.blob(blob, size), here)
            good.append(_holds(env, pubs, declared, digest, blob, here))
            seen.add(Digest.of(env.body))
        except FsdgimgError as e:
            problems.append(str(e))
    listed, unlisted, _ = bundles.listed(target, digest)
    problems += unlisted
    for item in listed:
        try:
            if predicate_types is not None and item.predicate_type not in predicate_types:
                continue
            env = bundle.envelope_of(target.blob(item.blob, item.size), item.where)
            if Digest.of(env.body) in seen:
                continue
            good.append(_holds(env, pubs, item.predicate_type, digest, item.manifest_digest, item.where))
            seen.add(Digest.of(env.body))
        except FsdgimgError as e:
            problems.append(str(e))
    return good, problems


def _holds(env: dsse.Envelope, pubs: list, declared: str, digest: Digest, name: str, here: str) -> Verified:
    """The attestation an envelope makes, when it holds: signed by one of `pubs`, of the type its
    listing declares, about `digest`. Else one line (InputError)."""
    signer = next(((path, pub) for path, pub in pubs for s in env.signatures
                   if keys.verify(pub, env.signed_bytes(), s)), None)
    if signer is None:
        raise InputError(f"{here} ({declared[:80]}): not signed by the given keys")
    statement = intoto.parse(env.body, here)
    if statement.predicate_type != declared:
        raise InputError(f"{here}: statement of type {statement.predicate_type[:80]}, listed as "
                         f"{declared[:80]}")
    if not statement.names(digest):
        named = ", ".join(d for _, d in statement.subjects[:3]) or "nothing"
        raise InputError(f"{here} ({declared[:80]}): about {named[:200]}, not {digest}")
    return Verified(statement.predicate_type, statement.predicate, str(signer[0]), keys.key_id(signer[1]), name,
                    next((name for name, d in statement.subjects if d == str(digest)), ""))


def openpgp_attestations(target: Target, digest: Digest, check,
                         predicate_types: set[str] | None = None) -> tuple[list[Verified], list[str]]:
    """The attestations an OpenPGP key vouches for: the `.att` manifest's digest signed in the
    containers simple-signing format in the lookaside (as images are), naming the image's
    repository; each layer it lists (pinned by that digest) then counts when its statement names
    this digest and has the type its layer declares. `check`: an openpgp_verify.OpenPGPCheck."""
    from fsdgimg.trust.openpgp_verify import verify_openpgp
    tag = cosign.attestation_tag(digest)
    found = target.manifest(tag)
    if found is None:
        return [], []
    data, _, manifest_digest = found
    where = f"{target.display}: {tag}"
    good_sigs, problems = verify_openpgp(check, target.with_reference(str(manifest_digest)), manifest_digest,
                                         by_digest=True)
    if not good_sigs:
        return [], [f"{where}: no OpenPGP signature of the attestations by the keyring"
                    + (f" ({problems[0]})" if problems else "")]
    signer = good_sigs[0]
    good: list[Verified] = []
    for n, layer in enumerate(cosign.attestation_layers(data, where), 1):
        here = f"{where} layer {n}"
        try:
            blob, size, declared = cosign.check_attestation_layer(layer, here)
            if predicate_types is not None and declared not in predicate_types:
                continue
            statement = intoto.parse(dsse.parse(target.blob(blob, size), here).body, here)
            if statement.predicate_type != declared:
                raise InputError(f"{here}: statement of type {statement.predicate_type[:80]}, listed as "
                                 f"{declared[:80]}")
            if not statement.names(digest):
                raise InputError(f"{here} ({declared[:80]}): not about {digest}")
        except FsdgimgError as e:
            problems.append(str(e))
            continue
        good.append(Verified(statement.predicate_type, statement.predicate, f"OpenPGP {signer['fingerprint']}",
                             signer["fingerprint"], blob,
                             next((name for name, d in statement.subjects if d == str(digest)), "")))
    return good, problems
