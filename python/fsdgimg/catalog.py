"""The image catalog (manifests/catalog.toml): which official images exist and how each is built.

The catalog is data; builders interpret an entry's builder-specific keys. This module only checks
what every entry must say (builder, distribution, pin, architecture) and the types of the keys it
knows, so that a typo in the catalog is one clear line, not a failure deep inside a build.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.errors import InputError, UsageError
from fsdgimg.reference import check_tag

BUILDERS = ("guix-system", "guix-pack", "debootstrap", "pacstrap")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}\Z")
_ARCHES = {"amd64", "arm64", "386", "arm", "ppc64le", "riscv64", "s390x", "mips64le"}

# key -> type, per builder (plus the common keys)
_COMMON = {"description": str, "distribution": str, "builder": str, "architecture": str,
           "tag": str, "cmd": list, "entry-point": str}
_KEYS = {
    "guix-system": {"file": str, "channels": str, "system": str},
    "guix-pack": {"manifest": str, "channels": str, "system": str, "max-layers": int},
    "debootstrap": {"mirror": str, "suite": str, "components": list, "variant": str,
                    "include": list, "keyring": str, "keyring-package": str, "keyring-source": dict,
                    "hooks": list,
                    "script": str},
    "pacstrap": {"mirror": str, "suite": str, "packages": list, "keyring-package": str},
}
_REQUIRED = {
    "guix-system": ("file", "channels", "system"),
    "guix-pack": ("manifest", "channels", "system"),
    "debootstrap": ("mirror", "suite"),
    "pacstrap": ("mirror", "packages"),
}
_GUIX_SYSTEM_ARCH = {"x86_64-linux": "amd64", "aarch64-linux": "arm64", "i686-linux": "386",
                     "armhf-linux": "arm", "powerpc64le-linux": "ppc64le", "riscv64-linux": "riscv64"}


@dataclass(frozen=True)
class Entry:
    name: str
    builder: str
    distribution: str
    architecture: str
    description: str
    options: dict = field(hash=False, compare=False)
    base: Path = field(hash=False, compare=False)  # the directory relative paths are taken from

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

    def to_json(self) -> dict:
        out = {"name": self.name, "builder": self.builder, "distribution": self.distribution,
               "architecture": self.architecture, "pin": self.pin, "tag": self.tag,
               "description": self.description}
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
    entries = {name: _entry(name, table, path, base) for name, table in images.items()}
    return Catalog(path, entries)


def _entry(name: str, table, path: Path, base: Path) -> Entry:
    where = f"{path}: image {name!r}"
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
    for key in ("distribution", "architecture") + _REQUIRED[builder]:
        if key not in table:
            raise InputError(f"{where}: missing {key!r}")
    arch = table["architecture"]
    if arch not in _ARCHES:
        raise InputError(f"{where}: unknown architecture {arch!r} (OCI names: {', '.join(sorted(_ARCHES))})")
    if "system" in table and _GUIX_SYSTEM_ARCH.get(table["system"]) != arch:
        raise InputError(f"{where}: Guix system {table['system']!r} does not build {arch} images")
    if "keyring-source" in table:
        _check_keyring_source(table["keyring-source"], where)
    if "tag" in table:
        try:
            check_tag(table["tag"])
        except InputError as e:
            raise InputError(f"{where}: {e}") from None
    if "max-layers" in table and not 1 <= table["max-layers"] <= 127:
        raise InputError(f"{where}: max-layers must be between 1 and 127")
    options = {k: v for k, v in table.items() if k not in ("builder", "distribution", "architecture", "description")}
    return Entry(name, builder, table["distribution"], arch, table.get("description", ""), options, base)


def _check_keyring_source(source: dict, where: str) -> None:
    """{url, sha256, member}: where to fetch a keyring the host lacks, pinned by its tarball's hash."""
    if set(source) != {"url", "sha256", "member"} or not all(isinstance(v, str) for v in source.values()):
        raise InputError(f"{where}: keyring-source needs exactly url, sha256 and member (strings)")
    if not re.fullmatch(r"[0-9a-f]{64}", source["sha256"]):
        raise InputError(f"{where}: keyring-source sha256 must be 64 lower-case hex digits")
    if not source["url"].startswith(("https://", "http://")):
        raise InputError(f"{where}: keyring-source url must be http(s); the sha256 pin makes plain http safe")


def guix_system_for(architecture: str) -> str:
    for system, arch in _GUIX_SYSTEM_ARCH.items():
        if arch == architecture:
            return system
    raise InputError(f"no Guix system type builds {architecture} images")
