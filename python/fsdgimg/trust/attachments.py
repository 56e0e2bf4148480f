"""OCI 1.1 artifacts attached to a published image: the SBOM, the FSDG audit report and the
reproducibility report, each a manifest with a `subject` naming the image.

Registries with the referrers API (`GET /v2/NAME/referrers/DIGEST` answers 200 with an index; the
spec's OCI-Subject header on the manifest PUT says so too) list them themselves, and then no
fallback tag is written; for the others (Distribution 2.8: 404) the OCI distribution spec's
referrers tag schema applies: an index tagged `sha256-<hex>` lists the referrers, and the writer
keeps it up to date. Static trees list them in the referrers file the static writer maintains,
which every server of a tree answers the referrers API with. `oras discover` and `oras pull` find
them in all three. Readers ask the API first and fall back to the tag schema, and say which path
they took (`via`). Nothing listed is trusted: each artifact must name the subject it is fetched for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fsdgimg.errors import InputError
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import bounded_list, load_json
from fsdgimg.signature.artifacts import (
    EMPTY_CONFIG,
    OCI_MANIFEST,
    TITLE,
    VERDICT,
    Attachment,
    artifact_manifest,
    fallback_tag,
)
from fsdgimg.trust import attach
from fsdgimg.trust.remote import Target

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MAX_REFERRERS = 1000
MAX_ATTACHMENT = 64 << 20
MAX_REFERRERS_INDEX = 4 << 20
MAX_PAGES = 16
# How attachments were found or written (`via` in reports and --json).
REFERRERS_API, TAG_SCHEMA, STATIC_TREE = "referrers-api", "tag-schema", "static-tree"
# A registry without the API answers its referrers path with one of these.
_NO_API = (400, 404, 405, 406, 501)


def _is_referrers_answer(resp) -> bool:
    """The distribution spec's answer of the referrers API: 200 with an image index (a web server
    that answers every path with a page is not one)."""
    return resp.status_code == 200 and \
        resp.headers.get("Content-Type", "").split(";")[0].strip() == OCI_INDEX


def _registry_has_referrers_api(target: Target, digest: Digest) -> bool:
    resp = target.client().request("GET", f"/v2/{target.name}/referrers/{digest}", what="referrers",
                                    allow=_NO_API)
    with resp:
        return _is_referrers_answer(resp)


def push_artifact(target: Target, reference: str, manifest: bytes, media_type: str, blobs: list[bytes]) -> dict:
    """Push a small manifest that is no image to run (an attached artifact, a signature image) to the
    registry `target` names: each of its `blobs` the registry lacks, then the manifest as
    `reference` (a tag, or its digest). Returns the manifest PUT's response headers (OCI-Subject
    says whether the registry indexes the subject itself). Static trees take it through
    attach.write instead."""
    for blob in blobs:
        _put_blob(target, blob)
    return _put_manifest(target, reference, manifest, media_type)


def list_referrers(target: Target, digest: Digest, added: list[dict], indexed: bool = False) -> str:
    """Make the artifacts `added` (their descriptors; pushed with subject `digest`) findable on the
    registry `target` names: a registry with the referrers API (or that said so on the PUT:
    `indexed`) lists them itself; for any other the fallback index tagged `sha256-<hex>` gets them.
    Returns how they are found, REFERRERS_API or TAG_SCHEMA."""
    if indexed or _registry_has_referrers_api(target, digest):
        return REFERRERS_API
    _update_fallback_index(target, digest, added)
    return TAG_SCHEMA


def _put_manifest(target: Target, reference: str, data: bytes, media_type: str) -> dict:
    target.listings.clear()
    resp = target.client().request("PUT", f"/v2/{target.name}/manifests/{reference}",
                                    what=f"manifest {reference}", ok=(201,),
                                    headers={"Content-Type": media_type}, body=lambda: data)
    resp.close()
    return resp.headers


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


@dataclass
class Attached:
    descriptors: list[dict]
    via: str            # REFERRERS_API, TAG_SCHEMA or STATIC_TREE


def attach_to(target: Target, attachments: list[Attachment], created: str | None = None) -> Attached:
    """Attach every one of `attachments` to the manifest `target` names (an image, or one child of
    an index by digest); on a registry without the referrers API, list them in the fallback tag."""
    found = target.manifest()
    if found is None:
        raise InputError(f"{target.display}: no such image")
    data, media_type, digest = found
    subject = {"mediaType": media_type, "digest": str(digest), "size": len(data)}
    out, api = [], False
    for a in attachments:
        manifest = artifact_manifest(subject, a, created)
        desc = {"mediaType": OCI_MANIFEST, "digest": str(Digest.of(manifest)), "size": len(manifest),
                "artifactType": a.artifact_type,
                "annotations": {TITLE: a.title, **({VERDICT: a.verdict} if a.verdict else {})}}
        if target.kind == "docker":
            headers = push_artifact(target, desc["digest"], manifest, OCI_MANIFEST, [EMPTY_CONFIG, a.data])
            # OCI distribution 1.1: a registry that indexes subjects itself says so on the PUT.
            api = api or headers.get("OCI-Subject") == str(digest)
        else:
            attach.write(target, None, manifest, [EMPTY_CONFIG, a.data])
        out.append(desc)
    if target.kind != "docker":
        return Attached(out, STATIC_TREE)
    return Attached(out, list_referrers(target, digest, out, indexed=api))


def subject_of(target: Target) -> tuple[dict, Digest]:
    """The descriptor an artifact about the image `target` names gives as its subject."""
    found = target.manifest()
    if found is None:
        raise InputError(f"{target.display}: no such image")
    data, media_type, digest = found
    return {"mediaType": media_type, "digest": str(digest), "size": len(data)}, digest


def attach_artifact(target: Target, manifest: bytes, artifact_type: str, title: str, blobs: list[bytes]) -> dict:
    """Attach one artifact of many blobs (the inputs, the sources of an image): `manifest` names
    its subject already; returns its descriptor and how it is found (`via`)."""
    subject = Digest.parse(json.loads(manifest)["subject"]["digest"])
    desc = {"mediaType": OCI_MANIFEST, "digest": str(Digest.of(manifest)), "size": len(manifest),
            "artifactType": artifact_type, "annotations": {TITLE: title}}
    if target.kind == "docker":
        headers = push_artifact(target, desc["digest"], manifest, OCI_MANIFEST, blobs)
        via = list_referrers(target, subject, [desc], indexed=headers.get("OCI-Subject") == str(subject))
    else:
        attach.write(target, None, manifest, blobs)
        via = STATIC_TREE
    return {**desc, "via": via}


def attach_all(target: Target, attachments: list[Attachment], created: str | None = None) -> list[dict]:
    """Attach every one of `attachments` to the image `target` names; returns their descriptors."""
    return attach_to(target, attachments, created).descriptors


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
    if len(data) > MAX_REFERRERS_INDEX:
        raise InputError(f"{where}: referrers index is over {MAX_REFERRERS_INDEX >> 20} MiB")
    obj = load_json(data, where, MAX_REFERRERS_INDEX)
    manifests = bounded_list(obj, "manifests", where, MAX_REFERRERS, "referrers index")
    return [d for d in manifests if isinstance(d, dict) and isinstance(d.get("digest"), str)]


@dataclass
class Referrers:
    """What refers to a subject, and how that was learnt."""
    descriptors: list[dict]
    via: str                                   # REFERRERS_API, TAG_SCHEMA or STATIC_TREE


def referrers(target: Target, digest: Digest, artifact_type: str | None = None) -> Referrers:
    """Descriptors of the artifacts that name `digest` as their subject (of `artifact_type` when
    given): the referrers API when the server answers it, else the fallback tag; a static tree on
    disk, its referrers file. The type filter is applied here whatever the server says it did: a
    server that does not name `artifactType` in OCI-Filters-Applied (nginx serving a tree's file)
    listed everything, and one that does is taken at its word no more than any other listing."""
    key = (str(digest), artifact_type)
    if key not in target.listings:
        target.listings[key] = _referrers(target, digest, artifact_type)
    found = target.listings[key]
    return Referrers(list(found.descriptors), found.via)


def _referrers(target: Target, digest: Digest, artifact_type: str | None) -> Referrers:
    where = f"{target.display}: referrers of {digest.short}"
    if target.kind == "docker":
        listed = _from_api(target, digest, artifact_type, where)
        if listed is not None:
            return listed
        found = target.manifest(fallback_tag(digest))
        descs = referrers_from_index(found[0], f"{target.display}: {fallback_tag(digest)}") if found else []
        return Referrers(_of_type(descs, artifact_type), TAG_SCHEMA)
    path = target.root / "v2" / target.name / "_referrers" / f"{digest}.json"
    descs = referrers_from_index(path.read_bytes(), where) if path.is_file() else []
    return Referrers(_of_type(descs, artifact_type), STATIC_TREE)


def _of_type(descs: list[dict], artifact_type: str | None) -> list[dict]:
    return [d for d in descs if artifact_type is None or d.get("artifactType") == artifact_type]


def _from_api(target: Target, digest: Digest, artifact_type: str | None, where: str) -> Referrers | None:
    """The referrers API's listing, following its pages (Link: rel="next"); None when the server
    does not answer the API (404, 405…, or 200 with something that is not an index)."""
    client = target.client()
    url = f"/v2/{target.name}/referrers/{digest}"
    params = {"artifactType": artifact_type} if artifact_type else None
    seen, descs = set(), []
    for page in range(MAX_PAGES):
        resp = client.request("GET", url, what="referrers", params=params, allow=_NO_API, stream=True)
        with resp:
            if not _is_referrers_answer(resp):
                if page == 0:
                    return None
                raise InputError(f"{where}: page {page + 1} of the referrers listing is not an index "
                                 f"(HTTP {resp.status_code})")
            data = resp.raw.read(MAX_REFERRERS_INDEX + 1, decode_content=True)
            next_url = resp.links.get("next", {}).get("url")
        descs += referrers_from_index(data, where)
        if len(descs) > MAX_REFERRERS:
            raise InputError(f"{where}: the referrers listing has over {MAX_REFERRERS} manifests")
        if not next_url:
            return Referrers(_of_type(descs, artifact_type), REFERRERS_API)
        seen.add(client.url(url) + ("?" + str(params) if params else ""))
        url, params = next_url, None      # the next page's URL carries its query
        if client.url(url) in seen:
            raise InputError(f"{where}: the referrers listing's pages loop (Link: {url[:120]})")
    raise InputError(f"{where}: the referrers listing has over {MAX_PAGES} pages")


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
    named = obj.get("subject") if isinstance(obj, dict) else None
    named = named.get("digest") if isinstance(named, dict) else None
    if named != str(subject):
        raise InputError(f"{where}: its subject is {str(named)[:80]}, not {subject}")
    # The listing is the server's word; the manifest's own type is what was attached.
    config = obj.get("config") if isinstance(obj.get("config"), dict) else {}
    own = obj.get("artifactType") or config.get("mediaType")
    if desc.get("artifactType") and own != desc["artifactType"]:
        raise InputError(f"{where}: listed as {str(desc['artifactType'])[:80]} but is {str(own)[:80]}")
    layers = obj.get("layers")
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        raise InputError(f"{where}: expected one layer")
    size = layers[0].get("size")
    if not isinstance(size, int) or size > MAX_ATTACHMENT:
        raise InputError(f"{where}: layer size {size!r} is not acceptable")
    return target.blob(str(layers[0].get("digest")), size)
