"""A RegistryClient for a repository, from the command's registry options: one place that turns
options (credentials, --insecure, --ca-file, retries, jobs) into a client, for pulls and pushes."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from fsdgimg.errors import InputError
from fsdgimg.transports.registry.auth import find_credentials
from fsdgimg.transports.registry.client import RegistryClient


def connect(registry: str, repository: str | None, options=None, *, push: bool = False) -> RegistryClient:
    """A client for `registry` with the scope `repository` needs (pull, or pull and push).
    `options` is a RegistryOptions (None: anonymous unless the environment or auth files say otherwise)."""
    username = getattr(options, "username", None)
    password = getattr(options, "password", None)
    jobs = max(1, getattr(options, "jobs", 4) or 4)
    creds = find_credentials(registry, repository, username=username, password=password)
    client = RegistryClient(registry, credentials=creds, insecure=bool(getattr(options, "insecure", False)),
                            retries=max(0, getattr(options, "retries", 5)), ca_file=getattr(options, "ca_file", None),
                            connections=max(2, jobs + 2))
    client.repository = repository  # what its credentials were looked up for (per-namespace entries)
    if repository:
        client.add_scopes([f"repository:{repository}:{'pull,push' if push else 'pull'}"])
    return client


def sharing(options, destination: str):
    """`options` (RegistryOptions) carrying an open client of the `docker://` destination, for a
    publish that is followed in the same process by attachments and a signature (build --publish,
    publish --sign-key): the writer pushes with it and the signer reads and pushes with it, so the
    registry is probed (/v2/, HTTPS first) and authenticated once. Other destinations: `options`."""
    if not destination.startswith("docker://") or getattr(options, "client", None) is not None:
        return options
    import dataclasses

    from fsdgimg.transports.location import parse
    from fsdgimg.transports.options import RegistryOptions
    ref = parse(destination, for_writing=True).reference
    options = options or RegistryOptions()
    return dataclasses.replace(options, client=connect(ref.registry, ref.name, options, push=True))


def serves(client, registry: str, repository: str) -> bool:
    """Whether a shared client (see sharing) is the one to use for REGISTRY/REPOSITORY: its
    credentials were found for that registry and repository (auth files may have per-namespace
    entries), so it is never used for another."""
    return client is not None and client.registry == registry and getattr(client, "repository", None) == repository


@functools.cache
def ca_bundle(cert_dir: str) -> str:
    """One PEM file of the CA certificates (*.crt) of a certificate directory as containers/image
    reads them (/etc/containers/certs.d/HOST[:PORT]/), for the TLS library, which takes a file.
    It is a copy of public certificates, made once per directory and removed at exit."""
    d = Path(cert_dir)
    if not d.is_dir():
        raise InputError(f"{cert_dir}: not a directory of CA certificates")
    crts = sorted(d.glob("*.crt"))
    if not crts:
        raise InputError(f"{cert_dir}: no CA certificate (*.crt) in it")
    client = sorted(p.name for p in d.iterdir() if p.suffix in (".cert", ".key"))
    if client:
        raise InputError(f"{cert_dir}: client certificates ({', '.join(client)}) are not supported")
    pem = b""
    for crt in crts:
        data = crt.read_bytes()
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise InputError(f"{crt}: not a PEM certificate")
        pem += data if data.endswith(b"\n") else data + b"\n"
    import atexit
    import tempfile
    fd, path = tempfile.mkstemp(prefix="fsdgimg-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    return path
