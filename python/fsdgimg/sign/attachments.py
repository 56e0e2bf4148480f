"""OCI 1.1 artifacts attached to a published image: the SBOM, the FSDG audit report and the
reproducibility report, each a manifest with a `subject` naming the image.

Registries with the referrers API (`GET /v2/NAME/referrers/DIGEST`) list them themselves; for the
others the OCI distribution spec's fallback applies: an index tagged `sha256-<hex>` lists the
referrers, and the writer keeps it up to date. Static trees list them in the referrers file the
static writer maintains. `oras discover` and `oras pull` find them in all three.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fsdgimg.digest import Digest
from fsdgimg.errors import InputError
from fsdgimg.jsonio import load_json
from fsdgimg.sign import attach
from fsdgimg.sign.remote import Target

EMPTY_CONFIG = b"{}"
EMPTY_CONFIG_TYPE = "application/vnd.oci.empty.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SBOM_TYPE = "application/spdx+json"
AUDIT_TYPE = "application/vnd.fsdgimg.audit.v1+json"
CHECK_TYPE = "application/vnd.fsdgimg.check.v1+json"
TITLE = "org.opencontainers.image.title"
# The verdict an audit or reproducibility report reached, repeated on its artifact manifest so that a
# referrers listing tells it without fetching the report (the static tree's index.html shows it).
VERDICT = "org.fsdgimg.verdict"
MAX_REFERRERS = 1000
MAX_ATTACHMENT = 64 << 20


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
    return attach.manifest_bytes(EMPTY_CONFIG, EMPTY_CONFIG_TYPE, [layer], subject=subject,
                                 artifact_type=a.artifact_type, annotations=annotations or None)


def _registry_has_referrers_api(target: Target, digest: Digest) -> bool:
    resp = target.client().request("GET", f"/v2/{target.name}/referrers/{digest}", what="referrers",
                                    allow=(404, 400, 405))
    with resp:
        return resp.status_code == 200 and \
            resp.headers.get("Content-Type", "").startswith(OCI_INDEX)


def _put_manifest(target: Target, reference: str, data: bytes, media_type: str) -> None:
    resp = target.client().request("PUT", f"/v2/{target.name}/manifests/{reference}",
                                    what=f"manifest {reference}", ok=(201,),
                                    headers={"Content-Type": media_type}, body=lambda: data)
    resp.close()


def _put_blob(target: Target, data: bytes) -> None:
    digest = Digest.of(data)
    client = target.client()
    head = client.request("HEAD", f"/v2/{target.name}/blobs/{digest}", what=f"blob {digest.short}",
                          allow=(404,))
    head.close()
    if head.status_code == 200:
        return
    start = client.request("POST", f"/v2/{target.name}/blobs/uploads/", what="blob upload", ok=(202,))
    start.close()
    location = start.headers["Location"]
    if "://" not in location:
        location = client.base + location
    sep = "&" if "?" in location else "?"
    done = client.request("PUT", f"{location}{sep}digest={digest}", what=f"blob {digest.short}", ok=(201,),
                          headers={"Content-Type": "application/octet-stream"}, body=lambda: data)
    done.close()


def attach_all(target: Target, attachments: list[Attachment], created: str | None = None) -> list[dict]:
    """Attach every one of `attachments` to the image `target` names; returns their descriptors."""
    found = target.manifest()
    if found is None:
        raise InputError(f"{target.display}: no such image")
    data, media_type, digest = found
    subject = {"mediaType": media_type, "digest": str(digest), "size": len(data)}
    out = []
    for a in attachments:
        manifest = artifact_manifest(subject, a, created)
        desc = {"mediaType": attach.OCI_MANIFEST, "digest": str(Digest.of(manifest)), "size": len(manifest),
                "artifactType": a.artifact_type,
                "annotations": {TITLE: a.title, **({VERDICT: a.verdict} if a.verdict else {})}}
        if target.kind == "docker":
            _put_blob(target, EMPTY_CONFIG)
            _put_blob(target, a.data)
            _put_manifest(target, desc["digest"], manifest, attach.OCI_MANIFEST)
        else:
            attach.write(target, None, manifest, [EMPTY_CONFIG, a.data])
        out.append(desc)
    if target.kind == "docker" and not _registry_has_referrers_api(target, digest):
        _update_fallback_index(target, digest, out)
    return out


def _update_fallback_index(target: Target, digest: Digest, added: list[dict]) -> None:
    tag = fallback_tag(digest)
    existing = target.manifest(tag)
    listed = []
    if existing is not None:
        listed = referrers_from_index(existing[0], f"{target.display}: {tag}")
    new = {d["digest"] for d in added}
    manifests = [d for d in listed if d.get("digest") not in new] + added
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests},
                       separators=(",", ":")).encode()
    _put_manifest(target, tag, index, OCI_INDEX)


def referrers_from_index(data: bytes, where: str) -> list[dict]:
    obj = load_json(data, where, 4 << 20)
    manifests = obj.get("manifests") if isinstance(obj, dict) else None
    if not isinstance(manifests, list):
        raise InputError(f"{where}: referrers index has no manifests list")
    if len(manifests) > MAX_REFERRERS:
        raise InputError(f"{where}: referrers index lists {len(manifests)} manifests (at most {MAX_REFERRERS})")
    return [d for d in manifests if isinstance(d, dict) and isinstance(d.get("digest"), str)]


def referrers(target: Target, digest: Digest) -> list[dict]:
    """Descriptors of the artifacts that name `digest` as their subject (API, fallback tag, or file)."""
    where = f"{target.display}: referrers of {digest.short}"
    if target.kind == "docker":
        resp = target.client().request("GET", f"/v2/{target.name}/referrers/{digest}", what="referrers",
                                        allow=(404, 400, 405), stream=True)
        with resp:
            if resp.status_code == 200:
                return referrers_from_index(resp.raw.read(4 << 20, decode_content=True), where)
        found = target.manifest(fallback_tag(digest))
        return referrers_from_index(found[0], where) if found else []
    path = target.root / "v2" / target.name / "_referrers" / f"{digest}.json"
    return referrers_from_index(path.read_bytes(), where) if path.is_file() else []


def fetch(target: Target, subject: Digest, desc: dict) -> bytes:
    """The single layer of an attached artifact, after checking that it names `subject` — an
    attachment for another image (or one that names itself: a loop) is refused."""
    where = f"{target.display}: attachment {str(desc.get('digest'))[:19]}"
    digest = str(desc["digest"])
    if digest == str(subject):
        raise InputError(f"{where}: names itself as its subject (an attachment loop)")
    found = target.manifest(digest)
    if found is None:
        raise InputError(f"{where}: listed but missing")
    obj = load_json(found[0], where, 4 << 20)
    named = (obj.get("subject") or {}).get("digest") if isinstance(obj, dict) else None
    if named != str(subject):
        raise InputError(f"{where}: its subject is {named}, not {subject}")
    layers = obj.get("layers")
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        raise InputError(f"{where}: expected one layer")
    size = layers[0].get("size")
    if not isinstance(size, int) or size > MAX_ATTACHMENT:
        raise InputError(f"{where}: layer size {size!r} is not acceptable")
    return target.blob(str(layers[0].get("digest")), size)
