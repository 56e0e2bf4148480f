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


def check_scope(scope: str) -> str:
    """A policy scope as the tools write it, HOST[:PORT][/NAMESPACE]; one line for anything else (the
    value goes into YAML and JSON files a user's tools trust)."""
    import re
    from fsdgimg.errors import UsageError
    from fsdgimg.static.layout import NAME_RE
    from fsdgimg.static.webconfig import check_option
    host, _, namespace = scope.partition("/")
    try:
        check_option("public_host", host)
    except UsageError:
        raise UsageError(f"--registry {scope[:80]!r}: expected HOST[:PORT][/NAMESPACE]") from None
    if namespace and not re.fullmatch(NAME_RE, namespace):
        raise UsageError(f"--registry {scope[:80]!r}: {namespace[:60]!r} is not a repository namespace")
    return scope


def default_lookaside(scope: str) -> str:
    """Where a static tree served at the scope's host keeps its OpenPGP signatures: the tree's
    lookaside root at the top of the site (https; plain http for a loopback address only, as
    fsdgimg itself allows). Signature paths name the whole repository, so a namespace is not part
    of the URL."""
    import ipaddress
    from fsdgimg.static.layout import LOOKASIDE_ROOT
    host = scope.split("/", 1)[0]
    bare = host[1:host.index("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    try:
        loopback = bare == "localhost" or ipaddress.ip_address(bare).is_loopback
    except ValueError:
        loopback = False
    return f"{'http' if loopback else 'https'}://{host}/{LOOKASIDE_ROOT}"


def registries_d(scopes: list[str], lookaside: str | None = None) -> bytes:
    """A registries.d YAML file: sigstore attachments on, and where OpenPGP signatures are looked up
    (`lookaside`: the given URL, else the lookaside root of a static tree served at each host)."""
    lines = ["docker:"]
    for scope in scopes:
        lines.append(f"  \"{scope}\":")  # quoted: a YAML key, and [::1]:5000 would be a list
        lines.append("    use-sigstore-attachments: true")
        lines.append(f"    lookaside: {lookaside or default_lookaside(scope)}")
    return ("\n".join(lines) + "\n").encode()
