"""What a static tree holds, read back from its files: for the human page (index.html) and tools."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import markupsafe

from fsdgimg.errors import InputError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import load_json
from fsdgimg.oci.manifest import ImageIndex, parse_manifest
from fsdgimg.signature import artifacts, cosign, intoto
from fsdgimg.signature.cosign import signature_tag
from fsdgimg.transports.static.layout import Tree
from fsdgimg.transports.static.signers import Verifier

MAX_CONFIG = 8 << 20
MAX_SMALL = 1 << 20     # a referrers index, a signature or artifact manifest: small JSON, never a layer
# cosign's companion tags (`sha256-<hex>.sig`, `.att`, `.sbom`) and the referrers fallback tag
# (`sha256-<hex>`): machinery about an image, not images to pull, so the page does not list them.
COMPANION_TAG = re.compile(r"sha256-[a-f0-9]{64}(\.[a-z]+)?\Z")
# artifact type -> what the page calls the attached report
REPORT_KINDS = {artifacts.SBOM_TYPE: "SBOM", artifacts.AUDIT_TYPE: "FSDG audit", artifacts.CHECK_TYPE: "reproducibility"}
# predicate type -> what the page calls a signed attestation
ATTESTATION_KINDS = {intoto.SPDX: "SBOM", intoto.FSDG_AUDIT: "FSDG audit", intoto.SLSA_PROVENANCE: "provenance",
                     intoto.VSA: "reproducibility"}
CHECK_VERDICT = "org.fsdgimg.check.verdict"   # on the image (or index) a checked build produced
AUDIT_VERDICT = "org.fsdgimg.audit.verdict"   # on the image a build audited (build/trust_stage.py)


@dataclass
class PlatformEntry:
    platform: str
    digest: str
    size: int
    created: str | None
    blobs: dict[str, int] = field(default_factory=dict)  # digest -> size: manifest, config, layers
    verdicts: dict[str, str] = field(default_factory=dict)  # the image's own check and audit verdicts
    # A platform of an index: its own signatures and reports (what a client pulling it checks)
    signers: list = field(default_factory=list)
    unverified: int = 0
    reports: list = field(default_factory=list)
    attestations: list = field(default_factory=list)
    audit: str | None = None
    reproducible: str | None = None
    rebuilt: str | None = None


@dataclass
class Attestation:
    kind: str           # SBOM, FSDG audit, provenance, reproducibility (or the predicate type)
    blob: str           # the DSSE envelope's digest: served at /v2/NAME/blobs/<blob>
    signer: object      # signers.Signer of a recorded key, or None: not verified
    verdict: str | None = None
    policy: str | None = None   # a verification summary's: intoto.REBUILD_POLICY for a rebuilder's


@dataclass
class Report:
    kind: str           # SBOM, FSDG audit, reproducibility
    blob: str           # the report's digest: served at /v2/NAME/blobs/<blob>
    verdict: str | None


@dataclass
class TagEntry:
    tag: str
    digest: str
    media_type: str
    size: int = 0
    created: str | None = None
    platforms: list[PlatformEntry] = field(default_factory=list)
    blobs: dict[str, int] = field(default_factory=dict)
    signers: list = field(default_factory=list)          # signers.Signer of every signature that verifies
    unverified: int = 0                                  # signatures that verify against no recorded key
    reports: list[Report] = field(default_factory=list)
    attestations: list[Attestation] = field(default_factory=list)   # signed statements (.att)
    audit: str | None = None
    reproducible: str | None = None
    rebuilt: str | None = None   # "reproduced by N of M" independent rebuilders
    index: bool = False          # a multi-platform index: each platform's trust is shown too


def _trust(entry, tree: Tree, verifier: Verifier, name: str, digest: Digest, tags: dict, own: dict) -> None:
    """Who signed `digest`, its attached reports, and the audit and reproducibility verdicts: the
    reports' (their artifact's verdict annotation), else the manifest's own annotations (`own`)."""
    entry.signers, entry.unverified = _signatures(tree, verifier, name, digest, tags)
    entry.reports = _reports(tree, name, digest)
    entry.attestations = _attestations(tree, verifier, name, digest, tags)
    # A verdict the publisher signed first; else an unsigned report's, which the page says is unsigned.
    def verdict(kind: str) -> str | None:
        signed = next((a.verdict for a in entry.attestations if a.kind == kind and a.signer and a.verdict), None)
        if signed:
            return f"{signed} (signed)"
        attached = next((r.verdict or "attached" for r in entry.reports if r.kind == kind), None)
        return f"{attached} (unsigned)" if attached else None
    entry.audit = verdict("FSDG audit") or own.get(AUDIT_VERDICT)
    entry.reproducible = verdict("reproducibility") or own.get(CHECK_VERDICT)
    # Independent rebuilders' signed verdicts (fsdgimg rebuild --attest-key), one per key.
    rebuilders: dict[str, bool] = {}
    for a in entry.attestations:
        if a.kind == "rebuild" and a.signer:
            rebuilders[a.signer.fingerprint] = rebuilders.get(a.signer.fingerprint, False) or a.verdict == "PASSED"
    if rebuilders:
        entry.rebuilt = f"reproduced by {sum(rebuilders.values())} of {len(rebuilders)}"


