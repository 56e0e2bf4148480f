"""DSSE, the Dead Simple Signing Envelope (secure-systems-lab/dsse v1.0), as in-toto and cosign use it.

What is signed is never the payload alone but its pre-authentication encoding,
`DSSEv1 <len(type)> <type> <len(body)> <body>`: a signature over an in-toto statement cannot be
replayed as a signature over any other kind of document. The envelope is JSON with the payload in
base64; cosign writes `{"payload":…,"payloadType":…,"signatures":[{"sig":…}]}` and so does this.
Formats only: nothing here reads keys or the network.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from fsdgimg.errors import InputError
from fsdgimg.oci.jsonio import bounded_list, load_json

MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"   # an envelope as an OCI layer (cosign's .att)
IN_TOTO = "application/vnd.in-toto+json"                 # the payload type of an in-toto statement
# An SBOM of a large image is a few MiB; bounds against a hostile server, not limits anyone meets.
MAX_ENVELOPE = 32 << 20
MAX_SIGNATURES = 16


def pae(payload_type: str, body: bytes) -> bytes:
    """The pre-authentication encoding: the bytes a DSSE signature is made over."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def envelope(body: bytes, signatures: list[bytes], payload_type: str = IN_TOTO) -> bytes:
    """The envelope's JSON, as json.dumps with separators=(",", ":") writes it, assembled around
    the base64 payload (which needs no JSON escaping) rather than scanning a statement of
    megabytes for characters to escape once more."""
    sigs = ",".join('{"sig":"%s"}' % base64.b64encode(s).decode() for s in signatures)
    return b"".join((b'{"payload":"', base64.b64encode(body), b'","payloadType":',
                     json.dumps(payload_type).encode(), b',"signatures":[', sigs.encode(), b"]}"))


@dataclass(frozen=True)
class Envelope:
    """An envelope as read, nothing verified yet."""
    payload_type: str
    body: bytes
    signatures: tuple[bytes, ...]

    def signed_bytes(self) -> bytes:
        return pae(self.payload_type, self.body)


def _b64(text, where: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise InputError(f"{where}: {what} is not a string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{where}: {what} is not base64") from None


def parse(data: bytes, where: str) -> Envelope:
    """Read an envelope; one-line errors for anything malformed, oversized or not in-toto."""
    return from_json(load_json(data, f"{where}: DSSE envelope", MAX_ENVELOPE), where)


def from_json(obj, where: str) -> Envelope:
    """An envelope already read as JSON (a sigstore bundle's `dsseEnvelope`); parse's checks."""
    if not isinstance(obj, dict):
        raise InputError(f"{where}: DSSE envelope is not a JSON object")
    payload_type = obj.get("payloadType")
    if payload_type != IN_TOTO:
        raise InputError(f"{where}: DSSE payloadType {str(payload_type)[:80]!r}, not {IN_TOTO}")
    body = _b64(obj.get("payload"), where, "DSSE payload")
    sigs = bounded_list(obj, "signatures", where, MAX_SIGNATURES, "DSSE envelope")
    signatures = tuple(_b64(s.get("sig") if isinstance(s, dict) else None, where, f"DSSE signature {n}")
                       for n, s in enumerate(sigs, 1))
    # No signature at all is a well-formed envelope (an OpenPGP-signing distribution signs the
    # manifest that lists it instead): it verifies against no key.
    return Envelope(payload_type, body, signatures)
