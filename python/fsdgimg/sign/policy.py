"""containers-policy.json(5) and containers-registries.d(5) for official images: what makes a
user's podman, skopeo and buildah refuse an image of the distribution's registry that is not
signed by its keys. Sigstore key-pair signatures are read from the `.sig` attachments
(`use-sigstore-attachments`); OpenPGP ones from lookaside storage served next to the images."""

from __future__ import annotations

import json
from pathlib import Path


def requirement(key: Path, kind: str = "sigstore") -> dict:
    if kind == "sigstore":
        return {"type": "sigstoreSigned", "keyPath": str(key), "signedIdentity": {"type": "matchRepository"}}
    return {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(key),
            "signedIdentity": {"type": "matchRepository"}}


def policy(scopes: list[str], sigstore_keys: list[Path] = (), gpg_keys: list[Path] = (),
           default: str = "insecureAcceptAnything") -> bytes:
    """A policy.json requiring, for every scope (HOST[:PORT][/NAMESPACE]), a signature by one of the
    keys. Several sigstore keys become one requirement with `keyPaths` (any one of them), since
    requirements in a list must all hold."""
    reqs = []
    if len(sigstore_keys) == 1:
        reqs.append(requirement(sigstore_keys[0]))
    elif sigstore_keys:
        reqs.append({"type": "sigstoreSigned", "keyPaths": [str(k) for k in sigstore_keys],
                     "signedIdentity": {"type": "matchRepository"}})
    if len(gpg_keys) == 1:
        reqs.append(requirement(gpg_keys[0], "gpg"))
    elif gpg_keys:
        reqs.append({"type": "signedBy", "keyType": "GPGKeys", "keyPaths": [str(k) for k in gpg_keys],
                     "signedIdentity": {"type": "matchRepository"}})
    doc = {"default": [{"type": default}],
           "transports": {"docker": {scope: reqs for scope in scopes}}}
    return json.dumps(doc, indent=2).encode() + b"\n"


def registries_d(scopes: list[str], lookaside: str | None = None) -> bytes:
    """A registries.d YAML file: sigstore attachments on, and the lookaside URL for OpenPGP ones."""
    lines = ["docker:"]
    for scope in scopes:
        lines.append(f"  {scope}:")
        lines.append("    use-sigstore-attachments: true")
        if lookaside:
            lines.append(f"    lookaside: {lookaside}")
    return ("\n".join(lines) + "\n").encode()
