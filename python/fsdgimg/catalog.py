"""The image catalog (manifests/catalog.toml): which official images exist and how each is built.

The catalog is data; builders interpret an entry's builder-specific keys. This module only checks
what every entry must say (builder, distribution, pin, architectures) and the types of the keys it
knows, so that a typo in the catalog is one clear line, not a failure deep inside a build.

An entry lists the architectures its distribution ships (`architectures`, OCI names; the older
single `architecture` still reads); what each builder calls them comes from fsdgimg.platforms.
A builder always gets an entry of one architecture (`Entry.for_arch`).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from fsdgimg import platforms
from fsdgimg.errors import InputError, UsageError, printable
from fsdgimg.oci.descriptor import Platform
from fsdgimg.oci.reference import check_tag
from fsdgimg.platforms import Arch

BUILDERS = ("guix-system", "guix-pack", "debootstrap", "pacstrap")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}\Z")

# key -> type, per builder (plus the common keys)
_COMMON = {"description": str, "distribution": str, "builder": str, "architecture": str,
           "architectures": list, "tag": str, "cmd": list, "entry-point": str}
_KEYS = {
    "guix-system": {"file": str, "channels": str, "system": str, "systems": dict},
    "guix-pack": {"manifest": str, "channels": str, "system": str, "systems": dict, "max-layers": int},
    "debootstrap": {"mirror": str, "suite": str, "components": list, "variant": str,
                    "include": list, "keyring": str, "keyring-package": str, "keyring-source": dict,
                    "hooks": list,
                    "script": str},
    "pacstrap": {"mirror": str, "suite": str, "packages": list, "keyring-package": str},
}
_REQUIRED = {
    "guix-system": ("file", "channels"),
    "guix-pack": ("manifest", "channels"),
    "debootstrap": ("mirror", "suite"),
    "pacstrap": ("mirror", "packages"),
}
# What each builder needs to know of an architecture: its name in the builder's tool.
_BUILDER_ARCH_FIELD = {"guix-system": "guix_system", "guix-pack": "guix_system", "debootstrap": "debian",
                       "pacstrap": "pacman"}


@dataclass(frozen=True)
class Entry:
    name: str
    builder: str
    distribution: str
    architectures: tuple[Arch, ...]
    description: str
    options: dict = field(hash=False, compare=False)
    base: Path = field(hash=False, compare=False)  # the directory relative paths are taken from

    def __post_init__(self):
        # Also accept OCI names ("amd64", or a list of them), as the catalog spells them.
        arches = self.architectures
        arches = (arches,) if isinstance(arches, (str, Arch)) else tuple(arches)
        object.__setattr__(self, "architectures",
                           tuple(a if isinstance(a, Arch) else platforms.lookup(a) for a in arches))

    @property
    def arch(self) -> Arch:
        """The one architecture of a single-platform entry (what a builder builds)."""
        if len(self.architectures) != 1:
            raise UsageError(f"{self.name} lists {len(self.architectures)} architectures "
                             f"({', '.join(map(str, self.architectures))}): one is built at a time")
        return self.architectures[0]

    @property
    def architecture(self) -> str:
        return self.arch.name

    @property
    def platform(self) -> Platform:
        return self.arch.platform

    def for_arch(self, name: str) -> "Entry":
        """This entry restricted to one of its architectures."""
        try:
            arch = platforms.lookup(name, f"--arch {name}")
        except InputError as e:
            raise UsageError(str(e)) from None
        if arch not in self.architectures:
            raise UsageError(f"{self.name} is not built for {arch.name} "
                             f"(its architectures: {', '.join(map(str, self.architectures))})")
        return replace(self, architectures=(arch,))

    @property
    def guix_system(self) -> str:
        """`--system` for this (single-architecture) Guix entry: the architecture's own system
        (native or emulated build), or the one `systems` gives to build it on."""
        arch = self.arch
        return self.options.get("systems", {}).get(arch.name) or arch.guix_system

    @property
    def guix_target(self) -> str | None:
        """`--target` when this architecture is cross-compiled: `systems` names another system."""
        arch = self.arch
        return arch.guix_target if self.guix_system != arch.guix_system else None

    @property
    def tag(self) -> str:
        return self.options.get("tag", "latest")

    @property
    def is_guix(self) -> bool:
        return self.builder.startswith("guix-")

    @property
    def pin(self) -> str:
        """What fixes this image's inputs: a channels file (or the host's guix), or a suite."""
        if self.is_guix:
            ch = self.options["channels"]
            return "guix (host)" if ch == "host" else f"channels {ch}"
        suite = self.options.get("suite", "")
        return f"{self.distribution} {suite}".strip()

    def path(self, key: str) -> Path:
        return (self.base / self.options[key]).resolve()

    def get(self, key: str, default=None):
        return self.options.get(key, default)

    def table(self) -> dict:
        """The entry as a catalog table spells it (what a lock records; `from_table` reads it back)."""
        out = {"builder": self.builder, "distribution": self.distribution,
               "architectures": [a.name for a in self.architectures]}
        if self.description:
            out["description"] = self.description
        out.update(self.options)
        return dict(sorted(out.items()))

    def to_json(self) -> dict:
        out = {"name": self.name, "builder": self.builder, "distribution": self.distribution,
               "architectures": [a.name for a in self.architectures],
               "platforms": [str(a.platform) for a in self.architectures],
               "pin": self.pin, "tag": self.tag, "description": self.description}
        if self.is_guix:
            one = [replace(self, architectures=(a,)) for a in self.architectures]
            out["systems"] = {e.arch.name: e.guix_system for e in one}
            targets = {e.arch.name: e.guix_target for e in one if e.guix_target}
            if targets:
                out["targets"] = targets
        out.update({k: v for k, v in sorted(self.options.items()) if k not in out})
        return out


@dataclass
class Catalog:
    path: Path
    entries: dict[str, Entry]

    def get(self, name: str) -> Entry:
        try:
            return self.entries[name]
        except KeyError:
            known = ", ".join(sorted(self.entries)) or "none"
            raise UsageError(f"no image {name!r} in the catalog {self.path} (known: {known})") from None


def default_path() -> Path:
    """$FSDGIMG_CATALOG, else manifests/catalog.toml of the checkout this package runs from, else
    that of the current directory (an installed fsdgimg run from a checkout of the channel)."""
    env = os.environ.get("FSDGIMG_CATALOG")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent.parent / "manifests" / "catalog.toml"
    here = Path.cwd() / "manifests" / "catalog.toml"
    return checkout if checkout.is_file() or not here.is_file() else here


def load(path: Path | None = None) -> Catalog:
    path = Path(path) if path else default_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: image catalog not found (set FSDGIMG_CATALOG or use --catalog)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the image catalog ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: malformed TOML ({e})") from None
    except RecursionError:  # tomllib recurses once per nesting level of arrays and tables
        raise InputError(f"{path}: malformed TOML (nested too deeply)") from None
    images = data.get("images")
    if not isinstance(images, dict) or not images:
        raise InputError(f"{path}: no [images.NAME] tables")
    # Relative paths in the shipped catalog are relative to the repository (manifests/..).
    root = data.get("root", "..")
    if not isinstance(root, str):
        raise InputError(f"{path}: 'root' must be a path")
    base = (path.parent / root).resolve()
    entries = {name: from_table(name, table, f"{path}: image {name!r}", base) for name, table in images.items()}
    return Catalog(path, entries)


def from_table(name: str, table, where: str, base: Path) -> Entry:
    """An entry from its table (the catalog's, or the one a lock recorded), checked as the catalog's are."""
    if not _NAME.match(name):
        raise InputError(f"{where}: invalid name (lower-case letters, digits, '.', '_', '-')")
    if not isinstance(table, dict):
        raise InputError(f"{where}: must be a table")
    builder = table.get("builder")
    if builder not in BUILDERS:
        raise InputError(f"{where}: builder {builder!r} is not one of {', '.join(BUILDERS)}")
    known = {**_COMMON, **_KEYS[builder]}
    for key, value in table.items():
        if key not in known:
            raise InputError(f"{where}: unknown key {key!r} for builder {builder}")
        if not isinstance(value, known[key]) or isinstance(value, bool):
            raise InputError(f"{where}: {key!r} must be a {known[key].__name__}")
        if known[key] is list and not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: {key!r} must be a list of strings")
        # Catalog values reach terminals (`fsdgimg list`), pages and command lines: control
        # characters in them are refused, not carried.
        texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        if any(printable(t) != t for t in texts):
            raise InputError(f"{where}: {key!r} holds a control character")
    for key in ("distribution",) + _REQUIRED[builder]:
        if key not in table:
            raise InputError(f"{where}: missing {key!r}")
    arches = _architectures(table, builder, where)
    if "keyring-source" in table:
        _check_keyring_source(table["keyring-source"], where)
    if "tag" in table:
        try:
            check_tag(table["tag"])
        except InputError as e:
            raise InputError(f"{where}: {e}") from None
    if "max-layers" in table and not 1 <= table["max-layers"] <= 127:
        raise InputError(f"{where}: max-layers must be between 1 and 127")
    options = {k: v for k, v in table.items()
               if k not in ("builder", "distribution", "architecture", "architectures", "description", "system")}
    if "systems" in options:
        options["systems"] = {platforms.lookup(k).name: v for k, v in options["systems"].items()}
    return Entry(name, builder, table["distribution"], arches, table.get("description", ""), options, base)


def _architectures(table: dict, builder: str, where: str) -> tuple[Arch, ...]:
    """`architectures` (or the single `architecture`), each known to OCI and to the builder's tool;
    a Guix entry's `system` (one architecture) or `systems` (per architecture) checked against them."""
    if ("architecture" in table) == ("architectures" in table):
        raise InputError(f"{where}: give 'architectures' (a list of OCI names)"
                         if "architecture" not in table else f"{where}: give 'architectures' or 'architecture', not both")
    names = table["architectures"] if "architectures" in table else [table["architecture"]]
    if not names:
        raise InputError(f"{where}: 'architectures' is empty")
    arches = tuple(platforms.lookup(n, where) for n in names)
    dupes = sorted({a.name for a in arches if arches.count(a) > 1})
    if dupes:
        raise InputError(f"{where}: architecture {dupes[0]} is listed twice")
    tool_field = _BUILDER_ARCH_FIELD[builder]
    for a in arches:
        if getattr(a, tool_field) is None:
            raise InputError(f"{where}: builder {builder} cannot build {a.name} images")
    if "system" in table:
        system_arch = platforms.for_guix_system(table["system"], where)
        if len(arches) != 1 or arches[0] != system_arch:
            raise InputError(f"{where}: Guix system {table['system']!r} does not build "
                             f"{', '.join(a.name for a in arches)} images")
    for name, system in table.get("systems", {}).items():
        arch = platforms.lookup(name, f"{where}: systems")
        if arch not in arches:
            raise InputError(f"{where}: systems names {arch.name}, which is not in its architectures")
        if not isinstance(system, str):
            raise InputError(f"{where}: systems.{name} must be a Guix system type (a string)")
        platforms.for_guix_system(system, f"{where}: systems.{name}")
    return arches


def _check_keyring_source(source: dict, where: str) -> None:
    """{url, sha256, member}: where to fetch a keyring the host lacks, pinned by its tarball's hash."""
    if set(source) != {"url", "sha256", "member"} or not all(isinstance(v, str) for v in source.values()):
        raise InputError(f"{where}: keyring-source needs exactly url, sha256 and member (strings)")
    if not re.fullmatch(r"[0-9a-f]{64}", source["sha256"]):
        raise InputError(f"{where}: keyring-source sha256 must be 64 lower-case hex digits")
    if not source["url"].startswith(("https://", "http://")):
        raise InputError(f"{where}: keyring-source url must be http(s); the sha256 pin makes plain http safe")
