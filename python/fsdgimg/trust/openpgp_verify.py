"""Checking OpenPGP signatures (containers simple signing) of an image, as podman and skopeo do under a
`signedBy` policy: a `signature-N` in the lookaside storage must verify, by gpgv, with a key of the
given public keyring (podman's `keyPath`), and its payload must name this manifest digest and the
image's reference (`matchRepoDigestOrExact`: for a tag, the same repository and tag; for a digest,
the same repository).

The lookaside storage is a URL (registries.d's `lookaside`) or, for `static:DIR`, the tree's own
`DIR/sigstore`. A lookaside server is not trusted: every answer is bounded in size and in time, and
a signature that fails any rule is one line saying which.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fsdgimg.errors import FsdgimgError, InputError, UsageError, printable
from fsdgimg.oci.digest import Digest
from fsdgimg.signature.gpgv import MAX_SIGNATURE, gpgv
from fsdgimg.transports.static.layout import MAX_SIGNATURES, lookaside_dir

FETCH_SECONDS = 30.0        # the whole of one signature's answer, however slowly it drips
LOOKASIDE_SECONDS = 120.0   # all of them: a server answering 100 signatures slowly is stopped too
SIMPLE_SIGNING_TYPE = "atomic container signature"


@dataclass
class OpenPGPCheck:
    """What `verify --gpg-keyring` asks: the keyrings, where the signatures are, what they must name."""
    keyrings: list[Path]
    lookaside: str | None = None      # URL or directory; None: the default for the image's location
    identity: str | None = None       # HOST[:PORT]/NAME the signatures must name; None: the image's own
    insecure: bool = False

    def check_usage(self) -> None:
        """Each keyring holds a public key, the lookaside is a URL or a directory, the identity a
        repository: a usage error (one line) before anything is fetched."""
        if self.lookaside is not None and "://" in self.lookaside and \
                not self.lookaside.startswith(("http://", "https://")):
            raise UsageError(f"--lookaside {printable(self.lookaside)[:80]!r}: expected an http(s) URL or a directory")
        if self.identity is not None:
            from fsdgimg.oci.reference import check_name
            head, _, path = self.identity.partition("/")
            try:
                check_name(path)
            except FsdgimgError:
                path = ""
            if not head or not path or any(c in path for c in ":@"):
                raise UsageError(f"--identity {printable(self.identity)[:80]!r}: expected HOST[:PORT]/NAME")
        with tempfile.TemporaryDirectory(prefix="fsdgimg-gpg-") as tmp:
            Path(tmp).chmod(0o700)
            for path in self.keyrings:
                if not Path(path).is_file():
                    raise UsageError(f"--gpg-keyring {path}: no such file")
                keyring_fingerprints(path, Path(tmp))


def keyring_fingerprints(path: Path, homedir: Path) -> list[str]:
    """The primary key fingerprints of an exported public keyring; one line when it holds none."""
    try:
        proc = subprocess.run(["gpg", "--batch", "--no-tty", "--homedir", str(homedir), "--with-colons",
                               "--show-keys", str(path)], capture_output=True, timeout=60,
                              env=dict(os.environ, LC_ALL="C"))
    except FileNotFoundError:
        raise FsdgimgError("gpg is not installed (Debian: apt-get install gnupg)") from None
    out, pending = [], False
    for line in proc.stdout.decode(errors="replace").splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            pending = True
        elif fields[0] == "fpr" and pending:
            out.append(fields[9])
            pending = False
    if proc.returncode != 0 or not out:
        raise UsageError(f"--gpg-keyring {path}: not an OpenPGP public keyring")
    return out


def _gpgv_keyring(path: Path, homedir: Path, n: int) -> Path:
    """gpgv reads binary keyrings only: an armored export is dearmored into the temporary homedir."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        raise UsageError(f"--gpg-keyring {path}: {e.strerror}") from None
    if not head.lstrip().startswith(b"-----BEGIN PGP"):
        return path
    out = homedir / f"keyring-{n}.gpg"
    proc = subprocess.run(["gpg", "--batch", "--no-tty", "--homedir", str(homedir), "--yes", "--output", str(out),
                           "--dearmor", str(path)], capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise UsageError(f"--gpg-keyring {path}: not an OpenPGP public keyring")
    return out


# -- fetching signature-N -------------------------------------------------------------------------
def _fetch_local(directory: Path, n: int) -> bytes | None:
    path = directory / f"signature-{n}"
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SIGNATURE + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None
    if len(data) > MAX_SIGNATURE:
        raise InputError(f"{path}: over {MAX_SIGNATURE >> 10} KiB, not a signature")
    return data


def _fetch_url(session, url: str, verify, until: float) -> bytes | None:
    import requests
    deadline = min(time.monotonic() + FETCH_SECONDS, until)
    try:
        with session.get(url, stream=True, timeout=(10, 10), verify=verify,
                         headers={"Accept-Encoding": "identity"}) as resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise InputError(f"{url}: HTTP {resp.status_code}")
            data = b""
            # read1: whatever has arrived, so that the clock is looked at however slowly bytes drip
            while chunk := resp.raw.read1(8192):
                data += chunk
                if len(data) > MAX_SIGNATURE:
                    raise InputError(f"{url}: over {MAX_SIGNATURE >> 10} KiB, not a signature (lookaside server "
                                     "not trusted)")
                if time.monotonic() > deadline:
                    raise InputError(f"{url}: no whole answer in time (lookaside server not trusted)")
            return data
    except requests.RequestException as e:
        raise InputError(f"{url}: {printable(str(e))[:160]}") from None


def signatures(check: OpenPGPCheck, target, digest: Digest):
    """(where, bytes) of signature-1, signature-2, ... up to the first missing one, as clients read them."""
    base = check.lookaside
    if base is None and target.kind == "static":
        from fsdgimg.transports.static.layout import Tree
        base = str(Tree(target.root).lookaside)
    if base is None:
        from fsdgimg.trust.policy import default_lookaside
        base = default_lookaside(target.registry)
    if "://" not in base:
        directory = lookaside_dir(Path(base), target.name, digest)
        for n in range(1, MAX_SIGNATURES + 1):
            data = _fetch_local(directory, n)
            if data is None:
                return
            yield f"signature-{n}", data
        return
    if not base.startswith(("http://", "https://")):
        raise UsageError(f"--lookaside {base[:80]!r}: expected an http(s) URL or a directory")
    import requests

    from fsdgimg.transports.registry.client import system_trust
    verify = False if check.insecure else system_trust()
    until = time.monotonic() + LOOKASIDE_SECONDS
    with requests.Session() as session:
        for n in range(1, MAX_SIGNATURES + 1):
            url = f"{base.rstrip('/')}/{target.name}@{digest.algorithm}={digest.hex}/signature-{n}"
            data = _fetch_url(session, url, verify, until)
            if data is None:
                return
            yield url, data


# -- checking one -----------------------------------------------------------------------------------
def _gpgv(data: bytes, keyrings: list[Path], homedir: Path) -> tuple[str | None, bytes]:
    """(primary fingerprint of the key that made a good signature or None, the signed payload)."""
    sig = homedir / "signature"
    sig.write_bytes(data)
    answer = gpgv(sig, keyrings, homedir)
    return (answer.fingerprint, answer.payload) if answer is not None else (None, b"")


def _repository_and_tag(reference: str) -> tuple[str, str | None]:
    name = reference.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    last, colon, tag = last.partition(":")
    return (f"{head}/{last}" if head else last), (tag if colon else None)


def _identity_problem(claimed: object, wanted: str, tag: str | None, host_known: bool) -> str | None:
    """containers/image's matchRepoDigestOrExact: for a tag, repository and tag; for a digest, the
    repository. Without a known host (static:DIR, no --identity) the path below the host is compared."""
    if not isinstance(claimed, str):
        return "its payload names no docker-reference"
    repo, claimed_tag = _repository_and_tag(claimed)
    if not host_known:
        repo = repo.split("/", 1)[1] if "/" in repo and ("." in repo.split("/")[0] or ":" in repo.split("/")[0]
                                                          or repo.split("/")[0] == "localhost") else repo
    if repo != wanted or (tag is not None and claimed_tag != tag):
        want = f"{wanted}:{tag}" if tag else wanted
        return f"names {printable(claimed)[:120]}, not {want}"
    return None


def verify_openpgp(check: OpenPGPCheck, target, digest: Digest, *,
                   by_digest: bool = False) -> tuple[list[dict], list[str]]:
    """(every signature-N of `digest` made by a keyring's key over a payload naming this digest and
    reference, one line for each of the others). A lookaside server that misbehaves raises."""
    wanted_repo = check.identity or (f"{target.registry}/{target.name}" if target.kind == "docker" else target.name)
    host_known = check.identity is not None or target.kind == "docker"
    tag = None if by_digest or target.reference.startswith("sha256:") else target.reference
    good, problems = [], []
    with tempfile.TemporaryDirectory(prefix="fsdgimg-gpgv-") as tmp:
        home = Path(tmp)
        home.chmod(0o700)
        keyrings = []
        for n, path in enumerate(check.keyrings):
            keyring_fingerprints(path, home)
            keyrings.append(_gpgv_keyring(path, home, n))
        count = 0
        for where, data in signatures(check, target, digest):
            count += 1
            fingerprint, payload = _gpgv(data, keyrings, home)
            if fingerprint is None:
                problems.append(f"{where}: made by no key of the keyring (or not a signature)")
                continue
            try:
                critical = json.loads(payload)["critical"]
                kind = critical["type"]
                claimed = critical["image"]["docker-manifest-digest"]
                reference = critical["identity"]["docker-reference"]
            except (ValueError, KeyError, TypeError):
                problems.append(f"{where}: key {fingerprint}: the payload is not a simple-signing document")
                continue
            if kind != SIMPLE_SIGNING_TYPE:
                problems.append(f"{where}: key {fingerprint}: a payload of type {printable(str(kind))[:60]!r}")
            elif claimed != str(digest):
                problems.append(f"{where}: key {fingerprint}: for {printable(str(claimed))[:80]}, not {digest}")
            elif (why := _identity_problem(reference, wanted_repo, tag, host_known)) is not None:
                problems.append(f"{where}: key {fingerprint}: {why}")
            else:
                good.append({"fingerprint": fingerprint, "identity": reference, "signature": where})
    if not count:
        problems.append(f"no OpenPGP signature of {digest} in the lookaside storage")
    return good, problems
