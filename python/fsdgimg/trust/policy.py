"""containers-policy.json(5) and containers-registries.d(5) for official images: what makes a
user's podman, skopeo and buildah refuse an image of the distribution's registry that is not
signed by its keys. Sigstore key-pair signatures are read from the `.sig` attachments
(`use-sigstore-attachments`); OpenPGP ones from lookaside storage served next to the images."""

from __future__ import annotations

import json
from pathlib import Path

from fsdgimg.errors import UsageError


def requirements(sigstore_keys: list[Path] = (), gpg_keys: list[Path] = (),
                 identity=None) -> list[dict]:
    """The requirements of one scope: a signature by one of the sigstore keys and one by one of the
    OpenPGP keys. Several keys of a kind become one requirement with `keyPaths` (any one of them),
    since requirements in a list must all hold. `identity(kind)` gives each requirement's
    signedIdentity (default: matchRepository, what a signature naming the repository satisfies)."""
    identity = identity or (lambda kind: {"type": "matchRepository"})
    reqs = []
    for kind, keys, head in (("sigstore", sigstore_keys, {"type": "sigstoreSigned"}),
                             ("gpg", gpg_keys, {"type": "signedBy", "keyType": "GPGKeys"})):
        if keys:
            paths = {"keyPath": str(keys[0])} if len(keys) == 1 else {"keyPaths": [str(k) for k in keys]}
            reqs.append({**head, **paths, "signedIdentity": identity(kind)})
    return reqs


def mirror_identity(kind: str, mirror: str, origin: str) -> dict:
    """What a client of MIRROR accepts as the identity a signature names: the origin's. OpenPGP
    signatures name the reference pulled (HOST/NAME:TAG): `remapIdentity` reads MIRROR's prefix as
    ORIGIN's, for a whole host or namespace. cosign's name the repository alone, with no tag, which
    containers/image's remapIdentity never accepts (it wants a tag or digest in the signature, as
    matchRepoDigestOrExact does): they get `exactRepository`, so ORIGIN must name the repository
    (HOST/NAME), one --mirror per repository."""
    if kind != "sigstore":
        return {"type": "remapIdentity", "prefix": mirror, "signedPrefix": origin}
    if "/" not in origin:
        raise UsageError(f"--mirror {mirror[:80]}={origin[:80]}: cosign signatures name a repository, so with "
                         f"--sigstore-key a mirror is given per repository: MIRROR/NAME={origin[:80]}/NAME")
    return {"type": "exactRepository", "dockerRepository": origin}


# Transports that read images from this machine, not from a registry: under a policy whose default
# rejects, copying out of them (to push an OCI layout, for instance) stays the user's own business.
LOCAL_TRANSPORTS = ("oci", "oci-archive", "dir", "docker-archive", "docker-daemon", "containers-storage")
UNSIGNED = [{"type": "insecureAcceptAnything"}]


def policy(scopes: list[str], sigstore_keys: list[Path] = (), gpg_keys: list[Path] = (),
           default: str = "insecureAcceptAnything", mirrors: list[tuple[str, str]] = (),
           blocked: list[str] = ()) -> bytes:
    """A policy.json requiring, for every scope (HOST[:PORT][/NAMESPACE]), a signature by one of the
    keys naming that scope's repository, and for every (MIRROR, ORIGIN) the same signatures naming
    the origin's repository (`mirror_identity`); the `blocked` scopes are rejected. With the
    default `reject` (what a system's policy is: images from the listed scopes only), the local
    transports are accepted, and without keys the listed scopes are accepted unsigned."""
    def scope_requirements(identity=None) -> list[dict]:
        return requirements(sigstore_keys, gpg_keys, identity) or list(UNSIGNED)
    docker = {scope: scope_requirements() for scope in scopes}
    for mirror, origin in mirrors:
        docker[mirror] = scope_requirements(lambda kind, m=mirror, o=origin: mirror_identity(kind, m, o))
    for scope in blocked:
        docker[scope] = [{"type": "reject"}]
    transports = {"docker": docker}
    if default == "reject":
        transports.update({transport: {"": list(UNSIGNED)} for transport in LOCAL_TRANSPORTS})
    doc = {"default": [{"type": default}], "transports": transports}
    return json.dumps(doc, indent=2).encode() + b"\n"


def check_mirror(value: str) -> tuple[str, str]:
    """--mirror MIRROR=ORIGIN, each HOST[:PORT][/PATH]: one line for anything else."""
    mirror, sep, origin = value.partition("=")
    if not sep or not mirror or not origin:
        raise UsageError(f"--mirror {value[:80]!r}: expected MIRROR=ORIGIN, each HOST[:PORT][/PATH]")
    check_scope(mirror, "--mirror")
    check_scope(origin, "--mirror")
    if mirror == origin:
        raise UsageError(f"--mirror {value[:80]!r}: the mirror and the origin are the same")
    return mirror, origin


def check_scope(scope: str, option: str = "--registry") -> str:
    """A policy scope as the tools write it, HOST[:PORT][/NAMESPACE]; one line for anything else (the
    value goes into YAML and JSON files a user's tools trust)."""
    import re

    from fsdgimg.transports.static.layout import NAME_RE
    from fsdgimg.transports.static.webconfig import check_option
    host, _, namespace = scope.partition("/")
    try:
        check_option("public_host", host)
    except UsageError:
        raise UsageError(f"{option} {scope[:80]!r}: expected HOST[:PORT][/NAMESPACE]") from None
    if namespace and not re.fullmatch(NAME_RE, namespace):
        raise UsageError(f"{option} {scope[:80]!r}: {namespace[:60]!r} is not a repository namespace")
    return scope


def default_lookaside(scope: str) -> str:
    """Where a static tree served at the scope's host keeps its OpenPGP signatures: the tree's
    lookaside root at the top of the site (https; plain http for a loopback address only, as
    fsdgimg itself allows). Signature paths name the whole repository, so a namespace is not part
    of the URL."""
    import ipaddress

    from fsdgimg.transports.static.layout import LOOKASIDE_ROOT
    host = scope.split("/", 1)[0]
    bare = host[1:host.index("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    try:
        loopback = bare == "localhost" or ipaddress.ip_address(bare).is_loopback
    except ValueError:
        loopback = False
    return f"{'http' if loopback else 'https'}://{host}/{LOOKASIDE_ROOT}"


def registries_d(scopes: list[str], lookaside: str | None = None,
                 lookasides: dict[str, str | None] | None = None) -> bytes:
    """A registries.d YAML file: sigstore attachments on, and where OpenPGP signatures are looked up
    (`lookasides[scope]` when the scope is there, None for none; else the `lookaside` URL, else the
    lookaside root of a static tree served at each host)."""
    lookasides = lookasides or {}
    lines = ["# Generated by fsdgimg: where the signatures of the accepted registries are.", "docker:"]
    for scope in scopes:
        lines.append(f"  \"{scope}\":")  # quoted: a YAML key, and [::1]:5000 would be a list
        lines.append("    use-sigstore-attachments: true")
        url = lookasides[scope] if scope in lookasides else lookaside or default_lookaside(scope)
        if url:
            lines.append(f"    lookaside: {url}")
    return ("\n".join(lines) + "\n").encode()
