"""A Debian package's license from its copyright file (/usr/share/doc/PKG/copyright).

Machine-readable files (copyright-format 1.0, "DEP-5"): every Files paragraph's License names,
normalized to SPDX (sbom.licenses); the package's license is all of them together (AND), since
each covers some of its files. A name local to the file (`BSLA`, `permissive-fsf`) comes with its
text, in the paragraph or a stand-alone License paragraph: that text goes to the detector.
Files that are not machine-readable go to the detector whole.

Reading a file (`read`) and detecting (`resolve`) are two steps so that an SBOM runs the detector
once for all its packages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fsdgimg.sbom import detect, licensedb
from fsdgimg.sbom.licenses import DEFINED_REFS, conjunction, dep5_expression

DEP5 = "DEP-5 copyright file"
_FORMAT = re.compile(r"^Format:\s*\S")
_REF = re.compile(r"(?<![A-Za-z0-9.\-])LicenseRef-[A-Za-z0-9.\-]+")
_DEP5_NAME_REF = "LicenseRef-"


@dataclass
class Copyright:
    declared: str | None                 # SPDX expression of the DEP-5 names (None: not machine-readable)
    raw: str | None                      # the License lines verbatim
    # LicenseRef-NAME -> the license's text in the file, for the detector.
    texts: dict[str, bytes] = field(default_factory=dict)
    whole: bytes | None = None           # a file that is not machine-readable, for the detector
    dropped: list[str] = field(default_factory=list)   # `with X exception` SPDX does not list


@dataclass
class License:
    expression: str | None               # what the audit judges (None: nothing found)
    declared: str | None                 # what the file declares, where it differs from `expression`
    raw: str | None
    detector: str | None                 # who judged it: DEP5, licensecheck, or both
    notes: list[str] = field(default_factory=list)


def _paragraph_texts(text: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """([(first line, body)] of the Files and header paragraphs, {first line: body} of the
    stand-alone License paragraphs) — the full reading, only for files with local names."""
    from fsdgimg.sbom.deb822 import paragraphs
    files, standalone = [], {}
    for para in paragraphs(text):
        # Field names are case-insensitive (copyright-format 1.0 follows deb822): `files:` occurs.
        fields = {k.lower(): v for k, v in para.items()}
        lic = fields.get("license")
        if lic is None:
            continue
        first, _, body = lic.partition("\n")
        first = first.strip()
        if "files" in fields or "format" in fields:
            files.append((first, body))
        elif body.strip():
            standalone.setdefault(first, body)
            standalone.setdefault(first.lower(), body)
    return files, standalone


def read(data: bytes | None, lines_of) -> Copyright | None:
    """A copyright file -> what it declares and what needs the detector; None when missing.
    `lines_of`: the fast License-line reader (debian._license_lines)."""
    if not data:
        return None
    text = data.decode("utf-8", "replace")
    if not data.startswith(b"Format:") or not _FORMAT.match(text):
        return Copyright(declared=None, raw=None, whole=data)
    raw = [first for first in lines_of(text) if first]
    out = Copyright(declared=None, raw=" | ".join(dict.fromkeys(raw)) or None)
    exprs = [dep5_expression(first, dropped=out.dropped) for first in raw]
    out.declared = conjunction(exprs)
    # Names the copyright-format spec defines (public-domain) need no detector.
    refs = {r for e in exprs for r in _REF.findall(e)} - DEFINED_REFS
    if refs:
        files, standalone = _paragraph_texts(text)
        for first, body in files:
            for ref in set(_REF.findall(dep5_expression(first))) & refs:
                name = ref[len(_DEP5_NAME_REF):]
                found = body.strip() or _standalone(standalone, first, name)
                if found and ref not in out.texts:
                    # As the file writes it, the License line too: detectors read a license's
                    # name where its text is a variant they have no rule for.
                    out.texts[ref] = f"License: {name}\n{found}".encode()
    return out


def _standalone(standalone: dict[str, str], first: str, name: str) -> str | None:
    """The stand-alone paragraph of a local name: the whole first line, else the name alone (its
    LicenseRef spelling turned back: `-` for the spaces the name may have had)."""
    for key in (first, first.lower(), name, name.lower(), name.replace("-", " "), name.lower().replace("-", " ")):
        if standalone.get(key, "").strip():
            return standalone[key]
    for key, body in standalone.items():
        if re.sub(r"[^A-Za-z0-9.\-]+", "-", key).strip("-").lower() == name.lower() and body.strip():
            return body
    return None


def needs(c: Copyright | None) -> list[bytes]:
    """The texts `c` needs the detector for."""
    if c is None:
        return []
    return [c.whole] if c.whole is not None else list(c.texts.values())


def _not_by_a_detector(terms: list[str]) -> str:
    # A detector matches texts by likeness; the archive's review of the package (and the
    # distribution's records) is what can make it nonfree. Its nonfree match leaves the license
    # unknown, for a person to read, never free.
    return (f"a detector's match of {', '.join(terms)} (nonfree in ScanCode's LicenseDB) is not "
            "taken as the license: left unknown for review")


def _left_out(dropped: list[str]) -> list[str]:
    return [f"left out {d} (an exception only adds permissions)" for d in dropped]


def resolve(c: Copyright | None, answers: dict[bytes, detect.Answer]) -> License:
    """The license of a file read by `read`, with the detectors' `answers` (detect.detect)."""
    if c is None:
        return License(None, None, None, None)
    if c.whole is not None:
        answer = answers.get(c.whole)
        if answer is None:
            return License(None, None, None, None, ["copyright file not machine-readable, and no "
                                                    "license detector is installed"])
        expr, dropped = detect.to_expression(answer.text)
        notes = [f"{answer.detector} on the copyright file (not machine-readable): {answer.text}",
                 *_left_out(dropped)]
        bad = licensedb.nonfree_terms(expr or "")
        if bad:
            notes.append(_not_by_a_detector(bad))
            expr = None
        return License(expr, None, None, f"{answer.detector} (whole copyright file)", notes)
    expr, notes, used = c.declared, _left_out(c.dropped), []
    for ref, body in sorted(c.texts.items()):
        name = ref[len(_DEP5_NAME_REF):]
        answer = answers.get(body)
        if answer is None:
            notes.append(f"{name}: no license detector is installed")
            continue
        found, dropped = detect.to_expression(answer.text)
        if found is None:
            notes.append(f"{name}: its text is not recognised by {answer.detector}")
            continue
        bad = licensedb.nonfree_terms(found)
        if bad:
            notes.append(f"{name}: {found} ({answer.detector} on its text); " + _not_by_a_detector(bad))
            continue
        used.append(answer.detector)
        notes += [f"{name}: {found} ({answer.detector} on its text)", *_left_out(dropped)]
        replacement = f"({found})" if " " in found else found
        expr = re.sub(r"(?<![A-Za-z0-9.\-])" + re.escape(ref) + r"(?![A-Za-z0-9.\-])", replacement, expr or "")
    detector = f"{DEP5} + {', '.join(dict.fromkeys(used))} (local license names)" if used else DEP5
    return License(expr, c.declared if expr != c.declared else None, c.raw, detector, notes)
