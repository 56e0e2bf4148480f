"""The SBOM's and the audit's fast paths read exactly what the general code reads: a copyright file's
License lines (the inlined reader against deb822 paragraphs), and a license expression's verdict and
reasons (the built-in reading of plain SPDX expressions against license-expression's parser), on
this machine's real copyright files and on generated adversarial input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsdgimg.audit import licenses
from fsdgimg.sbom import debian

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _reference_lines(text: str) -> list[str]:
    """What the SBOM read before the inlined reader: every paragraph, then its fields."""
    out = []
    for para in debian.paragraphs(text, continuations=False):
        lic = para.get("License")
        if lic is not None and ("Files" in para or "Format" in para):
            out.append(lic.split("\n", 1)[0].strip())
    return out


def test_license_lines_of_this_machines_copyright_files():
    texts = [p.read_bytes().decode("utf-8", "replace") for p in sorted(Path("/usr/share/doc").glob("*/copyright"))
             if p.is_file()]
    machine_readable = [t for t in texts if t.startswith("Format:")]
    assert len(machine_readable) > 50
    for text in texts:
        assert debian._license_lines(text) == _reference_lines(text)


# Pieces a copyright file is made of, and the characters where readers of it could differ: other
# line breaks and whitespace (\r, \x0c, \x85, U+2028, non-breaking space), comments, colons.
_PIECES = ["Format: x", "Files: *", "Files-Excluded: y", "License: GPL-2+", "License : MIT", "License:",
           "Licenses: z", "Copyright: 2020 A", " continued", "\tcontinued", " .", "#License: no", "License",
           "\n", "\n", "\n", " ", "\t", ":", "\r", "\r\n", "\x0c", "\x85", "\u2028", "\xa0", "\x00", "é"]


@SETTINGS
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_license_lines_of_generated_files(pieces):
    text = "Format: https://example.org\n" + "".join(pieces)
    assert debian._license_lines(text) == _reference_lines(text)


@SETTINGS
@given(st.text(alphabet=st.characters(max_codepoint=0x3100), max_size=6))
def test_blank_as_the_inlined_reader_decides_it(line):
    """What paragraphs() calls blank (`not line.strip()`), the inlined reader decides without a copy."""
    assert (not line.strip()) == (not line or line.isspace())


def _reference_judgement(expression: str):
    """license-expression's parse, walked as the audit always did."""
    return licenses._judge_parsed(expression)


# Free, nonfree (ScanCode: proprietary), unknown and made-up licenses; exceptions; odd tokens.
_IDS = ["GPL-2.0-or-later", "MIT", "LGPL-2.0-or-later", "GPL-2.0+", "LicenseRef-public-domain",
        "LicenseRef-unRAR-restriction", "LicenseRef-HP", "Latex2e", "BSD-4-Clause-UC", "Apache-2.0",
        "LicenseRef-made-up", "NOASSERTION", "X11"]
_TOKENS = _IDS * 3 + ["AND", "OR", "AND", "OR", "WITH", "Bison-exception-2.2", "(", ")", "and", "or",
                      "with", "+", "a:b", "DocumentRef-x:LicenseRef-y", "-", "MIT+", ""]


@SETTINGS
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=12), st.sampled_from([" ", "  ", "\t"]))
def test_judgement_of_generated_expressions(tokens, sep):
    expression = sep.join(tokens)
    licenses._judge.cache_clear()
    assert licenses._judge(expression) == _reference_judgement(expression)


@pytest.mark.parametrize("expression", [
    "(GPL-2.0-or-later OR MIT) AND LicenseRef-HP", "MIT OR (LicenseRef-made-up AND (X11 OR Latex2e))",
    "GPL-2.0+ WITH Bison-exception-2.2 OR LicenseRef-unRAR-restriction", "A AND B OR C AND D",
    "((MIT))", "MIT AND MIT AND LicenseRef-HP OR Apache-2.0"])
def test_judgement_of_nested_expressions(expression):
    assert licenses._parse_simple(expression)            # the built-in reading takes these
    assert licenses._judge(expression) == _reference_judgement(expression)


def test_an_expression_the_parser_chokes_on_is_unknown():
    """license-expression (boolean.py) asserts on some malformed input instead of raising its error:
    still one reason, not a traceback (a hostile SBOM's licenseDeclared)."""
    verdict, reasons = licenses.judge_expression("( AND LGPL-2.0-or-later")
    assert verdict == licenses.UNKNOWN and len(reasons) == 1 and "does not parse" in reasons[0]

