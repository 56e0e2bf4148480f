"""What follows a publish of an official image: its reports attached, then its signature.

Used by `fsdgimg build --publish` (SBOM, audit report, reproducibility report) and by
`fsdgimg publish --sign-key / --gpg-key`. Only registries and static trees hold attachments and signatures.
"""

from __future__ import annotations

from pathlib import Path

from fsdgimg.sign import attachments as att
from fsdgimg.sign.remote import Target, target


def published_target(destination: str, insecure: bool = False) -> Target | None:
    """The Target of a publish destination (`docker://…`, `static:DIR/NAME:TAG`), None for others."""
    if destination.startswith(("docker://", "static:")):
        return target(destination, insecure=insecure)
    return None


def after_publish(destination: str, *, attachments: list[att.Attachment] = (), created: str | None = None,
                  sign_key: Path | None = None, identity: str | None = None,
                  insecure: bool = False, gpg_key: str | None = None) -> dict:
    t = published_target(destination, insecure)
    if t is None:
        return {}
    out: dict = {}
    if attachments:
        out["attachments"] = att.attach_all(t, list(attachments), created)
    if sign_key is not None:
        from fsdgimg.sign.signing import sign_sigstore
        out["signature"] = sign_sigstore(t, sign_key, identity)
    if gpg_key is not None:  # static trees: into the tree's own lookaside storage
        from fsdgimg.sign.openpgp import sign_openpgp
        out["openpgp_signature"] = sign_openpgp(t, gpg_key, None, identity=identity)
    return out
