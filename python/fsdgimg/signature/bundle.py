"""Sigstore bundles (v0.3) holding one DSSE envelope, and the OCI 1.1 artifact that attaches one to
an image: what `cosign attest` writes with its new bundle format (the default of cosign 3) on a
registry with the referrers API, and what `cosign verify-attestation` reads there.

The artifact is an image manifest with artifactType `application/vnd.dev.sigstore.bundle.v0.3+json`,
the empty config, the bundle as its one layer, the image as its `subject`, and the predicate type in
the annotation `dev.sigstore.bundle.predicateType`. The bundle carries the envelope unchanged (the
same statement and signature as the `.att` layer) and, for a key pair, only a hint naming the key
(base64 of the SHA-256 of its DER public key, as cosign writes it): no certificate, no transparency
log entry. Formats only: nothing here reads keys or the network.
"""

from __future__ import annotations

import base64
import hashlib

from fsdgimg.errors import InputError
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import load_json
from fsdgimg.signature import artifacts, dsse

MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
# Older bundles name their version as a media type parameter; all carry dsseEnvelope the same way.
MEDIA_TYPES = (MEDIA_TYPE, "application/vnd.dev.sigstore.bundle+json;version=0.3",
               "application/vnd.dev.sigstore.bundle+json;version=0.2")
CONTENT_ANNOTATION = "dev.sigstore.bundle.content"
PREDICATE_TYPE_ANNOTATION = "dev.sigstore.bundle.predicateType"
MAX_BUNDLE = dsse.MAX_ENVELOPE + (64 << 10)      # an envelope and its verification material


def key_hint(public_key) -> str:
    """cosign's `publicKey.hint` for a key pair: base64 of the SHA-256 of the DER public key."""
    from cryptography.hazmat.primitives import serialization
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def bundle(envelope: bytes, hint: str) -> bytes:
    """The bundle's bytes around the envelope's own (keys in cosign's order)."""
    return b"".join((b'{"mediaType":"', MEDIA_TYPE.encode(), b'","verificationMaterial":{"publicKey":{"hint":"',
                     hint.encode(), b'"}},"dsseEnvelope":', envelope, b"}"))


def referrer_manifest(subject: dict, bundle_bytes: bytes, predicate_type: str) -> bytes:
    """The artifact attaching a bundle to `subject` (the image's descriptor). No creation time: the
    signature inside is what is new, and a clock would be one more thing a rebuild differs in."""
    layer = {"mediaType": MEDIA_TYPE, "size": len(bundle_bytes), "digest": str(Digest.of(bundle_bytes))}
    return artifacts.manifest_bytes(artifacts.EMPTY_CONFIG, artifacts.EMPTY_CONFIG_TYPE, [layer], subject=subject,
                                    artifact_type=MEDIA_TYPE,
                                    annotations={CONTENT_ANNOTATION: "dsse-envelope",
                                                 PREDICATE_TYPE_ANNOTATION: predicate_type})


def is_bundle_artifact(manifest: dict) -> bool:
    """Is this artifact manifest (as read) a sigstore bundle attachment?"""
    if not isinstance(manifest, dict):
        return False
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    return (manifest.get("artifactType") or config.get("mediaType")) in MEDIA_TYPES


def bundle_layer(manifest: dict, where: str) -> tuple[str, int, str]:
    """(digest, size, predicate type annotation) of a bundle artifact's one layer; one line when
    malformed or larger than any envelope fsdgimg reads (refused from its declared size)."""
    layers = manifest.get("layers")
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        raise InputError(f"{where}: a sigstore bundle artifact has one layer")
    layer = layers[0]
    ann = manifest.get("annotations") if isinstance(manifest.get("annotations"), dict) else {}
    digest, size, ptype = layer.get("digest"), layer.get("size"), ann.get(PREDICATE_TYPE_ANNOTATION, "")
    if layer.get("mediaType") not in MEDIA_TYPES or not isinstance(digest, str) or not isinstance(size, int) \
            or size < 0 or not isinstance(ptype, str):
        raise InputError(f"{where}: sigstore bundle layer is malformed")
    if size > MAX_BUNDLE:
        raise InputError(f"{where}: sigstore bundle of {size} bytes (at most {MAX_BUNDLE})")
    return digest, size, ptype


def envelope_of(data: bytes, where: str) -> dsse.Envelope:
    """The DSSE envelope a bundle holds (nothing verified); one line when it holds none."""
    obj = load_json(data, f"{where}: sigstore bundle", MAX_BUNDLE)
    if not isinstance(obj, dict) or obj.get("mediaType") not in MEDIA_TYPES:
        kind = obj.get("mediaType") if isinstance(obj, dict) else None
        raise InputError(f"{where}: not a sigstore bundle (mediaType {str(kind)[:80]!r})")
    if "dsseEnvelope" not in obj:
        raise InputError(f"{where}: sigstore bundle without a DSSE envelope (a message signature, not an attestation)")
    return dsse.from_json(obj["dsseEnvelope"], where)
