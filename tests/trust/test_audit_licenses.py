"""The audit's license knowledge (issue 21, items 2 and 3): DEP-5 names normalized as Debian's
copyright-format 1.0 defines them, the license table's verdicts from the maintained data (the
FSF's categories: free software, free documentation, GPL-incompatible free; nonfree), and the
detectors' answers read as expressions. No test data here is a list the code also holds: the
expected values are what the FSF and the SPDX list say of each license."""

from __future__ import annotations

import shutil

import pytest

from fsdgimg.audit.licenses import judge_expression
from fsdgimg.audit.table import FREE, NONFREE, UNKNOWN, judge_license
from fsdgimg.sbom import detect
from fsdgimg.sbom.licenses import dep5_expression


@pytest.mark.parametrize("dep5, spdx", [
    # versioned and `+` forms
    ("GPL-2+", "GPL-2.0-or-later"), ("GPL-2", "GPL-2.0-only"), ("LGPL-2.1+", "LGPL-2.1-or-later"),
    ("GPL-3.0+", "GPL-3.0-or-later"), ("AGPL-3+", "AGPL-3.0-or-later"), ("LGPL-2.0+", "LGPL-2.0-or-later"),
    # unversioned GNU names mean any version
    ("GPL", "GPL-1.0-or-later"), ("LGPL", "LGPL-2.0-or-later"),
    # the GFDL without invariant sections, spelled three ways
    ("GFDL-NIV-1.3", "GFDL-1.3-no-invariants-only"), ("GFDL-NIV-1.3+", "GFDL-1.3-no-invariants-or-later"),
    ("GFDL-1.3 no invariant", "GFDL-1.3-no-invariants-only"),
    ("GFDL-1.3+-no-invariant", "GFDL-1.3-no-invariants-or-later"),
    # the spec's short names
    ("Expat", "MIT"), ("BSD-3-clause", "BSD-3-Clause"), ("BSD-2-clause", "BSD-2-Clause"),
    ("BSD-4-clause", "BSD-4-Clause"), ("Zlib", "Zlib"), ("ZLIB", "Zlib"), ("Apache-2.0", "Apache-2.0"),
    ("Apache-2", "Apache-2.0"), ("Artistic", "Artistic-1.0"), ("MPL-2.0", "MPL-2.0"), ("ISC", "ISC"),
    ("CC0-1.0", "CC0-1.0"), ("Perl", "Artistic-1.0-Perl OR GPL-1.0-or-later"),
    ("public-domain", "LicenseRef-public-domain"),
    # `with … exception` -> SPDX WITH; the exception's version from the license's when several
    ("GPL-3+ with Bison exception", "GPL-3.0-or-later WITH Bison-exception-2.2"),
    ("GPL-3+ with Bison-2.2 exception", "GPL-3.0-or-later WITH Bison-exception-2.2"),
    ("GPL-3+-WITH-BISON-EXCEPTION", "GPL-3.0-or-later WITH Bison-exception-2.2"),
    ("GPL-3+ with autoconf exception", "GPL-3.0-or-later WITH Autoconf-exception-3.0"),
    ("GPL-2+ with Autoconf exception", "GPL-2.0-or-later WITH Autoconf-exception-2.0"),
    ("GPL-3+ with texinfo exception", "GPL-3.0-or-later WITH Texinfo-exception"),
    ("GPL-2 with Linux-syscall-note exception", "GPL-2.0-only WITH Linux-syscall-note"),
    ("GPL-3+ with GCC-exception-3.1 exception", "GPL-3.0-or-later WITH GCC-exception-3.1"),
    # compound lines: `and/or` weighs both; a comma lowers the precedence of what follows
    ("BSD-3-clause and/or GPL-3+", "BSD-3-Clause AND GPL-3.0-or-later"),
    ("GPL-1+ or Artistic, and Expat", "(GPL-1.0-or-later OR Artistic-1.0) AND MIT"),
    ("LGPL-3.0+ or GPL-2+", "LGPL-3.0-or-later OR GPL-2.0-or-later"),
    # a local name stays a LicenseRef (its text goes to the detectors); `-with-` inside a name
    # is no exception unless SPDX lists one
    ("BSLA", "LicenseRef-BSLA"),
    ("BSD-3-clause-with-weird-numbering", "LicenseRef-BSD-3-clause-with-weird-numbering"),
])
def test_dep5_names(dep5, spdx):
    assert dep5_expression(dep5) == spdx


def test_an_exception_spdx_does_not_list_leaves_the_license_and_is_recorded():
    dropped: list[str] = []
    assert dep5_expression("GPL-2+ with OpenSSL exception", dropped=dropped) == "GPL-2.0-or-later"
    assert dropped == ["GPL-2+ with OpenSSL exception"]


