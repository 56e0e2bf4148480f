"""The distribution-API client: authentication, blob upload (mount, chunks, resume), manifests."""

from fsdgimg.registry.client import RegistryClient, RegistryError
from fsdgimg.registry.push import PushReport, Pusher, push

__all__ = ["PushReport", "Pusher", "RegistryClient", "RegistryError", "push"]
