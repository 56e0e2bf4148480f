"""Audit a bill of materials: each package free, nonfree or unknown, and the image's verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from fsdgimg.audit import rules
from fsdgimg.audit.licenses import FREE, NONFREE, UNKNOWN, data_versions, judge_expression
from fsdgimg.sbom.model import Bom

PASS, FAIL = "pass", "fail"


@dataclass
class Finding:
    name: str
    version: str | None
    license: str | None
    component: str | None
    role: str
    verdict: str
    reasons: list[str]


@dataclass
class AuditReport:
    image: str
    digest: str | None
    distribution: str
    strict: bool
    findings: list[Finding]
    data: dict[str, str] = field(default_factory=data_versions)

    def of(self, verdict: str) -> list[Finding]:
        return [f for f in self.findings if f.verdict == verdict]

    @property
    def verdict(self) -> str:
        if self.of(NONFREE) or (self.strict and self.of(UNKNOWN)):
            return FAIL
        return PASS

    @property
    def counts(self) -> dict[str, int]:
        return {v: len(self.of(v)) for v in (FREE, NONFREE, UNKNOWN)}

    def to_json(self) -> dict:
        return {"image": self.image, "digest": self.digest, "distribution": self.distribution,
                "verdict": self.verdict, "strict": self.strict, "counts": self.counts,
                "license_data": self.data,
                "packages": [{"name": f.name, "version": f.version, "license": f.license,
                              "component": f.component, "role": f.role, "verdict": f.verdict,
                              "reasons": f.reasons} for f in self.findings]}


def audit(bom: Bom, strict: bool = False) -> AuditReport:
    findings = []
    for p in sorted(bom.packages, key=lambda p: (p.name, p.version or "")):
        verdict, reasons = judge_expression(p.license)
        ruled = rules.judge(bom.distribution, p)
        if ruled is not None:
            verdict, reasons = ruled[0], [ruled[1], *reasons]
        findings.append(Finding(p.name, p.version, p.license, p.component, p.kind, verdict, reasons))
    return AuditReport(bom.name, bom.image_digest, bom.distribution, strict, findings)
