"""Distribution keyrings the host lacks, fetched from the distribution and checked against a pin.

Debian packages neither Trisquel's nor PureOS's archive keyring. The catalog pins the keyring's
source tarball by its sha256 (the same tarball, and hash, as Guix's trisquel-keyring and
pureos-archive-keyring packages), so the download needs no trust in the transport: the bytes are
checked before the keyring is extracted, and the keyring then checks the archive.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from pathlib import Path

from fsdgimg.build import archive_http
from fsdgimg.errors import InputError

MAX_TARBALL = 16 << 20


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fsdgimg" / "keyrings"


def fetch_keyring(url: str, sha256: str, member: str, what: str) -> Path:
    """The keyring file `member` of the tarball at `url` (sha256-pinned), cached after the first fetch."""
    target = cache_dir() / sha256 / Path(member).name
    if target.is_file():
        return target
    data = archive_http.get(url, MAX_TARBALL, f"{what}: cannot fetch the keyring from")
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise InputError(f"{what}: {url} has sha256 {actual}, the catalog pins {sha256}")
    return _extract(data, member, target, what)


def _extract(data: bytes, member: str, target: Path, what: str) -> Path:
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            # The tarball's files sit under a top directory named after its version.
            info = next((m for m in tf.getmembers()
                         if m.isreg() and (m.name == member or m.name.endswith("/" + member))), None)
            if info is None:
                raise InputError(f"{what}: the keyring tarball has no {member}")
            keyring = tf.extractfile(info).read()
    except tarfile.TarError as e:
        raise InputError(f"{what}: the keyring tarball is not a tar archive ({e})") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(keyring)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target
