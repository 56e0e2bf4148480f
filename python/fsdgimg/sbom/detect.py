"""License texts -> SPDX expressions, by maintained license detectors, for what DEP-5 does not name.

Two kinds of text need a detector: copyright files that are not machine-readable (base-files,
gcc-12-base, libc6 …), and the text of a DEP-5 license whose name is local to the file (`BSLA`,
`permissive-fsf`, `public-domain-md5`). No regular expressions of ours stand in for one:

1. Debian's `licensecheck` (its patterns are Regexp::Pattern::License): fast, a Debian package.
2. ScanCode's license detection (`scancode`, scancode-toolkit), for the texts licensecheck finds
   nothing in or names with a name SPDX lacks: it matches whole texts against ScanCode's
   LicenseDB, the database the audit's license table already uses, so what it names is judged.
   It is large (bench/audit measures it), so it runs in its own virtualenv (scripts/setup.sh) and
   only on what licensecheck leaves.

Each detector runs once for all the texts an SBOM needs (start-up is most of a small run), and
each answer is cached by the text's SHA-256 and the detector's version: a rebuild runs nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fsdgimg.sbom import licensedb
from fsdgimg.sbom.licenses import DEFINED_REFS, IDS, dep5_expression

UNKNOWN_ANSWER = "UNKNOWN"
_PAREN_WITH = re.compile(r"^\((.*)\)\s+with\s+(.+?)\s+exception$", re.I)
_REF = re.compile(r"LicenseRef-[A-Za-z0-9.\-]+")


@dataclass(frozen=True)
class Answer:
    detector: str        # "licensecheck v3.3.5", "scancode 32.5.0"
    text: str            # what it said, verbatim (UNKNOWN_ANSWER when nothing)


def cache_dir() -> Path:
    return licensedb.cache_root() / "license-detection"


def _version_of(exe: str | None, pattern: str) -> str | None:
    """The detector's version, asked once per executable: `--version` costs a start-up (ScanCode's
    is seconds), so the answer is cached beside the detections, keyed by the file's identity."""
    if exe is None:
        return None
    try:
        real = os.path.realpath(exe)
        st = os.stat(real)
    except OSError:
        return None
    stamp = hashlib.sha256(f"{real}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:32]
    cached = cache_dir() / "versions" / stamp
    try:
        return cached.read_text() or None
    except OSError:
        pass
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(pattern, out)
    if m is None:
        return None
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        part = cached.with_name(f".{stamp}.{os.getpid()}")
        part.write_text(m.group(1))
        part.replace(cached)
    except OSError:
        pass
    return m.group(1)


class Licensecheck:
    tool = "licensecheck"
    # The whole text (--lines 0): a copyright file names licenses well past its first 60 lines.
    # SPDX short names first, Debian's where SPDX has none (both are what dep5_expression reads).
    args = ["--lines", "0", "--shortname-scheme", "spdx,debian", "--machine", "--check", "."]

    @functools.cached_property
    def exe(self) -> str | None:
        return shutil.which(self.tool)

    @functools.cached_property
    def version(self) -> str | None:
        return _version_of(self.exe, r"version\s+(\S+)")

    def run(self, paths: list[str], tmp: str) -> dict[str, str]:
        proc = subprocess.run([self.exe, *self.args, *paths], capture_output=True, timeout=3600)
        out = {}
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            path, sep, answer = line.partition("\t")
            if sep:
                out[Path(path).name] = answer.strip() or UNKNOWN_ANSWER
        return out


class Scancode:
    tool = "scancode"
    args = ["--license", "--quiet", "--processes", "2", "--timeout", "300"]

    @functools.cached_property
    def exe(self) -> str | None:
        # scripts/setup.sh installs it in a virtualenv of its own (ScanCode's plugin system needs
        # an older pluggy than pytest does) and links it beside the project's interpreter.
        named = os.environ.get("FSDGIMG_SCANCODE")
        if named:
            return named if os.access(named, os.X_OK) else None
        beside = Path(sys.executable).parent / self.tool
        return str(beside) if os.access(beside, os.X_OK) else shutil.which(self.tool)

    @functools.cached_property
    def version(self) -> str | None:
        return _version_of(self.exe, r"ScanCode version:\s*(\S+)")

    def run(self, paths: list[str], tmp: str) -> dict[str, str]:
        directory = Path(paths[0]).parent
        report = Path(tmp) / "scancode.json"
        subprocess.run([self.exe, *self.args, "--json", str(report), str(directory)],
                       capture_output=True, timeout=3600)
        try:
            files = json.loads(report.read_bytes()).get("files") or []
        except (OSError, ValueError):
            return {}
        out = {}
        for f in files:
            if f.get("type") == "file":
                out[Path(f.get("path", "")).name] = self.answer(f)
        return out

    @staticmethod
    def answer(f: dict) -> str:
        """A file's detections in SPDX, less those that only find notices granting nothing
        (ScanCode's Unstated License category: a warranty disclaimer, "free-unknown", an export
        notice) beside real licenses. Alone, they stay: the text then names no license."""
        # Match by match: a detection joins its matches (`A AND (A AND free-unknown)`), and it is
        # one match that only finds a notice.
        exprs = [_without_unstated(m["license_expression_spdx"])
                 for d in f.get("license_detections") or [] if isinstance(d, dict)
                 for m in d.get("matches") or [] if isinstance(m, dict)
                 and isinstance(m.get("license_expression_spdx"), str)]
        # A match of an exception's text alone (`GCC-exception-3.1`) is no license, and SPDX
        # allows an exception only after WITH: it only adds permissions to the licenses found.
        exprs = [e for e in exprs if e.lower() not in licensedb.exceptions()]
        licensed = [e for e in exprs if not _all_unstated(e)]
        exprs = list(dict.fromkeys(licensed or exprs))
        if not exprs:
            return f.get("detected_license_expression_spdx") or UNKNOWN_ANSWER
        return " AND ".join(f"({e})" if " OR " in e or " AND " in e else e for e in exprs)


def _unstated(key: str) -> bool:
    return (licensedb.category(key) or ("",))[0] == licensedb.UNSTATED


def _all_unstated(expression: str) -> bool:
    keys = [k for k in re.split(r"[\s()]+", expression) if k and k.upper() not in ("AND", "OR", "WITH")]
    return bool(keys) and all(_unstated(k) for k in keys)


def _without_unstated(expression: str) -> str:
    """`A AND free-unknown` -> `A`: in a plain AND of licenses a notice that grants nothing adds
    nothing, nor does an exception standing alone (SPDX allows one only after WITH). With OR or
    parentheses the expression stays as it is."""
    if "(" in expression or " OR " in expression:
        return expression
    terms = expression.split(" AND ")
    kept = [t for t in terms if not _unstated(t.split(" WITH ")[0]) and t.lower() not in licensedb.exceptions()]
    return " AND ".join(kept or terms)


LICENSECHECK, SCANCODE = Licensecheck(), Scancode()
CHAIN = (LICENSECHECK, SCANCODE)


_VARIANT = re.compile(r"[A-Za-z0-9.+\-]+(?:~[A-Za-z0-9.+\-]+)+")


def _variant(m: re.Match) -> str:
    """licensecheck's Debian-scheme `FAMILY~VARIANT` (`MIT~OpenVision`): the variant when SPDX has
    an id of that name, else the name as it is (a LicenseRef: for ScanCode to name)."""
    variant = m.group(0).rsplit("~", 1)[1]
    return IDS.get(variant.lower(), m.group(0))


def to_expression(answer: str) -> tuple[str | None, list[str]]:
    """A detector's answer -> (SPDX expression or None for UNKNOWN, exceptions left out).
    licensecheck writes `A and/or B` for licenses found together and `(A and/or B) with X
    exception` for a shared exception: every license found counts (AND); an exception only adds
    permissions. ScanCode answers in SPDX already."""
    answer = _VARIANT.sub(_variant, answer.strip())
    dropped: list[str] = []
    if not answer or answer == UNKNOWN_ANSWER:
        return None, dropped
    m = _PAREN_WITH.match(answer)
    if m:
        inner, exc = m.group(1), m.group(2)
        parts = [dep5_expression(f"{p.strip()} with {exc} exception", dropped=dropped)
                 for p in re.split(r"\s+and/or\s+", inner) if p.strip()]
        return " AND ".join(f"({p})" if " OR " in p else p for p in dict.fromkeys(parts)), dropped
    if " WITH " in answer or "(" in answer or " AND " in answer or " OR " in answer:
        return answer, dropped          # an SPDX expression (ScanCode's)
    return dep5_expression(answer, dropped=dropped), dropped


def _settled(answer: str) -> bool:
    """Whether the answer needs no second detector: it names licenses, all known to SPDX (a
    LicenseRef of licensecheck's own naming, `MIT~OSF`, is for ScanCode to name)."""
    expr, _ = to_expression(answer)
    return expr is not None and not (set(_REF.findall(expr)) - DEFINED_REFS)


def _key(detector, text: bytes) -> str:
    return hashlib.sha256(f"{detector.tool} {detector.version}\0{' '.join(detector.args)}\0".encode()
                          + text).hexdigest()


def _cached(detector, texts: list[bytes]) -> tuple[dict[bytes, str], dict[str, bytes]]:
    cache = cache_dir()
    found, todo = {}, {}
    for text in texts:
        key = _key(detector, text)
        try:
            found[text] = (cache / key[:2] / key).read_text()
        except OSError:
            todo[key] = text
    return found, todo


def _store(todo: dict[str, bytes], answers: dict[bytes, str]) -> None:
    cache = cache_dir()
    for key, text in todo.items():
        if text in answers:
            try:
                (cache / key[:2]).mkdir(parents=True, exist_ok=True)
                part = cache / key[:2] / f".{key}.{os.getpid()}"
                part.write_text(answers[text])
                part.replace(cache / key[:2] / key)      # a reader never sees half an answer
            except OSError:
                pass                                     # no cache: only slower next time


def _detect_with(detector, texts: list[bytes]) -> dict[bytes, str]:
    answers, todo = _cached(detector, texts)
    if todo:
        with tempfile.TemporaryDirectory(prefix=f"fsdgimg-{detector.tool}-") as tmp:
            inputs = Path(tmp) / "texts"
            inputs.mkdir()
            for key, text in todo.items():
                (inputs / key).write_bytes(text)
            try:
                by_key = detector.run([str(inputs / k) for k in todo], tmp)
            except (OSError, subprocess.SubprocessError):
                by_key = {}
        fresh = {todo[k]: v for k, v in by_key.items() if k in todo}
        _store(todo, fresh)
        answers.update(fresh)
    return answers


def detect(texts: list[bytes]) -> dict[bytes, Answer]:
    """Each text -> the first detector's answer that settles it, else the last one's. Texts no
    installed detector answered are left out: the caller says so, and the licenses stay unknown."""
    out: dict[bytes, Answer] = {}
    pending = list(dict.fromkeys(texts))
    asked: list[str] = []
    for detector in CHAIN:
        if not pending or detector.version is None:
            continue
        answers = _detect_with(detector, pending)
        name = f"{detector.tool} {detector.version}"
        asked.append(name)
        for text in pending:
            # The texts still pending are those an earlier detector did not settle: a later one's
            # answer replaces it when it names anything at all.
            if text in answers and (text not in out or to_expression(answers[text])[0] is not None):
                out[text] = Answer(name, answers[text])
        pending = [t for t in pending if t not in answers or not _settled(answers[t])]
    for text, answer in out.items():
        if to_expression(answer.text)[0] is None:       # nobody named anything: say who was asked
            out[text] = Answer(" and ".join(asked), answer.text)
    return out
