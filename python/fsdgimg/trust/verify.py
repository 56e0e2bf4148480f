"""`fsdgimg verify`: what a user checks before trusting an official image, without trusting the
mirror that serves it — signatures by the distribution's keys, the bill of materials and FSDG
audit the distribution signed about it (in-toto attestations, trust/attesting.py) or that the user
recomputes from its layers, and (with a rebuild) that the catalog reproduces the same bits.

Every check asked for must hold; each failure is one line. Nothing unsigned is trusted: unsigned
attachments and attestations that do not verify are listed as ignored, one line each; sizes are
bounded, digests verified.

A multi-platform index is checked as a whole, the tree `sign` signs (nested indexes walked as
cosign's --recursive walks them): its own signature and every nested index's, then each platform's
image (or those --platform picks) as a single image — its signature, its SBOM and audit, attached
to it. A failure below the index names its path (`index sha256:… > linux/arm64`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fsdgimg.errors import FsdgimgError
from fsdgimg.signature import artifacts, intoto
from fsdgimg.trust import attachments as att
from fsdgimg.trust.remote import Child, Target, index_children, walk_tree

# (target, manifest bytes, its digest, architecture or None) -> {entry, published, rebuilt, reproduced}
Rebuild = Callable[[Target, bytes, object, str | None], dict]
# (where, digest) -> the Bom recomputed from the image's own layers (sbom.generate, handed in)
FromLayers = Callable[[str, object], object]

# The predicate types verify reads; an SBOM and an audit count only as these, signed.
ATTESTED = (intoto.SPDX, intoto.FSDG_AUDIT, intoto.SLSA_PROVENANCE, intoto.VSA)
UNSIGNED_NAMES = {artifacts.SBOM_TYPE: "SBOM", artifacts.AUDIT_TYPE: "audit report",
                  artifacts.CHECK_TYPE: "reproducibility report"}


@dataclass
class Verification:
    image: str
    digest: str
    platform: str | None = None          # a child of an index: its platform
    signatures: list[dict] = field(default_factory=list)
    openpgp_signatures: list[dict] = field(default_factory=list)   # verified with --gpg-keyring
    sbom: dict | None = None
    audit: dict | None = None
    rebuild: dict | None = None
    rebuilders: dict | None = None       # --rebuilder-key: who reproduced it (distinct keys), who failed
    attestations: list[dict] = field(default_factory=list)   # every attestation that holds
    ignored: list[str] = field(default_factory=list)         # unsigned or forged documents, one line each
    via: str | None = None               # how the attachments were found (attachments.REFERRERS_API…)
    failures: list[str] = field(default_factory=list)
    platforms: list["Verification"] | None = None   # an index: the verifications of every manifest below it
    index: bool = False                  # a nested index (its own signatures only)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict:
        out = {"image": self.image, "digest": self.digest, "verified": self.ok,
               "signatures": self.signatures, "openpgp_signatures": self.openpgp_signatures, "sbom": self.sbom, "audit": self.audit,
               "rebuild": self.rebuild, "rebuilders": self.rebuilders, "attestations": self.attestations, "ignored": self.ignored,
               "via": self.via, "failures": self.failures}
        if self.platform is not None:
            out = {"platform": self.platform, **out}
        if self.index:
            out["index"] = True
        if self.platforms is not None:
            out["platforms"] = [c.to_json() for c in self.platforms]
        return out


def verify(target: Target, *, keys: list[Path], require_sbom: bool = True, strict: bool = False,
           rebuild: Rebuild | None = None, platform: str | None = None, openpgp=None,
           attestation_keys: list[Path] | None = None, from_layers: FromLayers | None = None,
           rebuilders: "Rebuilders | None" = None) -> Verification:
    """`openpgp`: an OpenPGPCheck (trust/openpgp_verify.py) when OpenPGP signatures are required;
    `rebuild`: how to rebuild an image and compare (build/rebuild.py: trust does not build);
    `attestation_keys`: the keys an SBOM, audit or verdict must be signed by (default: `keys`);
    `from_layers`: recompute the SBOM from the image's layers (and compare with the signed one)."""
    attestation_keys = keys if attestation_keys is None else attestation_keys
    found = target.manifest()
    if found is None:
        raise FsdgimgError(f"{target.display}: no such image")
    data, media_type, digest = found
    children = index_children(data, media_type, f"{target.display}: index")
    if children is None:
        if platform:
            raise FsdgimgError(f"{target.display}: --platform {platform}: a single-platform image, not an index")
        return _verify_image(target, data, digest, keys=keys, require_sbom=require_sbom, strict=strict,
                             rebuild=rebuild, openpgp=openpgp, attestation_keys=attestation_keys,
                             from_layers=from_layers, rebuilders=rebuilders)
    v = Verification(target.display, str(digest), platforms=[])
    if keys:
        _check_signatures(target, keys, v, "index signature", digest)
    if openpgp:
        _check_openpgp(target, openpgp, v, "index OpenPGP signature", digest)
    # The tree `sign` signs (cosign's --recursive walk, its bounds), walked whole before anything is
    # checked: every nested index's own signature, and its images as single images. Not a build
    # tool's attestation manifest (unknown/unknown).
    tree = list(walk_tree(target, data, media_type))
    nested = [(c, parents) for c, parents in tree if c.is_index]
    chosen = [(c, parents) for c, parents in tree if not c.is_index and c.platform != "unknown/unknown"
              and (not platform or _matches(c.platform, platform))]
    if not chosen:
        listed = ", ".join(c.platform or "?" for c, _ in tree if not c.is_index) or "none"
        v.failures.append(f"no platform {platform} in the index (it has: {listed})" if platform else
                          "the index lists no image")
    for child, parents in chosen + nested:
        where = _path(child, parents)
        one = target.with_reference(str(child.digest))
        if child.is_index:          # present, its digest checked by the walk: its own signatures only
            cv = Verification(one.display, str(child.digest), platform=where, index=True)
            if keys:
                _check_signatures(one, keys, cv, "index signature", child.digest)
            if openpgp:
                _check_openpgp(one, openpgp, cv, "index OpenPGP signature", child.digest, by_digest=True)
        else:
            try:
                got = one.manifest()
            except FsdgimgError as e:       # e.g. a mirror serving other bytes under the child's digest
                v.failures.append(f"{where}: {e}")
                continue
            if got is None:
                v.failures.append(f"{where}: {one.display}: listed by the index but missing")
                continue
            cv = _verify_image(one, got[0], got[2], keys=keys, require_sbom=require_sbom, strict=strict,
                               rebuild=rebuild, platform=where, arch=child.platform, openpgp=openpgp,
                               attestation_keys=attestation_keys, from_layers=from_layers, rebuilders=rebuilders)
        v.platforms.append(cv)
        v.failures += [f"{where}: {line}" for line in cv.failures]
        v.ignored += [f"{where}: {line}" for line in cv.ignored]
    vias = {c.via for c in v.platforms if c.via}
    v.via = vias.pop() if len(vias) == 1 else (",".join(sorted(vias)) or None)
    return v


