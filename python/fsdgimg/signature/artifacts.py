"""OCI 1.1 artifacts as fsdgimg writes them beside an image: their media types, their small manifests
(an empty config, one layer per report, a subject naming the image) and the referrers tag schema's
tag. Formats only: nothing here reads or writes; trust/attach.py and trust/attachments.py push and
list them, and the static tree's page reads their types and verdicts.

Artifact manifests are made with json.dumps, as they always were: their bytes (and so the digests a
registry or tree already holds) must not change."""

from __future__ import annotations

import json
from dataclasses import dataclass

from fsdgimg.oci.digest import Digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def manifest_bytes(config: bytes, config_type: str, layers: list[dict], *, subject: dict | None = None,
                   artifact_type: str | None = None, annotations: dict | None = None) -> bytes:
    obj = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type:
        obj["artifactType"] = artifact_type
    obj["config"] = {"mediaType": config_type, "size": len(config), "digest": str(Digest.of(config))}
    obj["layers"] = layers
    if subject:
        obj["subject"] = subject
    if annotations:
        obj["annotations"] = annotations
    return json.dumps(obj, separators=(",", ":")).encode()


EMPTY_CONFIG = b"{}"
EMPTY_CONFIG_TYPE = "application/vnd.oci.empty.v1+json"
SBOM_TYPE = "application/spdx+json"
AUDIT_TYPE = "application/vnd.fsdgimg.audit.v1+json"
CHECK_TYPE = "application/vnd.fsdgimg.check.v1+json"
TITLE = "org.opencontainers.image.title"
# The verdict an audit or reproducibility report reached, repeated on its artifact manifest so that a
# referrers listing tells it without fetching the report (the static tree's index.html shows it).
VERDICT = "org.fsdgimg.verdict"


@dataclass
class Attachment:
    artifact_type: str
    data: bytes
    title: str          # a file name: oras pull writes the layer under it
    verdict: str | None = None


def fallback_tag(digest: Digest) -> str:
    return f"{digest.algorithm}-{digest.hex}"


def artifact_manifest(subject: dict, a: Attachment, created: str | None) -> bytes:
    layer = {"mediaType": a.artifact_type, "digest": str(Digest.of(a.data)), "size": len(a.data),
             "annotations": {TITLE: a.title}}
    annotations = {"org.opencontainers.image.created": created} if created else {}
    if a.verdict:
        annotations[VERDICT] = a.verdict
    return manifest_bytes(EMPTY_CONFIG, EMPTY_CONFIG_TYPE, [layer], subject=subject,
                                 artifact_type=a.artifact_type, annotations=annotations or None)
