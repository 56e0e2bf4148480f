"""`verify --rebuild`: build an image's catalog entry again and compare the digest (before
annotations) with the one the published image records in `org.fsdgimg.built`. trust/verify.py calls
it through the Rebuild hook the command line hands it, so that trust never imports the builders."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from fsdgimg import catalog
from fsdgimg.build.pipeline import BuildOptions, run_build
from fsdgimg.build.trust_stage import BUILT
from fsdgimg.errors import FsdgimgError
from fsdgimg.oci.jsonio import load_json


def rebuild_from_catalog(where: str, manifest: bytes, arch: str | None, *, catalog_path: Path | None,
                         tools: str) -> dict:
    """Build the catalog entry again and compare its digest (before annotations) with the one the
    published image records in `org.fsdgimg.built`."""
    obj = load_json(manifest, f"{where}: manifest", 4 << 20)
    annotations = obj.get("annotations") if isinstance(obj, dict) else None
    annotations = annotations if isinstance(annotations, dict) else {}
    name, built = annotations.get("org.opencontainers.image.title"), annotations.get(BUILT)
    if not name or not built:
        raise FsdgimgError(f"{where}: the image does not say which catalog entry and build it is "
                           f"(annotations org.opencontainers.image.title and {BUILT})")
    entry = catalog.load(catalog_path).get(name)
    if arch:            # one platform of an index: that architecture of the entry
        entry = entry.for_arch(arch)
    created = annotations.get("org.opencontainers.image.created")
    epoch = int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()) if created else None
    with tempfile.TemporaryDirectory(prefix=".fsdgimg-rebuild-") as tmp:
        outcome = run_build(entry, BuildOptions(out=Path(tmp) / "layout", epoch=epoch, tools=tools))
    return {"entry": name, "published": built, "rebuilt": outcome.digests[0], "reproduced": outcome.digests[0] == built}