def _read(path: Path, limit: int = MAX_CONFIG) -> bytes:
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{path}: larger than {limit} bytes")
    return data


def _image_entry(tree: Tree, name: str, digest: Digest, media_type: str, platform_hint=None) -> PlatformEntry:
    path = tree.manifest_path(name, digest, media_type)
    m = parse_manifest(_read(path), str(path), media_type)
    size = len(m.to_bytes()) + m.config.size + sum(d.size for d in m.layers)
    created, platform = None, None
    try:
        cfg = load_json(_read(tree.blob_path(name, m.config.digest)), "config")
        if isinstance(cfg, dict):
            created = cfg.get("created") if isinstance(cfg.get("created"), str) else None
            if cfg.get("os"):
                platform = "/".join(str(p) for p in (cfg.get("os"), cfg.get("architecture"), cfg.get("variant")) if p)
    except (OSError, InputError):
        pass
    created = real_date(m.annotations.get("org.opencontainers.image.created") or created)
    blobs = {str(digest): len(m.to_bytes()), str(m.config.digest): m.config.size,
             **{str(d.digest): d.size for d in m.layers}}
    return PlatformEntry(str(platform_hint or platform or "unknown"), str(digest), size, created, blobs,
                         _verdicts(m.annotations))


def _verdicts(annotations: dict) -> dict[str, str]:
    return {k: v[:40] for k in (CHECK_VERDICT, AUDIT_VERDICT)
            if isinstance(v := annotations.get(k), str) and v}


def _small_json(data: bytes | None):
    if data is None or len(data) > MAX_SMALL:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _signatures(tree: Tree, verifier: Verifier, name: str, digest: Digest, tags: dict):
    """(signers, not verified) of `digest`: cosign's `sha256-<hex>.sig` image and the OpenPGP lookaside
    signatures, each checked against the keys the tree's publisher recorded (signers.py)."""
    layers = []
    found = tags.get(signature_tag(digest))
    if found is not None:
        where = f"{name}:{signature_tag(digest)}"
        try:
            for layer in cosign.signature_layers(_read(tree.manifest_path(name, *found), MAX_SMALL), where):
                data = _read(tree.blob_path(name, Digest.parse(layer["digest"])), cosign.MAX_PAYLOAD)
                if Digest.of(data) == Digest.parse(layer["digest"]):
                    layers.append((data, cosign.decode_signature(
                        layer["annotations"][cosign.SIGNATURE_ANNOTATION], where)))
                else:
                    layers.append((b"", b""))  # counted as not verified
        except (OSError, InputError, ValueError):
            layers.append((b"", b""))
    signed, bad = verifier.sigstore(layers, digest) if layers else ([], 0)
    more, more_bad = verifier.openpgp(name, digest)
    return signed + more, bad + more_bad


def _attestations(tree: Tree, verifier: Verifier, name: str, digest: Digest, tags: dict) -> list[Attestation]:
    """The in-toto attestations at cosign's `sha256-<hex>.att` tag, each checked against the keys
    the publisher recorded (signers.py): signed by which key, or not verified."""
    found = tags.get(cosign.attestation_tag(digest))
    if found is None:
        return []
    where = f"{name}:{cosign.attestation_tag(digest)}"
    out = []
    try:
        layers = cosign.attestation_layers(_read(tree.manifest_path(name, *found), MAX_SMALL), where)
    except (OSError, InputError):
        return [Attestation("unreadable", "", None)]
    for layer in layers:
        try:
            blob, _, ptype = cosign.check_attestation_layer(layer, where)
            path = tree.blob_path(name, Digest.parse(blob))
        except (InputError, ValueError):
            out.append(Attestation("malformed", "", None))
            continue
        signer, verdict, policy = verifier.attestation(path, digest)
        kind = "rebuild" if policy == intoto.REBUILD_POLICY else ATTESTATION_KINDS.get(ptype, ptype[:80])
        out.append(Attestation(kind, blob, signer, verdict, policy))
    return out


def _reports(tree: Tree, name: str, digest: Digest) -> list[Report]:
    """The SBOM, audit and reproducibility reports attached to `digest` (OCI 1.1 referrers), read from
    its referrers index and each report's manifest: small JSON files, never the reports themselves."""
    index = _small_json(tree.referrers(name, digest))
    listed = index.get("manifests") if isinstance(index, dict) else None
    out = []
    for d in (listed if isinstance(listed, list) else [])[:100]:
        if not isinstance(d, dict) or d.get("artifactType") not in REPORT_KINDS:
            continue
        try:
            path = tree.find_manifest(name, Digest.parse(str(d.get("digest"))))
            obj = _small_json(_read(path, MAX_SMALL)) if path else None
        except (OSError, InputError, ValueError):
            obj = None
        layers = obj.get("layers") if isinstance(obj, dict) else None
        if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
            continue
        try:
            blob = str(Digest.parse(str(layers[0].get("digest"))))
        except (InputError, ValueError):
            continue
        annotations = obj.get("annotations") if isinstance(obj.get("annotations"), dict) else {}
        verdict = annotations.get(artifacts.VERDICT)
        out.append(Report(REPORT_KINDS[d["artifactType"]], blob,
                          verdict[:40] if isinstance(verdict, str) and verdict else None))
    return sorted(out, key=lambda r: (list(REPORT_KINDS.values()).index(r.kind), r.blob))


