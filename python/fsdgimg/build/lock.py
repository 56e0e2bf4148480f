"""The lock: the exact inputs of one build, so that anyone can build the image again years later
from what it records rather than from today's archive or today's Guix.

Every build writes one (`fsdgimg/lock.json` in its layout, and inside its SLSA provenance); a
rebuild (`fsdgimg rebuild`, `verify --rebuild`) reads it. Its schema is docs/rebuild.md's; what it
holds per builder:

- Debian family: the catalog entry, the release file the packages were resolved from (with its
  hash), every .deb (name, version, architecture, pool path, size, SHA256, and the priority the
  archive's index gave it), the image's own apt sources, and the tool's options.
- Guix: the channels (commit, introduction) and the derivation.

The same build gives byte-identical lock bytes: keys sorted, packages sorted, no clock, no host
paths. A lock comes from signed provenance or from a file the user hands over; either way it is
checked here before anything reads it (hashes, pool paths, sizes, counts), because a rebuild
fetches and installs what it names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from fsdgimg.errors import InputError
from fsdgimg.oci.jsonio import load_json

LOCK_TYPE = "https://fsdgimg.org/lock/v1"
MEDIA_TYPE = "application/vnd.fsdgimg.lock.v1+json"
FILE = "lock.json"                  # in the layout's EXTRA_DIR
MAX_LOCK = 32 << 20
MAX_PACKAGES = 20000                # Debian's "standard" set is ~400 packages; a desktop ~3000
MAX_DEB = 4 << 30

_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
# A Debian pool path, as the archive's Packages index spells Filename: relative, plain segments.
_POOL_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+~%:_-]*\Z")
_NAME = re.compile(r"[a-z0-9][a-z0-9.+-]*\Z")
_VERSION = re.compile(r"[A-Za-z0-9.+~:-]+\Z")
_ARCH = re.compile(r"[a-z0-9-]+\Z")
_SOURCES_PATH = re.compile(r"etc/apt/sources\.list(\.d/[A-Za-z0-9_.-]+\.(list|sources))?\Z")


@dataclass(frozen=True)
class DebPackage:
    package: str
    version: str
    architecture: str
    filename: str                   # its pool path, relative to the mirror
    size: int
    sha256: str
    priority: str = ""              # as the archive's index says (a .deb's own control may differ)

    @property
    def deb_name(self) -> str:
        return self.filename.rsplit("/", 1)[-1]

    def to_json(self) -> dict:
        out = {"package": self.package, "version": self.version, "architecture": self.architecture,
               "filename": self.filename, "size": self.size, "sha256": self.sha256}
        if self.priority:
            out["priority"] = self.priority
        return out


@dataclass
class DebianInputs:
    mirror: str
    suite: str
    components: list[str]
    release: dict                   # {"file", "sha256", "size", "date"} of the InRelease/Release used
    packages: list[DebPackage]
    sources: dict[str, str]         # the image's apt sources, path (under the root) -> text

    def to_json(self) -> dict:
        return {"mirror": self.mirror, "suite": self.suite, "components": self.components,
                "release": self.release, "sources": dict(sorted(self.sources.items())),
                "packages": [p.to_json() for p in sorted(self.packages, key=_package_key)]}


@dataclass
class Lock:
    entry: dict                     # the catalog entry's table (one architecture), as built
    platform: str
    builder: str                    # the catalog's builder (debootstrap, guix-system, …)
    tool: dict                      # {"name", "version", "argv"}: how the builder ran (argv without host paths)
    source_date_epoch: int | None
    debian: DebianInputs | None = None
    guix: dict | None = None        # {"channels": [...], "derivation": "..."}
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"lockType": LOCK_TYPE, "entry": self.entry, "platform": self.platform,
               "builder": self.builder, "tool": self.tool, "sourceDateEpoch": self.source_date_epoch}
        if self.debian is not None:
            out["debian"] = self.debian.to_json()
        if self.guix is not None:
            out["guix"] = self.guix
        return out

    def to_bytes(self) -> bytes:
        # Sorted keys and one package per line: byte-identical for the same build, and a diff of two
        # locks reads as the list of what changed.
        return (json.dumps(self.to_json(), sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()

    def resolved_dependencies(self) -> list[dict]:
        """The inputs as SLSA ResourceDescriptors (provenance's resolvedDependencies)."""
        out = []
        if self.debian is not None:
            d = self.debian
            release = d.release
            if release.get("sha256"):
                out.append({"uri": f"{d.mirror}/dists/{d.suite}/{release['file']}", "name": release["file"],
                            "digest": {"sha256": release["sha256"]}})
            for p in sorted(d.packages, key=_package_key):
                out.append({"uri": f"{d.mirror}/{p.filename}", "name": p.package,
                            "digest": {"sha256": p.sha256},
                            "annotations": {"version": p.version, "architecture": p.architecture,
                                            "size": p.size}})
        if self.guix is not None:
            for ch in self.guix.get("channels", []):
                if ch.get("url") and ch.get("commit"):
                    out.append({"uri": ch["url"], "name": f"channel {ch['name']}", "digest": {"gitCommit": ch["commit"]}})
            if self.guix.get("derivation"):
                out.append({"uri": f"guix:{self.guix['derivation']}", "name": "derivation"})
        return out


def _package_key(p: DebPackage):
    return (p.package, p.architecture, p.version)


# -- reading a lock (a signed provenance's, a published artifact's, a file's) ---------------------

def parse(data: bytes, where: str) -> Lock:
    """A lock, checked: every field the rebuild uses has the type and shape it must."""
    obj = load_json(data, where, MAX_LOCK)
    if not isinstance(obj, dict) or obj.get("lockType") != LOCK_TYPE:
        raise InputError(f"{where}: not an fsdgimg lock (lockType is not {LOCK_TYPE})")
    entry, tool = obj.get("entry"), obj.get("tool")
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise InputError(f"{where}: 'entry' must be a catalog entry table with a name")
    if not isinstance(tool, dict):
        raise InputError(f"{where}: 'tool' must be an object")
    epoch = obj.get("sourceDateEpoch")
    if epoch is not None and (not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0):
        raise InputError(f"{where}: sourceDateEpoch must be a non-negative integer")
    for key in ("platform", "builder"):
        if not isinstance(obj.get(key), str):
            raise InputError(f"{where}: {key!r} must be a string")
    lock = Lock(entry, obj["platform"], obj["builder"], tool, epoch)
    if "debian" in obj:
        lock.debian = _debian(obj["debian"], where)
    if "guix" in obj:
        guix = obj["guix"]
        if not isinstance(guix, dict) or not isinstance(guix.get("channels", []), list):
            raise InputError(f"{where}: 'guix' must be an object with a list of channels")
        for ch in guix.get("channels", []):
            # A guix not from `guix pull` (Debian's) has no commit: recorded as null, which a
            # rebuild refuses ("pinned": false), never guessed.
            commit = ch.get("commit") if isinstance(ch, dict) else None
            if not (isinstance(ch, dict) and isinstance(ch.get("name"), str)
                    and (commit is None or (isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{40}", commit)))):
                raise InputError(f"{where}: a Guix channel needs a name and a 40-hex commit (or null)")
        lock.guix = guix
    return lock


def _debian(obj, where: str) -> DebianInputs:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: 'debian' must be an object")
    for key in ("mirror", "suite"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            raise InputError(f"{where}: debian.{key} must be a string")
    components = obj.get("components")
    if not isinstance(components, list) or not all(isinstance(c, str) and _POOL_SEGMENT.match(c) for c in components):
        raise InputError(f"{where}: debian.components must be a list of component names")
    release = obj.get("release")
    if not isinstance(release, dict):
        raise InputError(f"{where}: debian.release must be an object")
    sources = obj.get("sources")
    if not isinstance(sources, dict) or not all(isinstance(k, str) and _SOURCES_PATH.match(k) and isinstance(v, str)
                                                and len(v) < 65536 for k, v in sources.items()):
        raise InputError(f"{where}: debian.sources must map etc/apt/sources.list(.d/NAME) to its text")
    packages = obj.get("packages")
    if not isinstance(packages, list):
        raise InputError(f"{where}: debian.packages must be a list")
    if len(packages) > MAX_PACKAGES:
        raise InputError(f"{where}: {len(packages)} packages (at most {MAX_PACKAGES})")
    out, seen = [], set()
    for i, p in enumerate(packages):
        out.append(_package(p, f"{where}: debian.packages[{i}]"))
        if out[-1].filename in seen:
            raise InputError(f"{where}: {out[-1].filename} is listed twice")
        seen.add(out[-1].filename)
    return DebianInputs(obj["mirror"], obj["suite"], components, release, out, sources)


def _package(p, where: str) -> DebPackage:
    if not isinstance(p, dict):
        raise InputError(f"{where}: must be an object")
    for key, pattern in (("package", _NAME), ("version", _VERSION), ("architecture", _ARCH)):
        if not isinstance(p.get(key), str) or not pattern.match(p[key]):
            raise InputError(f"{where}: {key} {str(p.get(key))[:80]!r} is not a Debian {key}")
    check_pool_path(p.get("filename"), where)
    if not isinstance(p.get("sha256"), str) or not _SHA256.match(p["sha256"]):
        raise InputError(f"{where}: sha256 must be 64 lower-case hex digits")
    size = p.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_DEB:
        raise InputError(f"{where}: size {size!r} is not a .deb's")
    priority = p.get("priority", "")
    if not isinstance(priority, str) or (priority and not _NAME.match(priority)):
        raise InputError(f"{where}: priority must be a word")
    return DebPackage(p["package"], p["version"], p["architecture"], p["filename"], size, p["sha256"], priority)


def check_pool_path(path, where: str) -> str:
    """A pool path a rebuild may create under its local repository: relative, no `..`, no empty or
    hidden segments, ending in .deb (or a source package's file)."""
    if not isinstance(path, str) or len(path) > 512:
        raise InputError(f"{where}: the pool path must be a string")
    parts = path.split("/")
    if path.startswith("/") or not all(_POOL_SEGMENT.match(s) for s in parts) or ".." in parts:
        raise InputError(f"{where}: pool path {path[:120]!r} is not a relative path inside the archive")
    return path