def _path(child: Child, parents: tuple[Child, ...]) -> str:
    """How a failure names a manifest of the tree: its platform, after the nested indexes that lead
    to it (an index without a platform by its short digest)."""
    def one(c: Child) -> str:
        if c.is_index:
            return f"index {c.digest.short}"
        return c.platform or c.digest.short
    return " > ".join(one(c) for c in (*parents, child)) if parents or child.is_index else child.platform


def _matches(have: str, want: str) -> bool:
    """linux/arm64 picks linux/arm64/v8 (as podman's --platform does); a variant, when given, must match."""
    h, w = have.split("/"), want.split("/")
    return h[:len(w)] == w


def _check_signatures(target: Target, keys: list[Path], v: Verification, what: str, digest) -> None:
    from fsdgimg.trust.signing import verify_sigstore
    try:
        v.signatures = verify_sigstore(target, keys, digest)
    except FsdgimgError as e:
        v.failures.append(f"{what}: {e}")


def _check_openpgp(target: Target, check, v: Verification, what: str, digest, by_digest: bool = False) -> None:
    from fsdgimg.trust.openpgp_verify import verify_openpgp
    try:
        v.openpgp_signatures, problems = verify_openpgp(check, target, digest, by_digest=by_digest)
    except FsdgimgError as e:       # the lookaside server misbehaved
        v.failures.append(f"{what}: {e}")
        return
    if not v.openpgp_signatures:
        v.failures += [f"{what}: {p}" for p in problems]