@pytest.mark.parametrize("key", [
    "LGPL-2.0-or-later",            # the FSF lists LGPLv2 as free; SPDX's flag lacks it
    "GFDL-1.3-no-invariants-only",  # a free documentation license
    "GFDL-1.3-no-invariants-or-later",
    "FSFAP", "FSFULLR",             # the FSF's all-permissive notices
    "X11", "BSD-4-Clause-UC", "BSD-4-Clause",   # free, GPL-incompatible
    "Latex2e", "SMAIL-GPL", "GPL-1.0-or-later", "Sleepycat", "Zlib",
    "SISSL",                        # FSF: free; ScanCode: Proprietary Free — the FSF's word wins
    "LicenseRef-public-domain",     # Debian's public-domain, ScanCode's public-domain
    "GCC-exception-3.1",            # an exception standing alone takes nothing away
])
def test_free_licenses(key):
    verdict, reason = judge_license(key)
    assert verdict == FREE, reason


@pytest.mark.parametrize("key", [
    "LicenseRef-scancode-proprietary-license",
    "CC-BY-NC-4.0",                 # non-commercial: ScanCode's Source-available/restricted
    "LicenseRef-scancode-commercial-license",
])
def test_nonfree_licenses(key):
    verdict, reason = judge_license(key)
    assert verdict == NONFREE, reason
    assert "ScanCode LicenseDB" in reason


@pytest.mark.parametrize("key", ["LicenseRef-made-up", "LicenseRef-scancode-unknown-license-reference"])
def test_unknown_licenses(key):
    verdict, _ = judge_license(key)
    assert verdict == UNKNOWN


def test_a_package_is_judged_by_all_its_licenses():
    assert judge_expression("GPL-2.0-or-later AND FSFAP AND GFDL-1.3-no-invariants-only")[0] == FREE
    assert judge_expression("GPL-2.0-or-later AND LicenseRef-made-up")[0] == UNKNOWN
    assert judge_expression("GPL-2.0-or-later AND CC-BY-NC-4.0")[0] == NONFREE
    assert judge_expression("CC-BY-NC-4.0 OR MIT")[0] == FREE
    assert judge_expression("GPL-3.0-or-later WITH Bison-exception-2.2")[0] == FREE


@pytest.mark.parametrize("answer, expr", [
    ("GPL-2.0-or-later", "GPL-2.0-or-later"),
    ("BSD-3-Clause and/or GPL-2.0-or-later and/or ISC", "BSD-3-Clause AND GPL-2.0-or-later AND ISC"),
    ("(GPL-3.0-or-later and/or MIT) with GCC-exception-3.1 exception",
     "GPL-3.0-or-later WITH GCC-exception-3.1 AND MIT WITH GCC-exception-3.1"),
    ("MIT~OpenVision", "OpenVision"),       # licensecheck's FAMILY~VARIANT, the variant an SPDX id
    ("public-domain", "LicenseRef-public-domain"),
    ("UNKNOWN", None),
])
def test_detector_answers(answer, expr):
    assert detect.to_expression(answer)[0] == expr


def test_licensecheck_names_a_text_and_the_answer_is_cached(tmp_path, monkeypatch):
    assert shutil.which("licensecheck"), "licensecheck is not installed (scripts/setup.sh installs it)"
    monkeypatch.setenv("FSDGIMG_CACHE", str(tmp_path))
    text = (b"License: permissive\n Copying and distribution of this file, with or without modification,\n"
            b" are permitted in any medium without royalty provided the copyright notice\n"
            b" and this notice are preserved.  This file is offered as-is, without any warranty.\n")
    [answer] = detect.detect([text]).values()
    assert answer.detector.startswith("licensecheck ") and answer.text == "FSFAP"
    assert len(list(tmp_path.rglob("*"))) >= 2          # its cache entry
    assert detect.detect([text])[text] == answer         # answered from the cache


def test_a_detectors_nonfree_match_leaves_the_license_unknown_never_nonfree():
    """A detector matches by likeness (ScanCode reads vim's Compaq grant as "proprietary-license");
    only the distribution's records make a package nonfree. Its nonfree match leaves the name
    unknown — never free — with the reason in the SBOM."""
    from fsdgimg.sbom import copyright, debian
    text = DEP5_LOCAL.encode()
    c = copyright.read(text, debian._license_lines)
    [body] = c.texts.values()
    lic = copyright.resolve(c, {body: detect.Answer("scancode 32.5.0", "LicenseRef-scancode-proprietary-license")})
    assert lic.expression == "GPL-2.0-or-later AND LicenseRef-Compaq"
    assert judge_expression(lic.expression)[0] == UNKNOWN
    assert any("left unknown for review" in n for n in lic.notes)
    # A free match replaces the name.
    lic = copyright.resolve(c, {body: detect.Answer("licensecheck v3.3.5", "MIT")})
    assert lic.expression == "GPL-2.0-or-later AND MIT" and judge_expression(lic.expression)[0] == FREE
    assert lic.declared == "GPL-2.0-or-later AND LicenseRef-Compaq"


DEP5_LOCAL = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
License: GPL-2+

Files: src/xpm/*
License: Compaq

License: Compaq
 1. GRANT
 Compaq Computer Corporation grants you the right to copy, modify, and
 distribute Software.
"""
