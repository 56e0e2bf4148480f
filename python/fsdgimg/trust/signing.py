"""`fsdgimg sign`: sign a published image's manifest digest, adding to the signatures already there.

A multi-platform index is signed as `cosign sign --recursive` signs it: every manifest it lists
(each platform's image, and those of a nested index) and the index itself, each at its own
`sha256-<hex>.sig` tag. Clients need both: podman or `skopeo copy` of one platform checks that
platform's manifest's signature; `skopeo copy --all` checks the index's and every child's.
"""

from __future__ import annotations

from pathlib import Path

from fsdgimg.errors import InputError
from fsdgimg.oci.digest import Digest
from fsdgimg.signature import artifacts, cosign, keys
from fsdgimg.trust import attach
from fsdgimg.trust.remote import Target, to_sign


def existing_signatures(target: Target, digest: Digest) -> list[tuple[dict, bytes]]:
    """(layer, payload) of every simple-signing layer already at the `.sig` tag."""
    found = target.manifest(cosign.signature_tag(digest))
    if found is None:
        return []
    where = f"{target.display}: {cosign.signature_tag(digest)}"
    return [(l, target.blob(l["digest"], cosign.MAX_PAYLOAD)) for l in cosign.signature_layers(found[0], where)]


def sign_sigstore(target: Target, key_file: Path, identity: str | None = None, *,
                  recursive: bool = True) -> dict:
    """Sign the manifest `target` names; for an index, with `recursive`, every manifest below it
    first (children before the index: no index is ever signed over an unsigned child)."""
    key = keys.load_private_key(key_file)
    digest, children = to_sign(target, recursive)
    repository = identity or target.repository
    signed_children = []
    for child in children:
        out = _sign_digest(target.with_reference(str(child.digest)), key, child.digest, repository)
        out["platform"] = child.platform
        signed_children.append(out)
    out = _sign_digest(target, key, digest, repository)
    if signed_children:
        out["children"] = signed_children
    return out


def _sign_digest(target: Target, key, digest: Digest, repository: str) -> dict:
    data = cosign.payload(repository, digest)
    signature = keys.sign(key, data)
    layers = existing_signatures(target, digest)
    public = key.public_key()
    # One signature per key and identity: re-signing replaces this key's earlier layer.
    kept = [(l, p) for l, p in layers
            if not (p == data and keys.verify(public, p, cosign.decode_signature(
                l["annotations"][cosign.SIGNATURE_ANNOTATION], target.display)))]
    all_layers = [l for l, _ in kept] + [cosign.layer(data, signature)]
    payloads = [p for _, p in kept] + [data]
    config = cosign.config_blob(all_layers)
    manifest = artifacts.manifest_bytes(config, artifacts.OCI_CONFIG, all_layers)
    tag = cosign.signature_tag(digest)
    if target.kind == "static":  # the tree's page names the signer: it checks against the keys recorded
        from fsdgimg.transports.static.signers import record_sigstore_key
        record_sigstore_key(target.root, public)
    written = attach.write(target, tag, manifest, [config, *dict.fromkeys(payloads)])
    return {"image": target.display, "digest": str(digest), "identity": repository,
            "key": keys.key_id(key), "signature": f"{target.with_reference(tag).display}",
            "signature_digest": written, "signatures": len(all_layers)}


def verify_sigstore(target: Target, public_keys: list[Path], digest: Digest | None = None) -> list[dict]:
    """Every signature at the `.sig` tag that one of `public_keys` made over THIS digest (`digest`:
    the manifest's, when the caller has just fetched and checked it). Raises with one line when
    there are none."""
    digest = digest or target.resolve()
    pubs = [(p, keys.load_public_key(p)) for p in public_keys]
    tag = cosign.signature_tag(digest)
    where = f"{target.display}: {tag}"
    good, problems = [], []
    for layer, data in existing_signatures(target, digest):
        signature = cosign.decode_signature(layer["annotations"][cosign.SIGNATURE_ANNOTATION], where)
        for (path, pub), ref, claimed in cosign.verified_claims(data, signature, pubs, where):
            if claimed != str(digest):
                problems.append(f"signature by {path} is for {claimed}, not {digest}")
            elif ref != target.repository and target.kind == "docker":
                problems.append(f"signature by {path} names {ref}, not {target.repository}")
            else:
                good.append({"key": str(path), "key_id": keys.key_id(pub), "identity": ref})
    if not good:
        detail = "; ".join(problems) if problems else \
            ("no signature by the given keys" if existing_signatures(target, digest) else "no signatures")
        named = target.display if target.reference == str(digest) else f"{target.display}: {digest}"
        raise InputError(f"{named}: {detail}")
    return good
