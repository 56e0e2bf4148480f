"""The one way fsdgimg runs gpgv: which key of some keyrings made an OpenPGP signature, and what it signs.

Both readers of simple-signing signatures use it: `verify --gpg-keyring` (trust/openpgp_verify.py)
and a static tree's page naming its signers (transports/static/signers.py). The signature is not
trusted: its payload is read with a bound, since an OpenPGP message is compressed and a small file
could inflate without end, and gpgv is given a bounded time.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fsdgimg.errors import FsdgimgError

MAX_SIGNATURE = 64 << 10   # a simple-signing message is well under 1 KiB
MAX_PAYLOAD = 64 << 10     # its payload a few hundred bytes
SECONDS = 60


class GpgvUnavailable(FsdgimgError):
    """gpgv could not be run: no answer about any signature."""


@dataclass(frozen=True)
class Answer:
    fingerprint: str | None   # the primary key of the keyring key that made a good signature, else None
    payload: bytes            # what the signature signs (b"" when over MAX_PAYLOAD)


def gpgv(signature: Path, keyrings: list[Path], homedir: Path | None = None) -> Answer | None:
    """gpgv's answer for the signature file against `keyrings` (binary keyrings: gpgv reads no
    armor), or None when it gave none in time. `homedir`: gpgv's, where it may write."""
    argv = ["gpgv", *(["--homedir", str(homedir)] if homedir is not None else []), "--status-fd", "2",
            "--output", "-"]
    for keyring in keyrings:
        argv += ["--keyring", str(keyring)]
    argv.append(str(signature))
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=dict(os.environ, LC_ALL="C"))
    except FileNotFoundError:
        raise GpgvUnavailable("gpgv is not installed (Debian: apt-get install gpgv)") from None
    except OSError as e:
        raise GpgvUnavailable(f"gpgv: {e.strerror}") from None
    try:
        payload = proc.stdout.read(MAX_PAYLOAD + 1)
        if len(payload) > MAX_PAYLOAD:
            return Answer(None, b"")
        _, status = proc.communicate(timeout=SECONDS)
    except subprocess.TimeoutExpired:
        return None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    primary = None
    for line in status.decode(errors="replace").splitlines():
        fields = line.split()
        if fields[:2] == ["[GNUPG:]", "VALIDSIG"] and len(fields) >= 12:
            primary = fields[11]
    return Answer(primary if proc.returncode == 0 else None, payload)
