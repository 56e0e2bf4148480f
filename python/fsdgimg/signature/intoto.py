"""in-toto attestations (Statement v1): a statement names its subjects by digest and carries one
predicate of a declared type. The predicate types fsdgimg signs, and the short names `--type`
takes (cosign's where cosign has one, so `cosign verify-attestation --type` takes the same):

    spdxjson         https://spdx.dev/Document                      the SBOM (SPDX 2.3 JSON)
    fsdg-audit       https://fsdgimg.org/fsdg-audit/v1              the FSDG license audit (docs/trust.md)
    slsaprovenance1  https://slsa.dev/provenance/v1                 how and from what the image was built
    vsa              https://slsa.dev/verification_summary/v1       the reproducibility verdict

Any other absolute URI is a predicate type of its own. Formats only: no keys, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fsdgimg.errors import InputError, UsageError
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import bounded_list, load_json

STATEMENT = "https://in-toto.io/Statement/v1"
# What cosign itself still writes; read, never written.
STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"

SPDX = "https://spdx.dev/Document"
FSDG_AUDIT = "https://fsdgimg.org/fsdg-audit/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
VSA = "https://slsa.dev/verification_summary/v1"
# The policy of a VSA an independent rebuilder signs after rebuilding an image from its lock
# (fsdgimg rebuild --attest-key); `verify --rebuilder-key --threshold` counts only these.
REBUILD_POLICY = "https://fsdgimg.org/policy/rebuilt-from-lock/v1"

NAMES = {"spdxjson": SPDX, "spdx": SPDX, "fsdg-audit": FSDG_AUDIT, "slsaprovenance1": SLSA_PROVENANCE,
         "vsa": VSA}
MAX_SUBJECTS = 256


def predicate_type(text: str) -> str:
    """A --type value: a short name above, or an absolute https:// URI."""
    if text in NAMES:
        return NAMES[text]
    if text.startswith("https://") and len(text) <= 512 and text.isprintable() and " " not in text:
        return text
    raise UsageError(f"--type {text[:80]!r}: expected {', '.join(NAMES)} or an https:// predicate type URI")


def statement(subject_name: str, digest: Digest, predicate_type: str, predicate) -> bytes:
    """The statement's exact bytes (keys sorted, no spaces: the same inputs give the same bytes)."""
    return json.dumps({"_type": STATEMENT, "subject": [{"name": subject_name, "digest": {digest.algorithm: digest.hex}}],
                       "predicateType": predicate_type, "predicate": predicate},
                      separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Statement:
    predicate_type: str
    subjects: tuple[tuple[str, str], ...]     # (name, "sha256:hex")
    predicate: object

    def names(self, digest: Digest) -> bool:
        return any(d == str(digest) for _, d in self.subjects)


def parse(body: bytes, where: str) -> Statement:
    obj = load_json(body, f"{where}: in-toto statement", len(body) + 1)
    if not isinstance(obj, dict) or obj.get("_type") not in (STATEMENT, STATEMENT_V01):
        kind = obj.get("_type") if isinstance(obj, dict) else None
        raise InputError(f"{where}: not an in-toto statement (_type {str(kind)[:80]!r})")
    ptype = obj.get("predicateType")
    if not isinstance(ptype, str) or not ptype:
        raise InputError(f"{where}: in-toto statement has no predicateType")
    subjects = []
    for n, s in enumerate(bounded_list(obj, "subject", where, MAX_SUBJECTS, "in-toto statement"), 1):
        digests = s.get("digest") if isinstance(s, dict) else None
        if not isinstance(digests, dict):
            raise InputError(f"{where}: in-toto subject {n} has no digest")
        name = s.get("name") if isinstance(s.get("name"), str) else ""
        subjects += [(name, f"{alg}:{hex_}") for alg, hex_ in digests.items() if isinstance(hex_, str)]
    return Statement(ptype, tuple(subjects), obj.get("predicate"))
