"""Building an image again from what it records: `fsdgimg rebuild` and `verify --rebuild`.

The rebuild reads the image's lock (fsdgimg.build.lock) — from its signed SLSA provenance, from a
layout's `fsdgimg/lock.json`, or from a lock file the user hands over — never today's catalog, and
builds from exactly the locked inputs: a Debian-family image from a local apt repository of the
locked .debs (each checked against its SHA256), taken from a directory (`--inputs`), from the
image's own repository or tree (where `build --publish-inputs` put them under their SHA256), or
from the locked mirror, in that order. The digest it compares is the one before annotations, which
the published image records in `org.fsdgimg.built`.

`from_catalog=True` builds the catalog's entry of today instead, to show how far the archive has
moved since (docs/rebuild.md). trust/verify.py calls these through the Rebuild hook the command
line hands it, so that trust never imports the builders.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fsdgimg import catalog
from fsdgimg.build import EXTRA_DIR
from fsdgimg.build import lock as lockmod
from fsdgimg.build.pipeline import (
    BuildOptions,
    Stage,
    run_build,
    stage_annotate,
    stage_build,
    stage_import,
    stage_lock,
    stage_write,
)
from fsdgimg.build.trust_stage import BUILT
from fsdgimg.errors import FsdgimgError, InputError, UsageError
from fsdgimg.oci.jsonio import load_json

# A rebuild makes the image and its digest; the SBOM, audit and signatures are the publisher's.
REBUILD_STAGES = [Stage("build", stage_build), Stage("lock", stage_lock), Stage("import", stage_import),
                  Stage("annotate", stage_annotate), Stage("write", stage_write)]


@dataclass
class FoundLock:
    lock: lockmod.Lock
    source: str          # where it came from, and who vouches for it


def lock_of_layout(layout: Path) -> FoundLock | None:
    path = Path(layout) / EXTRA_DIR / lockmod.FILE
    if not path.is_file():
        return None
    return FoundLock(lockmod.parse(path.read_bytes(), str(path)), f"{path} (the layout's own)")


def lock_of_file(path: Path) -> FoundLock:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the lock ({e.strerror})") from None
    return FoundLock(lockmod.parse(data, str(path)), f"{path} (given)")


def signed_lock(target, digest, keys: list[Path], openpgp=None) -> FoundLock:
    """The lock inside the image's SLSA provenance, counted only when signed by one of `keys` (or
    vouched for by the OpenPGP check): a rebuild installs what the lock names."""
    from fsdgimg.signature import intoto
    from fsdgimg.trust import attesting
    found, problems = [], []
    if keys:
        good, bad = attesting.verified_attestations(target, keys, digest, {intoto.SLSA_PROVENANCE})
        found += good
        problems += bad
    if openpgp is not None:
        good, bad = attesting.openpgp_attestations(target, digest, openpgp, {intoto.SLSA_PROVENANCE})
        found += good
        problems += bad
    for a in found:
        params = a.predicate.get("buildDefinition", {}).get("externalParameters", {}) \
            if isinstance(a.predicate, dict) else {}
        if isinstance(params, dict) and isinstance(params.get("lock"), dict):
            data = json.dumps(params["lock"]).encode()
            return FoundLock(lockmod.parse(data, f"{target.display}: provenance"),
                             f"its provenance, signed by {a.key} (key {a.key_id})")
    if not keys and openpgp is None:
        raise UsageError(f"{target.display}: a published image's lock counts only when its provenance is "
                         "signed: give --key (or --gpg-keyring), or the lock file itself")
    why = f" ({problems[0]})" if problems else ""
    raise FsdgimgError(f"{target.display}: no signed provenance with a lock for {digest}{why}")


def fetcher(lock: lockmod.Lock, *, inputs: Path | None = None, target=None):
    """fetch(package, dest) for debian_archive.assemble_repository: the `--inputs` directory, else
    the image's repository (the published inputs: blobs named by each .deb's SHA256), else the
    locked mirror. Every byte is checked against the lock by the caller."""
    from fsdgimg.build.debian_archive import copy_from
    local = copy_from(Path(inputs)) if inputs is not None else None
    mirror = lock.debian.mirror if lock.debian is not None else ""

    def fetch(p: lockmod.DebPackage, dest: Path) -> None:
        if local is not None:
            return local(p, dest)
        if target is not None:
            try:
                dest.write_bytes(target.blob(f"sha256:{p.sha256}", p.size))
                return
            except FsdgimgError:
                pass        # not published with the image: the mirror's copy, checked the same way
        _download(f"{mirror}/{p.filename}", p, dest)
    return fetch


def _download(url: str, p: lockmod.DebPackage, dest: Path) -> None:
    from fsdgimg.build import archive_http
    try:
        archive_http.get_to(url, p.size, dest, f"the locked {p.deb_name} at")
    except FsdgimgError as e:
        raise type(e)(f"{e}; give the locked packages with --inputs") from None


def entry_of(lock: lockmod.Lock, base: Path, **overrides) -> catalog.Entry:
    """The locked catalog entry, checked as the catalog's are; `overrides` replace its keys."""
    table = {k: v for k, v in lock.entry.items() if k != "name"} | overrides
    name = lock.entry["name"]
    return catalog.from_table(name, table, f"{name}: lock entry", base)


