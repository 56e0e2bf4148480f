"""Audit a bill of materials: each package free, nonfree or unknown, and the image's verdict.

Each package is decided by the first that applies: its distribution's rule (audit.rules: an
archive component outside the FSDG), else its license (audit.licenses). The report says which.
An SBOM with no packages, or with fewer than the image's package database lists, fails whatever
its packages say: an emptied or truncated SBOM must not read as a clean image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fsdgimg.audit import rules
from fsdgimg.audit.licenses import FREE, NONFREE, UNKNOWN, data_versions, judge_expression
from fsdgimg.sbom.model import Bom

PASS, FAIL = "pass", "fail"
BY_LICENSE = "license"


@dataclass
class Finding:
    name: str
    version: str | None
    license: str | None
    component: str | None
    role: str
    verdict: str
    reasons: list[str]
    rule: str = BY_LICENSE               # what decided: "license", or the distribution's rule
    detector: str | None = None          # who found the license (the SBOM's record of it)


@dataclass
class AuditReport:
    image: str
    digest: str | None
    distribution: str
    strict: bool
    findings: list[Finding]
    data: dict[str, str] = field(default_factory=data_versions)
    # Why the SBOM itself cannot pass (empty, short of the package database); None when it can.
    sbom_problem: str | None = None

    def of(self, verdict: str) -> list[Finding]:
        return [f for f in self.findings if f.verdict == verdict]

    @property
    def verdict(self) -> str:
        if self.sbom_problem or self.of(NONFREE) or (self.strict and self.of(UNKNOWN)):
            return FAIL
        return PASS

    @property
    def counts(self) -> dict[str, int]:
        return {v: len(self.of(v)) for v in (FREE, NONFREE, UNKNOWN)}

    @property
    def unknown_rate(self) -> float:
        return len(self.of(UNKNOWN)) / len(self.findings) if self.findings else 1.0

    def failure(self) -> str:
        """What fails the audit, in a line (empty when it passes)."""
        if self.verdict == PASS:
            return ""
        if self.sbom_problem:
            return self.sbom_problem
        bad = self.of(NONFREE) or self.of(UNKNOWN)
        what = "nonfree" if self.of(NONFREE) else "unknown license (--strict)"
        names = ", ".join(f.name for f in bad)
        return f"{len(bad)} {what}: " + (names if len(names) <= 300 else names[:297] + "...")

    def to_json(self) -> dict:
        return {"image": self.image, "digest": self.digest, "distribution": self.distribution,
                "verdict": self.verdict, "strict": self.strict, "counts": self.counts,
                "unknown_rate": round(self.unknown_rate, 4), "sbom_problem": self.sbom_problem,
                "license_data": self.data,
                "packages": [{"name": f.name, "version": f.version, "license": f.license,
                              "component": f.component, "role": f.role, "verdict": f.verdict,
                              "rule": f.rule, "detector": f.detector,
                              "reasons": f.reasons} for f in self.findings]}


def sbom_problem(bom: Bom) -> str | None:
    if not bom.packages:
        listed = f" (its package database lists {bom.database_packages})" if bom.database_packages else ""
        return f"the SBOM lists no packages{listed}: nothing to audit is no pass"
    if bom.database_packages is not None and len(bom.packages) < bom.database_packages:
        return (f"the SBOM lists {len(bom.packages)} packages, the package database "
                f"{bom.database_packages}: a truncated SBOM is no pass")
    return None


def audit(bom: Bom, strict: bool = False) -> AuditReport:
    findings = []
    for p in sorted(bom.packages, key=lambda p: (p.name, p.version or "")):
        verdict, reasons = judge_expression(p.license)
        rule = BY_LICENSE
        ruled = rules.judge(bom.distribution, p)
        if ruled is not None:
            verdict, reasons, rule = ruled[0], [ruled[1], *reasons], ruled[2]
        elif verdict == UNKNOWN:
            # What the detectors could not name is the rest of the reason.
            reasons = [*reasons, *(n for n in p.license_notes if "not recognised" in n
                                   or "no license detector" in n or "left unknown for review" in n)]
        findings.append(Finding(p.name, p.version, p.license, p.component, p.kind, verdict, reasons,
                                rule, p.license_detector))
    return AuditReport(bom.name, bom.image_digest, bom.distribution, strict, findings,
                       sbom_problem=sbom_problem(bom))
