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
    the published index) to its own Reports. With `sign_key`, `attestations` ((predicate type,
    predicate) pairs) are signed as in-toto attestations about the published manifest (and each
    child's about the child). `registry`: the RegistryOptions it was published with (credentials, CA)."""
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
    if sign_key is not None:
        from fsdgimg.oci.digest import Digest
        from fsdgimg.signature.keys import load_private_key
        from fsdgimg.trust.attesting import attest_all
        from fsdgimg.trust.signing import sign_sigstore
        key = load_private_key(sign_key)
        if attestations:
            out["attestations"] = attest_all(t, key, list(attestations), identity=identity)
        for digest, reports in (per_child or {}).items():
            if reports.attestations:
                one = t.with_reference(digest)
                out["platforms"][digest]["attestations"] = attest_all(
                    one, key, list(reports.attestations), digest=Digest.parse(digest), identity=identity)
        out["signature"] = sign_sigstore(t, sign_key, identity)
    if gpg_key is not None:  # static trees: into the tree's own lookaside storage
        from fsdgimg.trust.openpgp import sign_openpgp
        out["openpgp_signature"] = sign_openpgp(t, gpg_key, None, identity=identity)
    return out
