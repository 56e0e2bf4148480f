"""Which location kinds can be written, and by which module: the writer table. The location parser
(location.py, which refuses a destination nothing can write) and the one writer (write.py) both read
it, so neither imports the other for it."""

from __future__ import annotations

# Location kind -> module implementing write(). A new destination: one module, one line here.
WRITERS: dict[str, str] = {
    "oci": "fsdgimg.transports.layout",
    "docker-archive": "fsdgimg.transports.archive",
    "docker": "fsdgimg.transports.registry.sink",
    "static": "fsdgimg.transports.static.sink",
}


def register(kind: str, module: str) -> None:
    """Add a destination at run time (a plug-in): `module` has write(artifact, location, options)."""
    WRITERS[kind] = module
