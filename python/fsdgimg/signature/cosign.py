"""Sigstore-style key-pair signatures in the form cosign and containers/image share.

The signed payload is the "simple signing" JSON naming the image's repository and manifest digest;
the signature is ECDSA P-256 over the payload's exact bytes. Both travel as one layer of an OCI
image tagged `sha256-<hex>.sig` in the same repository (cosign's tag scheme, which podman and
skopeo read with `use-sigstore-attachments`): the layer is the payload, its annotation
`dev.cosignproject.cosign/signature` the base64 signature. A second key adds a layer.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from fsdgimg.errors import InputError
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import bounded_list, load_json

PAYLOAD_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
COSIGN_TYPE = "cosign container image signature"
MAX_PAYLOAD = 64 << 10
MAX_LAYERS = 64


def signature_tag(digest: Digest) -> str:
    return f"{digest.algorithm}-{digest.hex}.sig"


def payload(repository: str, digest: Digest) -> bytes:
    """cosign's simple-signing payload, byte for byte as cosign writes it (Go's encoding/json)."""
    return (f'{{"critical":{{"identity":{{"docker-reference":"{repository}"}},'
            f'"image":{{"docker-manifest-digest":"{digest}"}},"type":"{COSIGN_TYPE}"}},'
            f'"optional":null}}').encode()


@dataclass
class Signed:
    """One signature layer, parsed but not yet trusted."""
    payload: bytes
    signature: bytes
    layer: dict

    def claims(self, where: str) -> tuple[str, str]:
        """(docker-reference, docker-manifest-digest) the payload claims; one-line errors."""
        obj = load_json(self.payload, f"{where}: signature payload", MAX_PAYLOAD)
        try:
            critical = obj["critical"]
            if critical["type"] not in (COSIGN_TYPE, "atomic container signature"):
                raise InputError(f"{where}: signature payload of type {critical['type']!r}")
            return str(critical["identity"]["docker-reference"]), str(critical["image"]["docker-manifest-digest"])
        except (KeyError, TypeError):
            raise InputError(f"{where}: signature payload is not a simple-signing document") from None


def verified_claims(payload: bytes, signature: bytes, public_keys, where: str) -> list[tuple[object, str, str]]:
    """(key, docker-reference, docker-manifest-digest) for each of `public_keys` (pairs of a label
    and a public key, as `keys.load_public_key` gives it) that made `signature` over `payload`: what
    a trusted signature claims. The payload is parsed only once a key has verified it, so what an
    untrusted layer holds is never read; a verified payload that is no simple-signing document is a
    one-line InputError."""
    from fsdgimg.signature import keys
    verified = [key for key in public_keys if keys.verify(key[1], payload, signature)]
    if not verified:
        return []
    ref, claimed = Signed(payload, signature, {}).claims(where)
    return [(key, ref, claimed) for key in verified]


def config_blob(layers: list[dict]) -> bytes:
    """The image config cosign writes for a signature image: the payloads as diff IDs."""
    config = {"architecture": "", "config": {}, "created": "0001-01-01T00:00:00Z",
              "history": [{"created": "0001-01-01T00:00:00Z"}] * len(layers), "os": "",
              "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}
    return json.dumps(config, separators=(",", ":")).encode()


def layer(payload_bytes: bytes, signature: bytes) -> dict:
    return {"mediaType": PAYLOAD_TYPE, "size": len(payload_bytes), "digest": str(Digest.of(payload_bytes)),
            "annotations": {SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()}}


def signature_layers(manifest: bytes, where: str) -> list[dict]:
    """The simple-signing layers of a `.sig` manifest (validated in shape, nothing trusted)."""
    obj = load_json(manifest, where, 4 << 20)
    layers = bounded_list(obj, "layers", where, MAX_LAYERS, "signature manifest")
    out = []
    for n, l in enumerate(layers, 1):
        if not isinstance(l, dict) or l.get("mediaType") != PAYLOAD_TYPE:
            continue
        ann = l.get("annotations") if isinstance(l.get("annotations"), dict) else {}
        if not isinstance(ann.get(SIGNATURE_ANNOTATION), str) or not isinstance(l.get("digest"), str) \
                or not isinstance(l.get("size"), int) or l["size"] > MAX_PAYLOAD:
            raise InputError(f"{where}: signature layer {n} is malformed")
        out.append(l)
    return out


def decode_signature(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise InputError(f"{where}: signature is not base64") from None


# -- attestations: DSSE envelopes as the layers of the `sha256-<hex>.att` image ------------------
# As cosign attest (without the new bundle format) stores them, which `cosign verify-attestation`
# and `cosign tree` read: one layer an attestation, the envelope as its blob, the predicate type as
# an annotation, and the signature annotation present but empty (the signature is in the envelope).
PREDICATE_TYPE_ANNOTATION = "predicateType"
MAX_ATTESTATIONS = 64


def attestation_tag(digest: Digest) -> str:
    return f"{digest.algorithm}-{digest.hex}.att"


def attestation_layer(envelope: bytes, predicate_type: str) -> dict:
    from fsdgimg.signature.dsse import MEDIA_TYPE
    return {"mediaType": MEDIA_TYPE, "size": len(envelope), "digest": str(Digest.of(envelope)),
            "annotations": {SIGNATURE_ANNOTATION: "", PREDICATE_TYPE_ANNOTATION: predicate_type}}


def attestation_layers(manifest: bytes, where: str) -> list[dict]:
    """The envelope layers of a `.att` manifest, nothing trusted: each is checked on its own
    (`check_attestation_layer`), so that one forged layer a mirror adds spoils only itself."""
    from fsdgimg.signature.dsse import MEDIA_TYPE
    obj = load_json(manifest, where, 4 << 20)
    layers = bounded_list(obj, "layers", where, MAX_ATTESTATIONS, "attestation manifest")
    return [l for l in layers if isinstance(l, dict) and l.get("mediaType") == MEDIA_TYPE]


def check_attestation_layer(layer: dict, where: str) -> tuple[str, int, str]:
    """(digest, size, predicate type annotation) of an attestation layer; one line when malformed."""
    from fsdgimg.signature.dsse import MAX_ENVELOPE
    ann = layer.get("annotations") if isinstance(layer.get("annotations"), dict) else {}
    digest, size, ptype = layer.get("digest"), layer.get("size"), ann.get(PREDICATE_TYPE_ANNOTATION, "")
    if not isinstance(digest, str) or not isinstance(size, int) or size < 0 or not isinstance(ptype, str):
        raise InputError(f"{where}: attestation layer is malformed")
    if size > MAX_ENVELOPE:
        raise InputError(f"{where}: attestation envelope of {size} bytes (at most {MAX_ENVELOPE})")
    return digest, size, ptype
