"""What a build says about itself, as in-toto predicates the distribution signs beside its image:
SLSA provenance v1 (how and from what it was built) and, after `--check`, a SLSA verification
summary (the reproducibility verdict). Their fields, and the fsdgimg build type, are described in
docs/trust.md.

Both are functions of the build alone — no clock, no host name — so the same build states the
same thing (only the signature over it differs, as ECDSA signatures do).
"""

from __future__ import annotations

import json
from pathlib import Path

from fsdgimg import __version__
from fsdgimg.signature import intoto

BUILD_TYPE = "https://fsdgimg.org/build/v1"
POLICY = "https://fsdgimg.org/policy/reproducible/v1"

# Who vouches for the build: the distribution's build service names itself (FSDGIMG_BUILDER_ID),
# an independent rebuilder its own; a build that says nothing is "local".
DEFAULT_BUILDER = "https://fsdgimg.org/builder/local"


def builder_id() -> str:
    import os
    return os.environ.get("FSDGIMG_BUILDER_ID") or DEFAULT_BUILDER


def _epoch_time(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def slsa_provenance(run) -> dict:
    """SLSA provenance v1 of a BuildRun (fsdgimg.build.pipeline)."""
    entry, first = run.entry, run.first
    dependencies = run.lock.resolved_dependencies() if run.lock is not None else []
    if first is not None and first.derivation and not any(d["name"] == "derivation" for d in dependencies):
        dependencies.append({"uri": f"guix:{first.derivation}", "name": "derivation"})
    if first is not None and first.store_path:
        dependencies.append({"uri": f"guix:{first.store_path}", "name": "store item"})
    internal = {"tools": run.opts.tools, "compression": run.opts.compression.algorithm,
                "rounds": run.opts.rounds if run.opts.check else 1}
    if run.opts.epoch is not None:
        internal["SOURCE_DATE_EPOCH"] = run.opts.epoch
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            # The lock whole: a rebuilder needs nothing but this signed statement (docs/rebuild.md).
            "externalParameters": {"catalogEntry": entry.to_json(), "platform": str(run.platform),
                                   **({"lock": run.lock.to_json()} if run.lock is not None else {})},
            "internalParameters": internal,
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {"id": builder_id(), "version": {"fsdgimg": __version__}},
            "metadata": {"invocationId": f"{entry.name}:{entry.tag}@{run.digests[0] if run.digests else ''}"},
            "byproducts": [{"name": "built", "digest": {"sha256": d.split(":", 1)[1]}} for d in run.digests],
        },
    }


def resource_uri(name: str, digest: str) -> str:
    """The image a verdict is about, wherever it is published: its package URL (purl's oci type)."""
    return f"pkg:oci/{name}@{digest.replace(':', '%3A')}"


def verification_summary(run, check_report: Path | None, resource: str) -> dict | None:
    """The reproducibility verdict as a SLSA verification summary (None without --check)."""
    if run.report is None:
        return None
    report = None
    if check_report is not None and Path(check_report).is_file():
        report = json.loads(Path(check_report).read_bytes())
    from fsdgimg.build.check.report import REPRODUCIBLE
    passed = run.report.verdict == REPRODUCIBLE
    summary = {
        "verifier": {"id": builder_id(), "version": {"fsdgimg": __version__}},
        "resourceUri": resource,
        "policy": {"uri": POLICY},
        "inputAttestations": [],
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": ["FSDGIMG_REPRODUCIBLE"] if passed else [],
        "reproducibility": {"verdict": run.report.verdict, "builds": list(run.digests), "report": report},
    }
    when = _epoch_time(run.opts.epoch)
    if when:
        summary["timeVerified"] = when
    return summary


def rebuild_summary(name: str, digest: str, outcome: dict) -> dict:
    """A rebuilder's verdict about the published image `digest`: a SLSA verification summary with
    the digest the image records, the one rebuilt, who rebuilt it and when (the rebuilder's own
    clock: unlike a build's, a rebuild's statement is about a moment)."""
    import time
    passed = bool(outcome["reproduced"])
    return {
        "verifier": {"id": builder_id(), "version": {"fsdgimg": __version__}},
        "timeVerified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "resourceUri": resource_uri(name, digest),
        "policy": {"uri": intoto.REBUILD_POLICY},
        "inputAttestations": [],
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": ["FSDGIMG_REPRODUCIBLE"] if passed else [],
        "reproducibility": {"verdict": "reproduced" if passed else "differs", "published": outcome["published"],
                            "rebuilt": outcome["rebuilt"], "from": outcome.get("from"),
                            "lock": outcome.get("lock")},
    }
