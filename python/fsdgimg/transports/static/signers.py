"""Who signed a static tree's images, for its page: the public keys its publisher signed with are
recorded at signing time in `_web/signers/` (never served), and each tag's signatures are checked
against them when the page is rendered.

The page never says "signed" because a signature is present: a cosign signature (the `.sig` tag)
counts when it verifies against a recorded key and its payload names the tag's manifest digest; an
OpenPGP signature (lookaside, `sigstore/NAME@sha256=HEX/signature-N`) when gpgv verifies it against a
recorded keyring and its payload names that digest. Anything else is shown as not verified.

    _web/signers/sigstore-<fingerprint>.pub   PEM SubjectPublicKeyInfo; fingerprint: SHA-256 of its DER
    _web/signers/openpgp-<fingerprint>.gpg    the exported public key (gpg --export)
    _web/signers/openpgp-<fingerprint>.json   {"fingerprint": ..., "uid": ...} (the primary user ID)
    _web/signers/checked/<sha256>             a cache of gpgv's answers (see Verifier._gpgv)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from fsdgimg.errors import InputError
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import dump_json
from fsdgimg.signature.gpgv import MAX_SIGNATURE, GpgvUnavailable, gpgv
from fsdgimg.transports.static import files
from fsdgimg.transports.static.layout import Tree

SIGNERS = "signers"
CHECKED = "checked"   # gpgv's answers, by the hash of what decides them
_FINGERPRINT = re.compile(r"(?:[0-9A-F]{40}|[0-9A-F]{64})\Z")
_SIGSTORE_FILE = re.compile(r"sigstore-([0-9a-f]{64})\.pub\Z")
_OPENPGP_FILE = re.compile(r"openpgp-([0-9A-F]{40}|[0-9A-F]{64})\.gpg\Z")


@dataclass(frozen=True)
class Signer:
    kind: str                 # "sigstore" (cosign's format) or "openpgp"
    fingerprint: str          # sigstore: sha256 hex of the DER public key; OpenPGP: the primary key's
    uid: str | None = None    # OpenPGP: the primary user ID recorded when it signed


def sigstore_fingerprint(public_key) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, in hex: what sigstore tools show for a public key."""
    from cryptography.hazmat.primitives import serialization
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _directory(root: Path) -> Path:
    return Tree(root).web / SIGNERS


def record_sigstore_key(root: Path, public_key) -> str:
    """Record the public half of a key about to sign in the tree at `root`; returns its fingerprint."""
    from fsdgimg.signature import keys
    fingerprint = sigstore_fingerprint(public_key)
    files.write_bytes(_directory(root) / f"sigstore-{fingerprint}.pub", keys.public_pem(public_key))
    return fingerprint


def recorded_openpgp_key(root: Path, fingerprint: str) -> bool:
    directory = _directory(root)
    return (directory / f"openpgp-{fingerprint}.gpg").is_file() and (directory / f"openpgp-{fingerprint}.json").is_file()


def record_openpgp_key(root: Path, fingerprint: str, uid: str | None, exported: bytes) -> None:
    if not _FINGERPRINT.match(fingerprint):
        raise InputError(f"{fingerprint[:80]!r}: not an OpenPGP fingerprint")
    directory = _directory(root)
    files.write_bytes(directory / f"openpgp-{fingerprint}.gpg", exported)
    files.write_bytes(directory / f"openpgp-{fingerprint}.json", dump_json({"fingerprint": fingerprint, "uid": uid}))


