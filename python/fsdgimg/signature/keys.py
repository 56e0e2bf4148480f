"""ECDSA P-256 keys as cosign writes and reads them.

Private keys: cosign's "ENCRYPTED SIGSTORE PRIVATE KEY" PEM (a JSON envelope: scrypt derives a
key from the password, NaCl secretbox holds the PKCS#8 DER key) — so that keys made by
`cosign generate-key-pair` sign here and keys made here sign with cosign — and plain PKCS#8 /
SEC1 PEM. The password comes from COSIGN_PASSWORD, as for cosign (empty when unset).
Public keys: PEM SubjectPublicKeyInfo (cosign.pub).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fsdgimg.errors import InputError

ENCRYPTED = "ENCRYPTED SIGSTORE PRIVATE KEY"
ENCRYPTED_OLD = "ENCRYPTED COSIGN PRIVATE KEY"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 65536, 8, 1
MAX_KEY_FILE = 64 << 10


def password() -> bytes:
    return os.environ.get("COSIGN_PASSWORD", "").encode()


def _pem_body(text: str, label: str) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start = text.index(begin) + len(begin)
    return base64.b64decode("".join(text[start:text.index(end, start)].split()), validate=True)


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_KEY_FILE:
            raise InputError(f"{path}: {path.stat().st_size} bytes is too large for a {what}")
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the {what}: {e.strerror}") from None


def _scrypt(pw: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pw, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 << 20)


# Keys unlocked in this process, by (key file bytes, password): scrypt costs a fifth of a second,
# and `fsdgimg build --sign-key` unlocks the key before building (a wrong password stops it early)
# and again to sign after publishing.
_UNLOCKED: dict[tuple[bytes, bytes], ec.EllipticCurvePrivateKey] = {}


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    data = _read(path, "private key")
    unlocked = _UNLOCKED.get((data, password()))
    if unlocked is not None:
        return unlocked
    text = data.decode("ascii", "replace")
    try:
        if f"BEGIN {ENCRYPTED}" in text or f"BEGIN {ENCRYPTED_OLD}" in text:
            from nacl.exceptions import CryptoError
            from nacl.secret import SecretBox
            label = ENCRYPTED if f"BEGIN {ENCRYPTED}" in text else ENCRYPTED_OLD
            envelope = json.loads(_pem_body(text, label))
            kdf, cipher = envelope["kdf"], envelope["cipher"]
            if kdf.get("name") != "scrypt" or cipher.get("name") != "nacl/secretbox":
                raise InputError(f"{path}: unsupported key encryption {kdf.get('name')}/{cipher.get('name')}")
            params = kdf["params"]
            box = SecretBox(_scrypt(password(), base64.b64decode(kdf["salt"]), int(params["N"]),
                                    int(params["r"]), int(params["p"])))
            try:
                der = box.decrypt(base64.b64decode(envelope["ciphertext"]), base64.b64decode(cipher["nonce"]))
            except CryptoError:
                raise InputError(f"{path}: wrong password for the private key (set COSIGN_PASSWORD)") from None
            key = serialization.load_der_private_key(der, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=password() or None)
    except InputError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not a private key cosign or fsdgimg can read "
                         f"({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InputError(f"{path}: not an ECDSA P-256 private key")
    _UNLOCKED[(data, password())] = key
    _ecdsa()  # now, with the unlocking (before a build), not in the signing stage
    return key


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise InputError(f"{path}: not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InputError(f"{path}: not an ECDSA P-256 public key")
    return key


def public_pem(key) -> bytes:
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def encrypted_private_pem(key: ec.EllipticCurvePrivateKey, pw: bytes) -> bytes:
    """cosign's encrypted key file (cosign sign --key reads it)."""
    from nacl.secret import SecretBox
    from nacl.utils import random
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    salt, nonce = random(32), random(SecretBox.NONCE_SIZE)
    box = SecretBox(_scrypt(pw, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))
    ciphertext = box.encrypt(der, nonce).ciphertext
    envelope = {"kdf": {"name": "scrypt", "params": {"N": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
                        "salt": base64.b64encode(salt).decode()},
                "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
                "ciphertext": base64.b64encode(ciphertext).decode()}
    body = base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {ENCRYPTED}-----\n" + "\n".join(lines) + f"\n-----END {ENCRYPTED}-----\n").encode()


def generate(prefix: Path) -> tuple[Path, Path]:
    """PREFIX.key (encrypted with COSIGN_PASSWORD, cosign's format) and PREFIX.pub; never overwrites."""
    key_path, pub_path = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    for p in (key_path, pub_path):
        if p.exists():
            raise InputError(f"{p}: exists; not overwriting a key")
    key = ec.generate_private_key(ec.SECP256R1())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(encrypted_private_pem(key, password()))
    pub_path.write_bytes(public_pem(key))
    return key_path, pub_path


@functools.cache
def _ecdsa() -> ec.ECDSA:
    """ECDSA with SHA-256. Making one imports OpenSSL's backend module (~15 ms): once."""
    return ec.ECDSA(hashes.SHA256())


def sign(key: ec.EllipticCurvePrivateKey, payload: bytes) -> bytes:
    """ECDSA with SHA-256, ASN.1 DER: what cosign puts (base64) in its signature annotation."""
    return key.sign(payload, _ecdsa())


def verify(key: ec.EllipticCurvePublicKey, payload: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, payload, _ecdsa())
        return True
    except (InvalidSignature, ValueError):
        return False


def key_id(key) -> str:
    """A short name for a key in reports: sha256 of its public key's DER, first 16 hex digits."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]
