"""What follows a publish of an official image: its reports attached, then its signature.

Used by `fsdgimg build --publish` (SBOM, audit report, reproducibility report) and by
`fsdgimg publish --sign-key / --gpg-key`. Only registries and static trees hold attachments and signatures.
A multi-platform index: each platform's reports attach to that platform's manifest (their subject
is the child's digest, where a client pulling that platform finds them), and the sigstore signature
covers the index and every child.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.signature import artifacts
from fsdgimg.trust import attachments as att
from fsdgimg.trust.remote import Target, index_children, target


@dataclass
class Reports:
    """What a build says about one image: its attachments (unsigned OCI 1.1 artifacts, which
    oras and the referrers API list) and the same reports as (predicate type, predicate) pairs,
    signed as attestations when a key is given."""
    attachments: list[artifacts.Attachment]
    created: str | None = None
    attestations: list[tuple[str, object]] = field(default_factory=list)


def published_target(destination: str, insecure: bool = False, registry=None) -> Target | None:
    """The Target of a publish destination (`docker://…`, `static:DIR/NAME:TAG`), None for others.
    `registry`: the RegistryOptions it was published with (credentials, CA)."""
    if destination.startswith(("docker://", "static:")):
        return target(destination, insecure=insecure, options=registry)
    return None


def attach_target(source: str, described: str | None, insecure: bool = False, registry=None) -> Target | None:
    """Where a report about SRC attaches: the manifest it describes. When SRC names an index (and
    --platform picked one of its images), that is the child's digest, never the index's.
    `registry`: the RegistryOptions to reach it with."""
    t = published_target(source, insecure, registry)
    if t is None or not described:
        return t
    found = t.manifest()
    if found is not None and index_children(found[0], found[1], t.display) is not None:
        return t.with_reference(described)
    return t


def after_publish(destination: str, *, attachments: list[artifacts.Attachment] = (), created: str | None = None,
                  sign_key: Path | None = None, identity: str | None = None, insecure: bool = False,
                  gpg_key: str | None = None, attestations: list[tuple[str, object]] = (),
                  per_child: dict[str, Reports] | None = None,
                  registry=None) -> dict:
    """`attachments` go to the published manifest itself; `per_child` maps a child's digest (of
    the published index) to its own Reports. With `sign_key` or `gpg_key`, `attestations`
    ((predicate type, predicate) pairs) are signed as in-toto attestations about the published
    manifest (and each child's about the child; see _attest). `registry`: the RegistryOptions it was published with (credentials, CA)."""
    t = published_target(destination, insecure, registry)
    if t is None:
        return {}
    out: dict = {}
    if attachments:
        done = att.attach_to(t, list(attachments), created)
        out["attachments"], out["attachments_via"] = done.descriptors, done.via
    if per_child:
        out["platforms"] = {}
        for digest, reports in per_child.items():
            done = att.attach_to(t.with_reference(digest), list(reports.attachments), reports.created)
            out["platforms"][digest] = {"attachments": done.descriptors, "attachments_via": done.via}
    if sign_key is not None or gpg_key is not None:
        _attest(t, out, attestations, per_child or {}, sign_key, gpg_key, identity)
    if sign_key is not None:
        from fsdgimg.trust.signing import sign_sigstore
        out["signature"] = sign_sigstore(t, sign_key, identity)
    if gpg_key is not None:  # static trees: into the tree's own lookaside storage
        from fsdgimg.trust.openpgp import sign_openpgp
        out["openpgp_signature"] = sign_openpgp(t, gpg_key, None, identity=identity)
    return out


# -- the predicates a build leaves in its layout, for `publish --sign-key` to sign later -------------
PREDICATES_DIR = "attestations"


def save_predicates(directory: Path, predicates: list[tuple[str, object]]) -> Path:
    """DIR/attestations/N.json: one {"predicateType", "predicate"} document each (deterministic bytes)."""
    from fsdgimg.oci.jsonio import dump_json
    from fsdgimg.transports.static.files import write_bytes
    where = directory / PREDICATES_DIR
    for old in where.glob("*.json") if where.is_dir() else ():
        old.unlink()
    for n, (ptype, predicate) in enumerate(predicates, 1):
        write_bytes(where / f"{n}.json", dump_json({"predicateType": ptype, "predicate": predicate}) + b"\n")
    return where


def load_predicates(directory: Path) -> list[tuple[str, object]]:
    """What save_predicates left in DIR (nothing when it has none): the layout is the publisher's
    own, but it is read with the same bounds as anything else."""
    from fsdgimg.errors import InputError
    from fsdgimg.oci.jsonio import load_json
    where = directory / PREDICATES_DIR
    out = []
    for path in sorted(where.glob("*.json"), key=lambda p: (len(p.name), p.name)) if where.is_dir() else ():
        obj = load_json(path.read_bytes(), str(path), 64 << 20)
        if not isinstance(obj, dict) or not isinstance(obj.get("predicateType"), str) or "predicate" not in obj:
            raise InputError(f"{path}: not a predicate fsdgimg build wrote")
        out.append((obj["predicateType"], obj["predicate"]))
    return out


def _attest(t: Target, out: dict, attestations, per_child: dict, sign_key: Path | None, gpg_key: str | None,
            identity: str | None) -> None:
    """Each image's attestations (the published manifest's, and every child's about the child):
    the envelopes signed with the cosign key; with an OpenPGP key, the `.att` manifest that lists
    them signed into the lookaside too, as images are (an OpenPGP-only distribution's envelopes
    carry no signature of their own: that manifest signature is what vouches for them)."""
    from fsdgimg.oci.digest import Digest
    from fsdgimg.trust.attesting import attest_all
    key = None
    if sign_key is not None:
        from fsdgimg.signature.keys import load_private_key
        key = load_private_key(sign_key)
    jobs = [(t, None, list(attestations), out)] if attestations else []
    for digest, reports in per_child.items():
        if reports.attestations:
            jobs.append((t.with_reference(digest), Digest.parse(digest), list(reports.attestations),
                         out["platforms"][digest]))
    for target_, digest, predicates, into in jobs:
        into["attestations"] = made = attest_all(target_, key, predicates, digest=digest, identity=identity)
        if gpg_key is not None:
            from fsdgimg.trust.openpgp import sign_openpgp
            signed = target_.with_reference(made[0]["attestation_digest"])
            into["attestations_openpgp_signature"] = sign_openpgp(signed, gpg_key, None, identity=identity,
                                                                  recursive=False)
