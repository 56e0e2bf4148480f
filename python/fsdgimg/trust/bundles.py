"""Attestations as OCI 1.1 referrers: each envelope also in a sigstore bundle attached to the image
(signature/bundle.py), as cosign 3 stores attestations on a registry with the referrers API.

Written only where the registry implements the referrers API (`GET /v2/NAME/referrers/DIGEST`
answers an index): there cosign 3's default (`--new-bundle-format`) and other bundle readers look
first. The `.att` tag is written as well, everywhere: it is what cosign 2, admission controllers and
`fsdgimg sync` read, and it is the one place a static tree and a registry without the API have. A
key's new bundle of a type replaces (DELETE) its earlier ones of that type, as its `.att` layer is
replaced; a registry that refuses deletes keeps them (said in the report).

Read wherever referrers are listed (the API, the referrers tag schema, a static tree's listing), so
that `fsdgimg verify` takes what `cosign attest` writes with either format. Nothing listed is
trusted: trust/attesting.py checks each envelope as it checks a `.att` layer.
"""

from __future__ import annotations

import concurrent.futures as cf
from dataclasses import dataclass

from fsdgimg.errors import FsdgimgError, InputError
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import load_json
from fsdgimg.signature import artifacts, bundle, cosign
from fsdgimg.trust import attach, attachments
from fsdgimg.trust.remote import Target

# The bundles examined per image: as many as a .att manifest may list. More is a hostile listing.
MAX_BUNDLES = cosign.MAX_ATTESTATIONS


def registry_has_referrers_api(target: Target, digest: Digest) -> bool:
    """Does the registry answer the referrers API? Any refusal (a 403 on a path it keeps to itself,
    a 5xx) counts as no: the `.att` tag is written anyway, so the bundles are only what is lost."""
    if target.kind != "docker":
        return False
    try:
        return attachments._registry_has_referrers_api(target, digest)
    except FsdgimgError:
        return False


@dataclass
class Listed:
    """A bundle artifact that names the image as its subject, read but not trusted."""
    manifest_digest: str
    predicate_type: str        # what its annotation declares
    where: str
    blob: str
    size: int


def listed(target: Target, digest: Digest) -> tuple[list[Listed], list[str], str | None]:
    """The sigstore bundle artifacts referring to `digest`, each checked in shape (its manifest
    names this subject and is a bundle artifact), with a line for each that is not, and how they
    were listed (attachments.REFERRERS_API, TAG_SCHEMA, STATIC_TREE; None: nothing listed)."""
    try:
        found = attachments.referrers(target, digest)
    except FsdgimgError as e:
        return [], [f"sigstore bundles: {e}"], None
    # A bundle is listed with its artifactType; a registry that lists the config's media type
    # instead (go-containerregistry's registry) lists it as the empty type: read its manifest.
    candidates = [d for d in found.descriptors
                  if d.get("artifactType") in (*bundle.MEDIA_TYPES, artifacts.EMPTY_CONFIG_TYPE, None)]
    problems = []
    if len(candidates) > MAX_BUNDLES:
        problems.append(f"{target.display}: {len(candidates)} possible sigstore bundles listed for {digest.short}; "
                        f"only the first {MAX_BUNDLES} read")
        candidates = candidates[:MAX_BUNDLES]
    out = []
    for desc in candidates:
        where = f"{target.display}: referrer {str(desc.get('digest'))[:80]}"
        try:
            got = target.manifest(str(Digest.parse(str(desc["digest"]))))
            if got is None:
                raise InputError(f"{where}: listed but missing")
            obj = load_json(got[0], where, 4 << 20)
            if not bundle.is_bundle_artifact(obj):
                continue            # an unsigned attachment: attachments.py's business
            subject = obj.get("subject") if isinstance(obj.get("subject"), dict) else {}
            if subject.get("digest") != str(digest):
                raise InputError(f"{where}: its subject is {str(subject.get('digest'))[:80]}, not {digest}")
            blob, size, ptype = bundle.bundle_layer(obj, where)
        except (FsdgimgError, ValueError) as e:
            problems.append(str(e))
            continue
        out.append(Listed(str(got[2]), ptype, where, blob, size))
    return out, problems, found.via


def write(target: Target, subject: dict, made: list[tuple[str, bytes]], hint: str) -> list[str]:
    """Attach each (predicate type, signed envelope) of `made` to the image `subject` describes,
    as a bundle referrer, all at once (each is a few requests of latency); their manifest digests."""
    def one(item: tuple[str, bytes]) -> str:
        ptype, envelope = item
        data = bundle.bundle(envelope, hint)
        manifest = bundle.referrer_manifest(subject, data, ptype)
        # The bundle is new bytes (it holds a new signature); the empty config is usually there.
        return attach.write(target, None, manifest, [artifacts.EMPTY_CONFIG, data], unseen=[data])
    if len(made) <= 1:
        return [one(m) for m in made]
    with cf.ThreadPoolExecutor(max_workers=len(made), thread_name_prefix="bundle") as pool:
        return list(pool.map(one, made))


def delete(target: Target, manifest_digest: str) -> bool:
    """Remove a replaced bundle artifact; False when the registry does not allow deletes."""
    target.listings.clear()
    resp = target.client().request("DELETE", f"/v2/{target.name}/manifests/{manifest_digest}", ok=(202, 200),
                                   allow=(400, 403, 404, 405, 501), what=f"delete referrer {manifest_digest[:19]}")
    resp.close()
    return resp.status_code in (200, 202, 404)
