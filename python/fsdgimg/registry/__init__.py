"""The distribution-API client: authentication, blob upload (mount, chunks, resume), manifests."""

from fsdgimg.registry.client import RegistryClient, RegistryError  # noqa: F401
from fsdgimg.registry.push import PushReport, Pusher, push  # noqa: F401
