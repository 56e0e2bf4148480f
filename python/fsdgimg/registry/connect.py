"""A RegistryClient for a repository, from the command's registry options: one place that turns
options (credentials, --insecure, --ca-file, retries, jobs) into a client, for pulls and pushes."""

from __future__ import annotations

from fsdgimg.registry.auth import find_credentials
from fsdgimg.registry.client import RegistryClient


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
    if repository:
        client.add_scopes([f"repository:{repository}:{'pull,push' if push else 'pull'}"])
    return client
