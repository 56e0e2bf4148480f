"""Writers: each turns the image model into one kind of output, behind fsdgimg.transports.write.write()."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


@contextmanager
def realized(artifact, scratch_parent: Path | None = None):
    """The artifact with its pending work done: recompressed layers go to a scratch store (beside
    `scratch_parent`, so that the writer can hard-link them) that lives until the block ends.
    Writers with a store of their own (an OCI layout) realize straight into it instead."""
    from fsdgimg.oci.mutate import Pending, realize
    if not isinstance(artifact, Pending):
        yield artifact
        return
    from fsdgimg.transports.read import scratch_store
    with scratch_store(scratch_parent) as store:
        yield realize(artifact, store)