class Verifier:
    """Checks the signatures of one tree against its recorded keys (loaded once per page render)."""

    def __init__(self, tree: Tree):
        self.tree = tree
        self._sigstore: list[tuple[str, object]] | None = None
        self._openpgp: dict[str, str | None] | None = None

    def _load(self) -> None:
        from fsdgimg.signature import keys
        self._sigstore, self._openpgp = [], {}
        directory = self.tree.web / SIGNERS
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            return
        for entry in entries:
            if m := _SIGSTORE_FILE.match(entry):
                try:
                    key = keys.load_public_key(directory / entry)
                except InputError:
                    continue
                if sigstore_fingerprint(key) == m.group(1):  # a file named for another key proves nothing
                    self._sigstore.append((m.group(1), key))
            elif m := _OPENPGP_FILE.match(entry):
                uid = None
                try:
                    info = json.loads((directory / f"openpgp-{m.group(1)}.json").read_bytes())
                    uid = info.get("uid")[:200] if isinstance(info.get("uid"), str) else None
                except (OSError, ValueError, AttributeError):
                    pass
                self._openpgp[m.group(1)] = uid

    def sigstore(self, layers: list[tuple[bytes, bytes]], digest: Digest) -> tuple[list[Signer], int]:
        """(signers, how many did not verify) of cosign signature layers given as (payload, signature)."""
        from fsdgimg.signature import cosign
        if self._sigstore is None:
            self._load()
        found, bad = [], 0
        for data, signature in layers:
            try:
                verified = cosign.verified_claims(data, signature, self._sigstore, "signature")
            except InputError:
                verified = []
            # The first recorded key that verifies names the signer (the keys are sorted by fingerprint).
            signer = next((Signer("sigstore", fingerprint) for (fingerprint, _), _, claimed in verified[:1]
                           if claimed == str(digest)), None)
            if signer is None:
                bad += 1
            elif signer not in found:
                found.append(signer)
        return found, bad

    def openpgp(self, name: str, digest: Digest) -> tuple[list[Signer], int]:
        """(signers, how many did not verify) of the lookaside signatures of `digest`."""
        if self._openpgp is None:
            self._load()
        found, bad = [], 0
        for path in self.tree.signatures(name, digest):
            fingerprint = self._gpgv(path, digest) if self._openpgp else None
            if fingerprint is None:
                bad += 1
                continue
            signer = Signer("openpgp", fingerprint, self._openpgp.get(fingerprint))
            if signer not in found:
                found.append(signer)
        return found, bad

    def _gpgv(self, path: Path, digest: Digest) -> str | None:
        """The primary key fingerprint of a recorded key that made the signature at `path` over a
        payload naming `digest`, else None. A signature never changes, so the answer is kept in
        _web/signers/checked/, under the hash of what decides it (the signature, the recorded keys,
        the digest): a page rendered again runs gpgv only for signatures it has not seen."""
        try:
            with open(path, "rb") as f:
                signature = f.read(MAX_SIGNATURE + 1)
        except OSError:
            return None
        if len(signature) > MAX_SIGNATURE:
            return None
        key = hashlib.sha256(b"\0".join([signature, ",".join(sorted(self._openpgp)).encode(),
                                         str(digest).encode()])).hexdigest()
        cached = self.tree.web / SIGNERS / CHECKED / key
        try:
            answer = cached.read_text()
            return answer if answer in self._openpgp else None
        except (OSError, UnicodeDecodeError):
            pass
        answer = self._run_gpgv(path, digest)
        if answer is not False:
            try:
                files.write_bytes(cached, (answer or "").encode(), fsync=False)
            except OSError:
                pass  # only a cache
        return answer or None

    def _run_gpgv(self, path: Path, digest: Digest) -> str | None | bool:
        """As _gpgv, without the cache; False when gpgv could not give an answer (not installed, too slow)."""
        directory = self.tree.web / SIGNERS
        try:
            answer = gpgv(path, [directory / f"openpgp-{fingerprint}.gpg" for fingerprint in self._openpgp])
        except GpgvUnavailable:
            return False
        if answer is None:
            return False
        if answer.fingerprint not in self._openpgp:
            return None
        try:
            obj = json.loads(answer.payload)
            claimed = obj["critical"]["image"]["docker-manifest-digest"]
        except (ValueError, KeyError, TypeError):
            return None
        return answer.fingerprint if claimed == str(digest) else None

    def attestation(self, path: Path, digest: Digest) -> tuple[Signer | None, object, str | None]:
        """(the recorded key that signed the DSSE envelope at `path`, its verdict, its policy — a
        VSA's: the publisher's check or a rebuilder's) when the envelope verifies and its statement
        names `digest`; (None, None, None) otherwise. Like gpgv's,
        the answer is kept in _web/signers/checked/ under the hash of what decides it (the
        envelope's bytes, the recorded keys, the digest), so an SBOM's envelope is verified once."""
        from fsdgimg.signature import dsse, intoto, keys
        if self._sigstore is None:
            self._load()
        try:
            with open(path, "rb") as f:
                data = f.read(dsse.MAX_ENVELOPE + 1)
        except OSError:
            return None, None
        recorded = ",".join(fingerprint for fingerprint, _ in self._sigstore)
        key = hashlib.sha256(b"\0".join([b"dsse", hashlib.sha256(data).digest(), recorded.encode(),
                                         str(digest).encode()])).hexdigest()
        cached = self.tree.web / SIGNERS / CHECKED / key
        try:
            answer = json.loads(cached.read_bytes())
            if answer.get("signer") in {f for f, _ in self._sigstore} and "policy" in answer:
                return Signer("sigstore", answer["signer"]), answer.get("verdict"), answer["policy"]
            if "signer" in answer and answer["signer"] is None:
                return None, None, None
        except (OSError, ValueError, AttributeError):
            pass
        signer, verdict, policy = None, None, None
        try:
            env = dsse.parse(data, str(path))
            statement = intoto.parse(env.body, str(path))
            if statement.names(digest):
                signer = next((f for f, pub in self._sigstore for s in env.signatures
                               if keys.verify(pub, env.signed_bytes(), s)), None)
            if signer is not None and isinstance(statement.predicate, dict):
                v = statement.predicate.get("verdict") or statement.predicate.get("verificationResult")
                verdict = v[:40] if isinstance(v, str) else None
                p = statement.predicate.get("policy")
                policy = p.get("uri")[:200] if isinstance(p, dict) and isinstance(p.get("uri"), str) else None
        except InputError:
            pass
        try:
            files.write_bytes(cached, dump_json({"signer": signer, "verdict": verdict, "policy": policy}),
                              fsync=False)
        except OSError:
            pass  # only a cache
        return (Signer("sigstore", signer) if signer else None), verdict, policy