def _verify_image(target: Target, data: bytes, digest, *, keys, require_sbom, strict, rebuild: Rebuild | None,
                  platform: str | None = None, arch: str | None = None, openpgp=None,
                  attestation_keys: list[Path] = (), from_layers: FromLayers | None = None,
                  rebuilders: "Rebuilders | None" = None) -> Verification:
    """`platform`: how the index names this image (its path in the tree); `arch`: its own platform."""
    v = Verification(target.display, str(digest), platform=platform)
    if keys:
        _check_signatures(target, keys, v, "signature", digest)
    if openpgp:
        _check_openpgp(target, openpgp, v, "OpenPGP signature", digest, by_digest=platform is not None)
    if require_sbom:
        try:
            _check_sbom_and_audit(target, digest, v, strict, list(attestation_keys), from_layers, openpgp)
        except FsdgimgError as e:
            v.failures.append(str(e))
    if rebuilders is not None:
        try:
            _check_rebuilders(target, data, digest, v, rebuilders)
        except FsdgimgError as e:
            v.failures.append(f"rebuilders: {e}")
    if rebuild:
        try:
            v.rebuild = rebuild(target, data, digest, arch)
            if not v.rebuild["reproduced"]:
                v.failures.append(f"rebuild: {v.rebuild['entry']} rebuilt to {v.rebuild['rebuilt']}, "
                                  f"the published image is {v.rebuild['published']}")
        except FsdgimgError as e:
            v.failures.append(f"rebuild: {e}")
    return v


@dataclass
class Rebuilders:
    """`verify --rebuilder-key K … --threshold N [--rebuilders-from PLACE …]`."""
    keys: list[Path]
    threshold: int
    places: list[str] = field(default_factory=list)   # rebuilders' own trees or repositories
    insecure: bool = False


def _check_rebuilders(target: Target, data: bytes, digest, v: Verification, r: Rebuilders) -> None:
    """Pass when `r.threshold` distinct rebuilder keys each signed a rebuild verdict (a VSA of
    REBUILD_POLICY) saying they rebuilt this image's recorded digest: one key counts once however
    often it signed, and a verdict of failure is shown, never counted."""
    from fsdgimg.oci.jsonio import load_json
    from fsdgimg.trust import attesting
    from fsdgimg.trust.remote import own_place
    obj = load_json(data, f"{target.display}: manifest", 4 << 20)
    built = (obj.get("annotations") or {}).get("org.fsdgimg.built") if isinstance(obj, dict) else None
    if not built:
        raise FsdgimgError(f"{target.display}: the image does not record the digest it was built as")
    places = [target] + [own_place(p, target.name, insecure=r.insecure) for p in r.places]
    reproduced: dict[str, str] = {}
    failed: list[dict] = []
    for place in places:
        good, problems = attesting.verified_attestations(place, r.keys, digest, {intoto.VSA})
        v.ignored += [f"rebuilder attestation: {p}" for p in problems]
        for a in good:
            pred = a.predicate if isinstance(a.predicate, dict) else {}
            if (pred.get("policy") or {}).get("uri") != intoto.REBUILD_POLICY:
                continue        # the publisher's own --check, not a rebuilder's
            rep = pred.get("reproducibility") if isinstance(pred.get("reproducibility"), dict) else {}
            who = (pred.get("verifier") or {}).get("id") if isinstance(pred.get("verifier"), dict) else None
            if pred.get("verificationResult") == "PASSED" and rep.get("rebuilt") == built:
                reproduced.setdefault(a.key_id, str(who))
            else:
                failed.append({"key": a.key, "key_id": a.key_id, "verifier": who,
                               "rebuilt": rep.get("rebuilt"), "result": pred.get("verificationResult")})
    v.rebuilders = {"threshold": r.threshold, "keys": len(r.keys), "reproduced_by": sorted(reproduced),
                    "verifiers": [reproduced[k] for k in sorted(reproduced)], "failed": failed}
    if len(reproduced) < r.threshold:
        v.failures.append(f"rebuilders: reproduced by {len(reproduced)} of {len(r.keys)} rebuilder keys, "
                          f"{r.threshold} required" + (f" ({len(failed)} rebuild verdict(s) of failure)" if failed else ""))


