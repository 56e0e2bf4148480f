"""The installed version of a distribution package (the license data's, recorded in SBOMs and audit
reports), read from the name of its `NAME-VERSION.dist-info` directory beside the package: what
importlib.metadata finds too, without importing it and scanning every sys.path entry (~10 ms
on a build's path). importlib.metadata stays the fallback for other kinds of installs."""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path


@functools.cache
def version(dist: str) -> str | None:
    """`dist`'s version, None when it is not installed."""
    module = dist.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None:
        return None
    if spec.origin:
        # A listing, not Path.glob: compiling glob's pattern costs more than the rest (~2 ms).
        site = Path(spec.origin).parent.parent
        prefix = f"{module}-"
        try:
            found = [n for n in os.listdir(site) if n.startswith(prefix) and n.endswith(".dist-info")]
        except OSError:
            found = []
        if len(found) == 1:
            return found[0][len(prefix):-len(".dist-info")]
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as metadata_version
    try:
        return metadata_version(dist)
    except PackageNotFoundError:
        return None
