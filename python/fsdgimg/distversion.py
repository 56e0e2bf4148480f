"""The installed version of a distribution package (the license data's, recorded in SBOMs and audit
reports), read from the name of its `NAME-VERSION.dist-info` directory beside the package: what
importlib.metadata finds too, without importing it and scanning every sys.path entry (~10 ms
on a build's path). importlib.metadata stays the fallback for other kinds of installs."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path


@functools.cache
def version(dist: str) -> str | None:
    """`dist`'s version, None when it is not installed."""
    module = dist.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None:
        return None
    if spec.origin:
        found = list(Path(spec.origin).parent.parent.glob(f"{module}-*.dist-info"))
        if len(found) == 1:
            return found[0].name[len(module) + 1:-len(".dist-info")]
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as metadata_version
    try:
        return metadata_version(dist)
    except PackageNotFoundError:
        return None
