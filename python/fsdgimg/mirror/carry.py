"""What makes a mirrored image verify like the origin's, carried by `fsdgimg sync` for every image
it considers (each manifest of an index too):

- cosign's companion tags (`sha256-<hex>.sig`, `.att`, `.sbom`): copied when the destination lacks
  them; a `.sig` the destination already has with other signatures gets the source's missing
  layers added (a mirror's own signatures are kept);
- attachments (OCI 1.1 artifacts whose subject is the image): each one the destination lacks is
  copied by digest, then listed where readers look — a static tree's referrers file (its writer
  does that), a registry's referrers API, or else the fallback index tagged `sha256-<hex>`;
- tree to tree: the OpenPGP lookaside signatures (`sigstore/NAME@sha256=HEX/signature-N`), each
  one the destination does not hold already (by content) added as its next free signature-N,
  never replacing one, and the signers recorded in `_web/signers/`, so the mirror's index.html
  names the same signers.

Nothing is trusted here: the clients check what the mirror serves. Sizes are bounded all the same
(a hostile source's signature file of a gigabyte is one line, not a full disk). A dry run reads
the same and lists what it would carry, writing nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fsdgimg.errors import InputError
from fsdgimg.oci.digest import Digest

# cosign's companion tags of a manifest digest (not the referrers fallback tag: see attachments)
COMPANION_SUFFIXES = (".sig", ".att", ".sbom")
COMPANION_TAG = re.compile(r"sha256-[a-f0-9]{64}(\.[a-z]+)?\Z")
MAX_SIGNER_FILE = 1 << 20
MAX_MANIFEST = 4 << 20
_SIGNER_FILE = re.compile(r"(?:sigstore-[0-9a-f]{64}\.pub|openpgp-(?:[0-9A-F]{40}|[0-9A-F]{64})\.(?:gpg|json))\Z")


def is_companion(tag: str) -> bool:
    """A tag that is machinery about an image (a signature, the referrers fallback), not an image."""
    return bool(COMPANION_TAG.match(tag))


@dataclass
class Carried:
    signatures: int = 0      # companion tags written (cosign signatures, attestations, SBOMs)
    attachments: int = 0     # artifacts with a subject copied
    openpgp: int = 0         # lookaside signature-N files added
    signers: int = 0         # _web/signers records added
    carried: list[dict] = field(default_factory=list)   # each one: its kind, what it is, the image it is of

    def add(self, other: "Carried") -> None:
        for k in self.__dict__:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def __bool__(self) -> bool:
        return bool(self.carried) or any(v for k, v in self.__dict__.items() if k != "carried")

    def to_json(self) -> dict:
        return dict(self.__dict__)


def copy_artifact(src, dest, reference: str, tag: str | None, subject: Digest | None = None) -> None:
    """Copy the small manifest `reference` (a signature image, an attached artifact: not images to
    run, so not through the image model, which wants an image config) and its blobs, bounded, to
    `dest` as TAG (None: by digest). With `subject`, the manifest must name it."""
    from fsdgimg.oci.jsonio import load_json
    from fsdgimg.trust import attach
    from fsdgimg.trust import attachments as att
    where = f"{src.display}: {reference[:80]}"
    found = src.manifest(reference)
    if found is None:
        raise InputError(f"{where}: listed but missing")
    data, media_type, digest = found
    obj = load_json(data, where, MAX_MANIFEST)
    if not isinstance(obj, dict):
        raise InputError(f"{where}: not a manifest")
    if subject is not None:
        named = obj.get("subject") if isinstance(obj.get("subject"), dict) else {}
        if named.get("digest") != str(subject):
            raise InputError(f"{where}: listed as an attachment of {subject} but its subject is "
                             f"{str(named.get('digest'))[:80]}")
    descs = [obj.get("config"), *(obj.get("layers") if isinstance(obj.get("layers"), list) else [None])]
    blobs = {}
    for d in descs:
        if not isinstance(d, dict) or not isinstance(d.get("digest"), str) or not isinstance(d.get("size"), int) \
                or not 0 <= d["size"] <= att.MAX_ATTACHMENT:
            raise InputError(f"{where}: a blob descriptor is malformed or over {att.MAX_ATTACHMENT >> 20} MiB")
        if d["digest"] not in blobs:
            blobs[d["digest"]] = src.blob(d["digest"], d["size"])
    media_type = obj.get("mediaType") if isinstance(obj.get("mediaType"), str) else media_type
    if dest.kind == "docker":
        att.push_artifact(dest, tag or str(digest), data, media_type, list(blobs.values()))
    else:
        attach.write(dest, tag, data, list(blobs.values()))


class TrustCarrier:
    """Carries the trust of images from `src` to `dest` (trust.remote.Target factories by repository)."""

    def __init__(self, src_target: Callable, dest_target: Callable, src_root: Path | None, dest_root: Path | None,
                 dry_run: bool = False):
        self.src_target, self.dest_target = src_target, dest_target
        self.src_root, self.dest_root = src_root, dest_root
        self.dry_run = dry_run      # read and decide as for real, write nothing

    def carry(self, src_name: str, dest_name: str, digests: list[Digest]) -> Carried:
        out = Carried()
        src, dest = self.src_target(src_name), self.dest_target(dest_name)
        for digest in digests:
            for entry in self._companions(src, dest, digest):
                out.signatures += 1
                out.carried.append({"kind": "cosign", **entry, "of": str(digest)})
            for entry in self._attachments(src, dest, digest):
                out.attachments += 1
                out.carried.append({"kind": "attachment", **entry, "of": str(digest)})
            if self.src_root is not None and self.dest_root is not None:
                for path in self._lookaside(src_name, dest_name, digest):
                    out.openpgp += 1
                    out.carried.append({"kind": "openpgp", "signature": path, "of": str(digest)})
        return out

    # -- cosign's tags ----------------------------------------------------------------------------
    def _companions(self, src, dest, digest: Digest) -> list[dict]:
        """The companion tags written (or, dry, to write): {"tag", "signatures_added" for a merged .sig}."""
        written = []
        for suffix in COMPANION_SUFFIXES:
            tag = f"{digest.algorithm}-{digest.hex}{suffix}"
            found = src.manifest(tag)
            if found is None:
                continue
            have = dest.manifest(tag)
            if have is not None and have[2] == found[2]:
                continue
            if have is None:
                if not self.dry_run:
                    copy_artifact(src, dest, tag, tag)
                written.append({"tag": tag})
            elif suffix == ".sig" and (added := self._merge_signatures(src, dest, tag, found[0], have[0])):
                written.append({"tag": tag, "signatures_added": added})
        return written

    def _merge_signatures(self, src, dest, tag: str, theirs: bytes, ours: bytes) -> int:
        """The destination's `.sig` with the source's layers it lacks added (nothing removed): how
        many were (dry: would be) added."""
        from fsdgimg.signature import artifacts, cosign
        from fsdgimg.trust import attach
        kept = cosign.signature_layers(ours, f"{dest.display}: {tag}")

        def key(l: dict) -> tuple[str, str]:   # one payload signed by two keys: two signatures
            return l["digest"], l["annotations"][cosign.SIGNATURE_ANNOTATION]
        known = {key(l) for l in kept}
        new = [l for l in cosign.signature_layers(theirs, f"{src.display}: {tag}") if key(l) not in known]
        if not new:
            return 0
        if len(kept) + len(new) > cosign.MAX_LAYERS:
            raise InputError(f"{dest.display}: {tag} would hold over {cosign.MAX_LAYERS} signatures")
        if self.dry_run:
            return len(new)
        payloads = {l["digest"]: dest.blob(l["digest"], cosign.MAX_PAYLOAD) for l in kept}
        for l in new:
            if l["digest"] not in payloads:
                payloads[l["digest"]] = src.blob(l["digest"], cosign.MAX_PAYLOAD)
        layers = kept + new
        config = cosign.config_blob(layers)
        attach.write(dest.with_reference(tag), tag, artifacts.manifest_bytes(config, artifacts.OCI_CONFIG, layers),
                     [config, *payloads.values()])
        return len(new)

    # -- OCI 1.1 attachments ----------------------------------------------------------------------
    def _attachments(self, src, dest, digest: Digest) -> list[dict]:
        """The descriptors of the attachments copied (dry: to copy)."""
        from fsdgimg.trust import attachments as att
        listed = att.referrers(src.with_reference(str(digest)), digest).descriptors
        added = []
        for desc in listed:
            ref = desc["digest"]
            if ref == str(digest) or dest.manifest(ref) is not None:
                continue
            if not self.dry_run:
                copy_artifact(src, dest, ref, None, subject=digest)
            added.append({k: desc[k] for k in ("mediaType", "digest", "size", "artifactType", "annotations")
                          if k in desc})
        if added and dest.kind == "docker" and not self.dry_run:
            att.list_referrers(dest.with_reference(str(digest)), digest, added)
        return added

    # -- OpenPGP lookaside, tree to tree ----------------------------------------------------------
    def _lookaside(self, src_name: str, dest_name: str, digest: Digest) -> list[str]:
        """The source's signature files added (dry: to add), relative to its tree."""
        from fsdgimg.signature.gpgv import MAX_SIGNATURE
        from fsdgimg.transports.static.layout import Tree
        from fsdgimg.trust.openpgp import write_signature
        src, dest = Tree(self.src_root), Tree(self.dest_root)
        have = {_read(p, MAX_SIGNATURE) for p in dest.signatures(dest_name, digest)}
        added = []
        for path in src.signatures(src_name, digest):
            data = _read(path, MAX_SIGNATURE)
            if data is None:
                raise InputError(f"static:{self.src_root}: {path.relative_to(self.src_root)} is over "
                                 f"{MAX_SIGNATURE} bytes or unreadable: not an image signature")
            if data in have:
                continue
            if not self.dry_run:
                write_signature(dest.signature_dir(dest_name, digest), data)
            have.add(data)
            added.append(str(path.relative_to(self.src_root)))
        return added

    def carry_signers(self) -> list[str]:
        """The source tree's recorded signers the destination lacks (the page names them): their
        file names, written (dry: to write)."""
        from fsdgimg.transports.static import files
        from fsdgimg.transports.static.layout import Tree
        from fsdgimg.transports.static.signers import SIGNERS
        src, dest = Tree(self.src_root).web / SIGNERS, Tree(self.dest_root).web / SIGNERS
        added = []
        entries = sorted(p.name for p in src.iterdir()) if src.is_dir() else []
        for name in entries:
            if not _SIGNER_FILE.match(name) or (dest / name).exists():
                continue
            data = _read(src / name, MAX_SIGNER_FILE)
            if data is None:
                continue   # not a key this tree's publisher could have recorded: left behind
            if name.endswith(".json"):
                try:
                    json.loads(data)
                except ValueError:
                    continue
            if not self.dry_run:
                files.write_bytes(dest / name, data)
            added.append(name)
        return added


def _read(path: Path, limit: int) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return None
    return data if len(data) <= limit else None