def _build_once(entry: catalog.Entry, out: Path | None, **options) -> str:
    """One build of `entry` through the rebuild's stages (into `out`, else a scratch layout); the
    digest before annotations."""
    with tempfile.TemporaryDirectory(prefix=".fsdgimg-rebuild-") as tmp:
        opts = BuildOptions(out=Path(out) if out else Path(tmp) / "layout", **options)
        return run_build(entry, opts, stages=REBUILD_STAGES).digests[0]


def build_from_lock(lock: lockmod.Lock, fetch, *, tools: str = "auto", out: Path | None = None,
                    progress: bool | None = None, checkout: Path | None = None) -> str:
    """Build the locked entry from the locked inputs; the digest before annotations. `checkout`:
    where a Guix entry's file is (default: the current directory), checked against the lock."""
    if lock.guix is not None:
        return _guix_from_lock(lock, checkout or Path.cwd(), out, progress)
    if lock.debian is None:
        raise UsageError(f"{lock.entry.get('name')}: rebuilding a {lock.builder} image from its lock is "
                         "not supported yet (docs/rebuild.md)")
    entry = entry_of(lock, Path.cwd())
    if entry.builder != "debootstrap":
        raise UsageError(f"{entry.name}: a lock with Debian inputs for a {entry.builder} entry")
    return _build_once(entry, out, epoch=lock.source_date_epoch, tools="host" if tools == "auto" else tools,
                       progress=progress, lock=lock, fetch=fetch)


def _guix_from_lock(lock: lockmod.Lock, checkout: Path, out: Path | None, progress: bool | None) -> str:
    """A Guix image from its lock: the recorded channels file through `guix time-machine -C`, the
    entry's file as it was (its SHA256 checked), the same derivation expected."""
    import hashlib
    name, guix = lock.entry.get("name"), lock.guix
    if not guix.get("pinned"):
        raise UsageError(f"{name}: its lock does not pin Guix (built with a guix not from `guix pull`: its "
                         "channels have no commit), so no rebuild can take the same Guix")
    recorded = guix.get("file") if isinstance(guix.get("file"), dict) else {}
    path = checkout / str(recorded.get("path", ""))
    if not recorded.get("path") or ".." in Path(recorded["path"]).parts or Path(recorded["path"]).is_absolute():
        raise InputError(f"{name}: the lock names no usable input file")
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != recorded.get("sha256"):
        raise InputError(f"{path}: missing or not the file {name} was built from (check out the channel's "
                         "commit the lock records, or run from that checkout)")
    with tempfile.TemporaryDirectory(prefix=".fsdgimg-rebuild-") as tmp:
        channels = Path(tmp) / "channels.scm"
        channels.write_text(str(guix.get("channelsFile", "")), encoding="utf-8")
        entry = entry_of(lock, checkout, channels=str(channels))
        return _build_once(entry, out, epoch=lock.source_date_epoch, progress=progress)


def published_built(where: str, manifest: bytes) -> tuple[str, dict]:
    """The digest before annotations a published image records, and its annotations."""
    obj = load_json(manifest, f"{where}: manifest", 4 << 20)
    annotations = obj.get("annotations") if isinstance(obj, dict) else None
    annotations = annotations if isinstance(annotations, dict) else {}
    built = annotations.get(BUILT)
    if not built:
        raise FsdgimgError(f"{where}: the image does not record the digest it was built as ({BUILT})")
    return built, annotations


def rebuild_published(target, manifest: bytes, digest, arch: str | None, *, keys: list[Path] = (),
                      openpgp=None, inputs: Path | None = None, lock_file: Path | None = None,
                      tools: str = "auto", from_catalog: bool = False, catalog_path: Path | None = None) -> dict:
    """The Rebuild hook of trust.verify: rebuild the image `target` names and compare."""
    if from_catalog:
        return rebuild_from_catalog(target.display, manifest, arch, catalog_path=catalog_path, tools=tools)
    built, _ = published_built(target.display, manifest)
    if lock_file is not None:
        found = lock_of_file(lock_file)
    else:
        found = signed_lock(target, digest, list(keys), openpgp)
    rebuilt = build_from_lock(found.lock, fetcher(found.lock, inputs=inputs, target=target), tools=tools)
    return {"entry": found.lock.entry["name"], "published": built, "rebuilt": rebuilt,
            "reproduced": rebuilt == built, "from": "lock", "lock": found.source}


def rebuild_from_catalog(where: str, manifest: bytes, arch: str | None, *, catalog_path: Path | None,
                         tools: str) -> dict:
    """Build today's catalog entry again (`--from-catalog`): what the archive gives now."""
    built, annotations = published_built(where, manifest)
    name = annotations.get("org.opencontainers.image.title")
    if not name:
        raise FsdgimgError(f"{where}: the image does not say which catalog entry it is "
                           "(annotation org.opencontainers.image.title)")
    entry = catalog.load(catalog_path).get(name)
    if arch:            # one platform of an index: that architecture of the entry
        entry = entry.for_arch(arch)
    created = annotations.get("org.opencontainers.image.created")
    epoch = int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()) if created else None
    rebuilt = _build_once(entry, None, epoch=epoch, tools=tools)
    return {"entry": name, "published": built, "rebuilt": rebuilt, "reproduced": rebuilt == built,
            "from": "catalog"}