def _attestations(target: Target, digest, v: Verification, keys: list[Path],
                  openpgp=None) -> dict:
    """The attestations that hold, by predicate type (the first key's first, when several do;
    cosign keys before OpenPGP); every layer that does not hold is reported in `v.ignored`."""
    from fsdgimg.trust import (
        attesting as att_mod,  # with the SBOM: `verify --no-sbom` needs none of it
    )
    results = []
    if keys:
        results.append(att_mod.verified_attestations(target, keys, digest, set(ATTESTED)))
    if openpgp is not None:
        results.append(att_mod.openpgp_attestations(target, digest, openpgp, set(ATTESTED)))
    good = [a for found, _ in results for a in found]
    # What one way of signing could not trust is said when that way trusted something (a forged
    # layer beside signed ones) or when nothing was trusted at all; not when the other way signed.
    v.ignored += [p for found, problems in results for p in problems if found or not good]
    out: dict = {}
    for a in good:
        out.setdefault(a.predicate_type, a)
    v.attestations = [a.to_json() for a in good]
    return out


def _note_unsigned(target: Target, digest, v: Verification) -> None:
    """Unsigned reports attached beside the image (OCI 1.1 artifacts) are listed, never judged."""
    try:
        listed = att.referrers(target, digest)
    except FsdgimgError as e:
        v.ignored.append(f"unsigned attachments: {e}")
        return
    v.via = listed.via
    for d in listed.descriptors:
        kind = d.get("artifactType")
        if kind in (artifacts.SBOM_TYPE, artifacts.AUDIT_TYPE, artifacts.CHECK_TYPE):
            v.ignored.append(f"unsigned {UNSIGNED_NAMES[kind]} attached as {str(d.get('digest'))[:80]}: ignored "
                             "(only a signed attestation counts)")


def _check_sbom_and_audit(target: Target, digest, v: Verification, strict: bool, keys: list[Path],
                          from_layers, openpgp=None) -> None:
    from fsdgimg.audit.audit import audit
    from fsdgimg.sbom.spdx import from_spdx
    _note_unsigned(target, digest, v)
    signed = _attestations(target, digest, v, keys, openpgp) if keys or openpgp else {}
    bom = None
    sbom = signed.get(intoto.SPDX)
    if sbom is not None:
        bom = from_spdx(json.dumps(sbom.predicate).encode(), f"{target.display}: signed SBOM")
        v.sbom = {"distribution": bom.distribution, "packages": len(bom.packages), "describes": bom.image_digest,
                  "signed_by": sbom.key, "key_id": sbom.key_id}
    if from_layers is not None:
        mine = from_layers(target.display, digest)
        v.sbom = v.sbom or {"distribution": mine.distribution, "packages": len(mine.packages),
                            "describes": str(digest), "signed_by": None}
        v.sbom["recomputed"] = len(mine.packages)
        if bom is not None:
            differs = _package_difference(bom, mine)
            if differs:
                v.failures.append(f"SBOM: the signed SBOM and the image's own layers differ: {differs}")
        bom = bom or mine
    if bom is None:
        if not keys and openpgp is None:
            v.failures.append("SBOM: nothing to trust it by: give --key, --attestation-key or --gpg-keyring "
                              "(a signed SBOM attestation), or --from-layers to recompute it")
        else:
            v.failures.append(f"{target.display}: no SBOM attestation signed by the given keys")
        return
    # The audit is judged here, from the trusted SBOM, with this machine's license data: a signed
    # verdict is shown beside it, never taken instead.
    report = audit(bom, strict=strict)
    v.audit = {"verdict": report.verdict, "counts": report.counts, "license_data": report.data,
               "nonfree": [f.name for f in report.of("nonfree")]}
    published = signed.get(intoto.FSDG_AUDIT)
    if published is not None:
        obj = published.predicate
        v.audit["published_verdict"] = obj.get("verdict") if isinstance(obj, dict) else None
        v.audit["signed_by"] = published.key
    if report.verdict != "pass":
        v.failures.append(f"FSDG audit: {report.verdict}"
                          + (f" (nonfree: {', '.join(v.audit['nonfree'][:10])})" if v.audit["nonfree"] else
                             " (unknown licenses, --strict)"))


def _package_difference(signed, mine) -> str:
    def names(bom) -> set[tuple[str, str]]:
        return {(p.name, p.version or "") for p in bom.packages}
    only_signed, only_mine = names(signed) - names(mine), names(mine) - names(signed)
    if not only_signed and not only_mine:
        return ""
    def few(items) -> str:
        shown = ", ".join(f"{n} {ver}".strip() for n, ver in sorted(items)[:5])
        return shown + (f" and {len(items) - 5} more" if len(items) > 5 else "")
    parts = []
    if only_signed:
        parts.append(f"only in the signed SBOM: {few(only_signed)}")
    if only_mine:
        parts.append(f"only in the layers: {few(only_mine)}")
    return "; ".join(parts)
