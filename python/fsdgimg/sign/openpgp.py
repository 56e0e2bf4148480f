"""OpenPGP signatures in the containers "simple signing" format, with lookaside storage.

The payload names the image (docker-reference) and its manifest digest; `gpg --sign` wraps it in
an OpenPGP message. podman, skopeo and buildah find the message at
`LOOKASIDE/NAME@sha256=HEX/signature-N` (N from 1) on any web server, as configured in
registries.d (`lookaside:`), and accept it under a `signedBy` policy with the distribution's
public keyring. The key is the one these distributions already sign their releases with.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from fsdgimg.digest import Digest
from fsdgimg.errors import FsdgimgError, InputError
from fsdgimg.sign.remote import Target

MAX_SIGNATURES = 100


def payload(reference: str, digest: Digest, timestamp: int | None = None) -> bytes:
    obj = {"critical": {"identity": {"docker-reference": reference},
                        "image": {"docker-manifest-digest": str(digest)},
                        "type": "atomic container signature"},
           "optional": {"creator": "fsdgimg", "timestamp": int(time.time()) if timestamp is None else timestamp}}
    return json.dumps(obj, separators=(",", ":")).encode()


def gpg_sign(data: bytes, key: str, homedir: Path | None = None) -> bytes:
    argv = ["gpg", "--batch", "--no-tty", "--yes", "--local-user", key, "--sign", "--output", "-"]
    if homedir is not None:
        argv[1:1] = ["--homedir", str(homedir)]
    try:
        proc = subprocess.run(argv, input=data, capture_output=True, timeout=120)
    except FileNotFoundError:
        raise FsdgimgError("gpg is not installed (Debian: apt-get install gnupg)") from None
    if proc.returncode != 0:
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        raise InputError(f"gpg could not sign with {key!r}: {last}")
    return proc.stdout


def lookaside_dir(root: Path, name: str, digest: Digest) -> Path:
    return root / f"{name}@{digest.algorithm}={digest.hex}"


def sign_openpgp(target: Target, key: str, lookaside: Path, *, identity: str | None = None,
                 homedir: Path | None = None) -> dict:
    """Sign the image `target` names; write the signature as the next signature-N in `lookaside`."""
    digest = target.resolve()
    reference = identity or target.repository
    if not target.reference.startswith("sha256:") and ":" not in reference.rsplit("/", 1)[-1]:
        reference = f"{reference}:{target.reference}"
    signature = gpg_sign(payload(reference, digest), key, homedir)
    directory = lookaside_dir(lookaside, target.name, digest)
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(1, MAX_SIGNATURES + 1):
        path = directory / f"signature-{n}"
        if path.exists() and path.read_bytes() == signature:
            break
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(signature)
        break
    else:
        raise InputError(f"{directory}: already {MAX_SIGNATURES} signatures")
    return {"image": target.display, "digest": str(digest), "identity": reference, "key": key,
            "signature": str(path)}
