"""ScanCode's LicenseDB index, as the `license-expression` package ships it: each license key,
its SPDX ids and its category. Shared by the license detection (sbom.detect) and the audit's
license table (audit.table); read once, without importing license_expression itself (slower to
import than a report takes to write)."""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

UNSTATED = "Unstated License"      # ScanCode's category for notices that grant nothing themselves


@functools.lru_cache(maxsize=1)
def index() -> list[dict]:
    package = Path(importlib.util.find_spec("license_expression").submodule_search_locations[0])
    return json.loads((package / "data" / "scancode-licensedb-index.json").read_bytes())


@functools.lru_cache(maxsize=1)
def categories() -> dict[str, tuple[str, str]]:
    """ScanCode license key and SPDX ids (lower case, `LicenseRef-scancode-` removed) ->
    (category, ScanCode key), exceptions excluded."""
    out: dict[str, tuple[str, str]] = {}
    # SPDX ids first: an SPDX id that is also another license's ScanCode key means the SPDX one.
    for lic in index():
        if lic.get("category") and not lic.get("is_exception"):
            for key in [lic.get("spdx_license_key"), *(lic.get("other_spdx_license_keys") or [])]:
                if key:
                    out.setdefault(key.lower().removeprefix("licenseref-scancode-"),
                                   (lic["category"], lic["license_key"]))
    for lic in index():
        if lic.get("category") and not lic.get("is_exception") and lic.get("license_key"):
            out.setdefault(lic["license_key"].lower(), (lic["category"], lic["license_key"]))
    return out


@functools.lru_cache(maxsize=1)
def exceptions() -> frozenset[str]:
    """ScanCode's exception keys and their SPDX ids (lower case)."""
    keys = set()
    for lic in index():
        if lic.get("is_exception"):
            keys.update(k.lower() for k in [lic.get("license_key"), lic.get("spdx_license_key"),
                                            *(lic.get("other_spdx_license_keys") or [])] if k)
    return frozenset(keys)


def category(key: str) -> tuple[str, str] | None:
    """(category, ScanCode key) of an SPDX id or LicenseRef-scancode-KEY, else None."""
    return categories().get(key.lower().removeprefix("licenseref-scancode-"))
