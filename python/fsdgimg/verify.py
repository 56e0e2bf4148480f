"""`fsdgimg verify`: what a user checks before trusting an official image, without trusting the
mirror that serves it — signatures by the distribution's keys, the bill of materials and FSDG
audit attached to it, and (with a rebuild) that the catalog reproduces the same bits.

Every check asked for must hold; each failure is one line. Nothing fetched is trusted before it
is checked: attachments must name this image's digest, sizes are bounded, digests verified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.errors import FsdgimgError
from fsdgimg.jsonio import load_json
from fsdgimg.sign import attachments as att
from fsdgimg.sign.remote import Target


@dataclass
class Verification:
    image: str
    digest: str
    signatures: list[dict] = field(default_factory=list)
    sbom: dict | None = None
    audit: dict | None = None
    rebuild: dict | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict:
        return {"image": self.image, "digest": self.digest, "verified": self.ok,
                "signatures": self.signatures, "sbom": self.sbom, "audit": self.audit,
                "rebuild": self.rebuild, "failures": self.failures}


def _attachment(target: Target, digest, artifact_type: str) -> bytes | None:
    for desc in att.referrers(target, digest):
        if desc.get("artifactType") == artifact_type:
            return att.fetch(target, digest, desc)
    return None


def verify(target: Target, *, keys: list[Path], require_sbom: bool = True, strict: bool = False,
           rebuild: bool = False, catalog_path: Path | None = None, tools: str = "auto") -> Verification:
    found = target.manifest()
    if found is None:
        raise FsdgimgError(f"{target.display}: no such image")
    data, _media_type, digest = found
    v = Verification(target.display, str(digest))
    if keys:
        from fsdgimg.sign.signing import verify_sigstore
        try:
            v.signatures = verify_sigstore(target, keys)
        except FsdgimgError as e:
            v.failures.append(f"signature: {e}")
    if require_sbom:
        try:
            _check_sbom_and_audit(target, digest, v, strict)
        except FsdgimgError as e:
            v.failures.append(str(e))
    if rebuild:
        try:
            _rebuild(target, data, v, catalog_path, tools)
        except FsdgimgError as e:
            v.failures.append(f"rebuild: {e}")
    return v


def _check_sbom_and_audit(target: Target, digest, v: Verification, strict: bool) -> None:
    from fsdgimg.audit.audit import audit
    from fsdgimg.sbom.spdx import from_spdx
    sbom = _attachment(target, digest, att.SBOM_TYPE)
    if sbom is None:
        v.failures.append(f"{target.display}: no SBOM attached")
        return
    bom = from_spdx(sbom, f"{target.display}: attached SBOM")
    # The audit is judged here, from the SBOM, with this machine's license data: an attached
    # verdict is shown but not taken on trust.
    report = audit(bom, strict=strict)
    v.sbom = {"distribution": bom.distribution, "packages": len(bom.packages), "describes": bom.image_digest}
    v.audit = {"verdict": report.verdict, "counts": report.counts, "license_data": report.data,
               "nonfree": [f.name for f in report.of("nonfree")]}
    published = _attachment(target, digest, att.AUDIT_TYPE)
    if published is not None:
        obj = load_json(published, f"{target.display}: attached audit report", 64 << 20)
        v.audit["published_verdict"] = obj.get("verdict") if isinstance(obj, dict) else None
    if report.verdict != "pass":
        v.failures.append(f"FSDG audit: {report.verdict}"
                          + (f" (nonfree: {', '.join(v.audit['nonfree'][:10])})" if v.audit["nonfree"] else
                             " (unknown licenses, --strict)"))


def _rebuild(target: Target, manifest: bytes, v: Verification, catalog_path: Path | None, tools: str) -> None:
    """Build the catalog entry again and compare its digest (before annotations) with the one the
    published image records in `org.fsdgimg.built`."""
    import tempfile
    from datetime import datetime

    from fsdgimg import catalog
    from fsdgimg.audit.stage import BUILT
    from fsdgimg.pipeline import BuildOptions, run_build
    obj = load_json(manifest, f"{target.display}: manifest", 4 << 20)
    annotations = obj.get("annotations") if isinstance(obj, dict) else None
    annotations = annotations if isinstance(annotations, dict) else {}
    name, built = annotations.get("org.opencontainers.image.title"), annotations.get(BUILT)
    if not name or not built:
        raise FsdgimgError(f"{target.display}: the image does not say which catalog entry and build it is "
                           f"(annotations org.opencontainers.image.title and {BUILT})")
    entry = catalog.load(catalog_path).get(name)
    created = annotations.get("org.opencontainers.image.created")
    epoch = int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()) if created else None
    with tempfile.TemporaryDirectory(prefix=".fsdgimg-rebuild-") as tmp:
        outcome = run_build(entry, BuildOptions(out=Path(tmp) / "layout", epoch=epoch, tools=tools))
    v.rebuild = {"entry": name, "published": built, "rebuilt": outcome.digests[0],
                 "reproduced": outcome.digests[0] == built}
    if outcome.digests[0] != built:
        v.failures.append(f"rebuild: {name} rebuilt to {outcome.digests[0]}, the published image is {built}")
