"""The SBOM and audit stage of `fsdgimg build`: after the check, before anything is written.

A Guix image's bill of materials comes from the channel (the same pinned guix that built it);
every other image's from its root file system. A failing audit stops the build: the reports are
written beside the destination (`OUT.audit/`), the image is neither written nor published.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from fsdgimg.audit.audit import PASS, AuditReport, audit
from fsdgimg.audit.licenses import NONFREE, UNKNOWN
from fsdgimg.errors import FsdgimgError
from fsdgimg.sbom import spdx
from fsdgimg.sbom.model import Bom

SBOM_FILE = "sbom.spdx.json"
AUDIT_DIR = "audit"
VERDICT = "org.fsdgimg.audit.verdict"
COUNTS = "org.fsdgimg.audit.packages"
# The digest of the image as built, before annotations: what a rebuild must reproduce and what the
# SBOM describes (`fsdgimg verify --rebuild` compares with it).
BUILT = "org.fsdgimg.built"


class AuditFailed(FsdgimgError):
    pass


@dataclass
class TrustStage:
    bom: Bom
    report: AuditReport

    @property
    def passed(self) -> bool:
        return self.report.verdict == PASS or (self.unaudited and not self.report.strict)

    @property
    def unaudited(self) -> bool:
        """An image whose package database lists nothing, or that has none (a static binary, a
        test's tiny tree): the audit has nothing to judge, and fails (an empty SBOM is never a pass;
        `verify` says so too). The build treats it as it treats an unknown license: written, its
        verdict recorded as failed, refused only with --strict. An SBOM emptied of what its
        database lists is not this."""
        return not self.bom.packages and not self.bom.database_packages

    def annotations(self) -> dict[str, str]:
        c = self.report.counts
        return {BUILT: self.bom.image_digest, VERDICT: self.report.verdict,
                COUNTS: f"{c['free']} free, {c['nonfree']} nonfree, {c['unknown']} unknown"}

    def save(self, directory: Path) -> dict[str, Path]:
        """sbom.spdx.json and audit/report.{txt,html,json} in `directory`."""
        from fsdgimg.audit.report import save
        from fsdgimg.transports.static.files import write_bytes
        files = {f"audit-{k}": v for k, v in save(self.report, directory / AUDIT_DIR).items()}
        write_bytes(directory / SBOM_FILE, spdx.to_bytes(self.bom))
        files["sbom"] = directory / SBOM_FILE
        return files

    def attachments(self, check_report: Path | None) -> list:
        """The SBOM, the audit report and the reproducibility report, as OCI 1.1 attachments."""
        from fsdgimg.audit.report import render_json
        from fsdgimg.signature import artifacts
        items = [artifacts.Attachment(artifacts.SBOM_TYPE, spdx.to_bytes(self.bom), SBOM_FILE),
                 artifacts.Attachment(artifacts.AUDIT_TYPE, render_json(self.report), "audit-report.json",
                                self.report.verdict)]
        if check_report is not None and check_report.is_file():
            data = check_report.read_bytes()
            try:
                verdict = json.loads(data).get("verdict")
            except (ValueError, AttributeError):
                verdict = None
            items.append(artifacts.Attachment(artifacts.CHECK_TYPE, data, "check-report.json",
                                        verdict if isinstance(verdict, str) else None))
        return items

    def predicates(self, run, check_report: Path | None, digest: str) -> list[tuple[str, object]]:
        """The same reports as in-toto predicates for signed attestations — the SBOM, the audit,
        SLSA provenance of the build and, after --check, the reproducibility verdict about the
        image `digest` — plus the provenance that only the build knows."""
        from fsdgimg.build.provenance import resource_uri, slsa_provenance, verification_summary
        from fsdgimg.signature import intoto
        resource = resource_uri(run.entry.name, digest)
        out = [(intoto.SPDX, json.loads(spdx.to_bytes(self.bom))), (intoto.FSDG_AUDIT, self.report.to_json()),
               (intoto.SLSA_PROVENANCE, slsa_provenance(run))]
        vsa = verification_summary(run, check_report, resource)
        if vsa is not None:
            out.append((intoto.VSA, vsa))
        return out

    def reports(self, run, check_report: Path | None, digest: str, signing: bool):
        from fsdgimg.trust.publishing import Reports
        return Reports(self.attachments(check_report), self.bom.created,
                       self.predicates(run, check_report, digest) if signing else [])

    def failure(self, name: str, where: Path) -> AuditFailed:
        bad = self.report.of(NONFREE)
        if self.report.sbom_problem:
            what = self.report.sbom_problem
        elif bad:
            what = "nonfree: " + ", ".join(f"{f.name} ({f.reasons[0]})" for f in bad[:10])
        else:
            what = "unknown licenses (--strict): " + ", ".join(f.name for f in self.report.of(UNKNOWN)[:10])
        return AuditFailed(f"{name}: FSDG audit failed, not written or published: {what}; "
                           f"report in {where / AUDIT_DIR / 'report.txt'}")


def run_stage(entry, image, ctx, *, strict: bool = False) -> TrustStage:
    """SBOM (from the channel for Guix entries, else from the image) and its audit."""
    from fsdgimg.sbom.generate import bom_for_image
    bom = None
    if entry.is_guix:
        from fsdgimg.build.builders.guix_builders import guix_for
        from fsdgimg.sbom.guix import describe
        try:
            bom = describe([entry], guix_for(entry, ctx))[entry.name]
            bom.image_digest, bom.created = str(image.digest), image.created
        except FsdgimgError as e:
            # Still an SBOM (store item names, no licenses: the audit lists them as unknown).
            reason = str(e).splitlines()[0]
            print(f"fsdgimg build: note: {entry.name}: the channel could not describe the image "
                  f"({reason}); its SBOM lists the image's store items", file=sys.stderr)
            bom = bom_for_image(image, entry.name)
            bom.notes.append(f"the channel could not describe the image: {reason}")
    if bom is None:
        bom = bom_for_image(image, entry.name)
    bom.name = f"{entry.name}:{entry.tag}"
    return TrustStage(bom, audit(bom, strict=strict))


# -- the build's stages (fsdgimg.build.pipeline): "sbom-audit" before "annotate", "trust-reports" after
# "write", "attach-sign" after "publish". The TrustStage rides on the run as `r.trust`.

def stage_sbom_audit(r) -> None:
    r.say(f"{r.entry.name}: bill of materials and FSDG audit")
    trust = run_stage(r.entry, r.image, r.ctx, strict=r.opts.strict)
    r.trust = trust
    if not trust.passed:
        where = r.out.parent / f"{r.out.name}.audit"
        trust.save(where)
        raise trust.failure(r.entry.name, where)
    if trust.unaudited:
        print(f"fsdgimg build: note: {r.entry.name}: no package database in the image: the FSDG audit has "
              "nothing to judge and fails (--strict refuses to write it)", file=sys.stderr)
    r.annotations.update(trust.annotations())


def stage_trust_reports(r) -> None:
    from fsdgimg.build import EXTRA_DIR
    from fsdgimg.trust.publishing import save_predicates
    if getattr(r, "trust", None) is not None:
        r.outcome.report.update(r.trust.save(r.out / EXTRA_DIR))
        # What a later `fsdgimg publish --sign-key` of this layout signs, as the build would have.
        predicates = r.trust.predicates(r, r.outcome.report.get("json"), r.outcome.digest)
        r.outcome.report["attestations"] = save_predicates(r.out / EXTRA_DIR, predicates)


def stage_attach_sign(r) -> None:
    if not r.outcome.published or getattr(r, "trust", None) is None:
        return
    from fsdgimg.trust.publishing import after_publish
    destination = r.outcome.published.split()[0]
    signing = r.opts.sign_key is not None or r.opts.sign_gpg_key is not None
    reports = r.trust.reports(r, r.outcome.report.get("json"), r.outcome.digest, signing)
    # The SBOM, audit report and reproducibility report attached to the published image, then (with
    # a key) the same as signed attestations and the image's signature.
    attached = after_publish(destination, attachments=reports.attachments, created=reports.created,
                             attestations=reports.attestations, sign_key=r.opts.sign_key,
                             identity=r.opts.sign_identity, gpg_key=r.opts.sign_gpg_key,
                             registry=getattr(r.opts.write_options, "registry", None))
    if attached:
        r.outcome.extra["attached"] = attached