def real_date(created: str | None) -> str | None:
    """A creation time worth showing: reproducible builds often record the epoch (1970-01-01) or
    1980-01-01 (zip's, and some tools'), which is no creation time at all."""
    if not created or not isinstance(created, str):
        return None
    year = created[:4]
    return created if year.isdigit() and int(year) > 1980 else None


def describe(tree: Tree, names: list[str] | None = None) -> dict[str, list[TagEntry]]:
    out: dict[str, list[TagEntry]] = {}
    for name in (tree.repositories() if names is None else names):
        entries = []
        tags = tree.tags(name)
        verifier = Verifier(tree)
        for tag, (digest, media_type) in tags.items():
            if COMPANION_TAG.match(tag):
                continue
            entry = TagEntry(tag, str(digest), media_type)
            _trust(entry, tree, verifier, name, digest, tags, {})
            try:
                if media_type in mt.INDEXES:
                    path = tree.manifest_path(name, digest, media_type)
                    index = parse_manifest(_read(path), str(path), media_type)
                    assert isinstance(index, ImageIndex)
                    own = _verdicts(index.annotations)
                    entry.index = True
                    for d in index.manifests:
                        if d.media_type in mt.IMAGE_MANIFESTS:
                            p = _image_entry(tree, name, d.digest, d.media_type, d.platform)
                            # What a client pulling this platform checks: the child's own signatures
                            # and the reports attached to it (a multi-platform build attaches there).
                            _trust(p, tree, verifier, name, d.digest, tags, p.verdicts)
                            entry.platforms.append(p)
                    entry.size = len(index.to_bytes()) + sum(p.size for p in entry.platforms)
                    entry.blobs[str(digest)] = len(index.to_bytes())
                else:
                    p = _image_entry(tree, name, digest, media_type)
                    entry.platforms.append(p)
                    entry.size = p.size
                    own = p.verdicts
                entry.reproducible = entry.reproducible or own.get(CHECK_VERDICT)
                entry.audit = entry.audit or own.get(AUDIT_VERDICT)
                entry.created = max((p.created for p in entry.platforms if p.created), default=None)
                for p in entry.platforms:
                    entry.blobs.update(p.blobs)
            except (OSError, InputError):
                pass  # a tag whose files are being replaced right now: listed without details
            entries.append(entry)
        out[name] = entries
    return out


def human_size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


_env = jinja2.Environment(loader=jinja2.PackageLoader("fsdgimg", "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined)
_env.filters["human_size"] = human_size


PAGE_VERSION = "4"  # change when the templates change: stored sections of older pages are then redone


def stored_bytes(tree: Tree) -> int:
    """What the tree stores: every blob and manifest once, however many tags share it."""
    total = 0
    try:
        with os.scandir(tree.store) as entries:
            for e in entries:
                if not e.name.startswith("."):
                    try:
                        total += e.stat(follow_symlinks=False).st_size
                    except OSError:
                        pass
    except OSError:
        pass
    return total


def page_files(tree: Tree, repositories: list[str], changed: list[str] | None,
               public_host: str | None = None, total: int | None = None) -> dict[Path, bytes]:
    """index.html and the per-repository sections it is assembled from (_web/pages/NAME.html): only the
    sections of `changed` repositories (all when None) are rendered again, and the total stored is kept
    is given by the caller (kept in _web/pages/stored, recounted on a full refresh), so a publish costs the same whatever the number
    of tags elsewhere."""
    host = public_host or ""
    key = f"<!-- fsdgimg page {PAGE_VERSION} host={host} -->\n".encode()
    out: dict[Path, bytes] = {}
    sections = []
    for name in repositories:
        path = tree.web / "pages" / f"{name}.html"
        data = None
        if changed is not None and name not in changed:
            try:
                data = path.read_bytes()
            except OSError:
                data = None
            if data is not None and not data.startswith(key):
                data = None
        if data is None:
            data = key + _env.get_template("repository.html.j2").render(
                name=name, tags=describe(tree, [name])[name], host=host,
                short=lambda d: d.split(":", 1)[-1][:12]).encode()
            out[path] = data
        sections.append(data[len(key):])
    marker = "<!-- fsdgimg sections -->"
    page = _env.get_template("index.html.j2").render(
        sections=[markupsafe.Markup(marker)], count=len(repositories), host=host, total=stored_bytes(tree) if total is None else total)
    head, _, tail = page.encode().partition(marker.encode())
    out[tree.root / "index.html"] = head + b"".join(sections) + tail
    return out
