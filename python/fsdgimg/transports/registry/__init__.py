"""The distribution-API client: authentication, blob upload (mount, chunks, resume), manifests.

Import what you need from its modules (fsdgimg.transports.registry.client, .push, .auth, .connect). The names
below are kept reachable from the package, loaded on first use: reading a manifest (verify, sign)
must not load the push machinery and the image model it builds on."""

_LAZY = {"RegistryClient": "client", "RegistryError": "client", "PushReport": "push", "Pusher": "push"}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"fsdgimg.transports.registry.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'fsdgimg.transports.registry' has no attribute {name!r}")
