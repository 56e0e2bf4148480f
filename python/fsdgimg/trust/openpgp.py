"""OpenPGP signatures in the containers "simple signing" format, with lookaside storage.

The payload names the image (docker-reference) and its manifest digest; `gpg --sign` wraps it in
an OpenPGP message. podman, skopeo and buildah find the message at
`LOOKASIDE/NAME@sha256=HEX/signature-N` (N from 1) on any web server, as configured in
registries.d (`lookaside:`), and accept it under a `signedBy` policy with the distribution's
public keyring. The key is the one these distributions already sign their releases with.

An image in a static tree is signed into the tree's own lookaside storage (DIR/sigstore/, see
transports/static/layout.py), served by every configuration `fsdgimg web-config` writes and by `fsdgimg serve`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from fsdgimg.errors import FsdgimgError, InputError, UsageError
from fsdgimg.oci.digest import Digest
from fsdgimg.transports.static.layout import MAX_SIGNATURES, Tree, lookaside_dir
from fsdgimg.trust.remote import Target


def _gpg(argv: list[str], homedir: Path | None, data: bytes | None = None) -> subprocess.CompletedProcess:
    full = ["gpg", "--batch", "--no-tty", *(["--homedir", str(homedir)] if homedir is not None else []), *argv]
    try:
        return subprocess.run(full, input=data, capture_output=True, timeout=120,
                              env=dict(os.environ, LC_ALL="C"))
    except FileNotFoundError:
        raise FsdgimgError("gpg is not installed (Debian: apt-get install gnupg)") from None


def payload(reference: str, digest: Digest, timestamp: int | None = None) -> bytes:
    obj = {"critical": {"identity": {"docker-reference": reference},
                        "image": {"docker-manifest-digest": str(digest)},
                        "type": "atomic container signature"},
           "optional": {"creator": "fsdgimg", "timestamp": int(time.time()) if timestamp is None else timestamp}}
    return json.dumps(obj, separators=(",", ":")).encode()


def gpg_sign(data: bytes, key: str, homedir: Path | None = None) -> tuple[bytes, str | None]:
    """(the OpenPGP message, the fingerprint of the (sub)key that made it)."""
    proc = _gpg(["--yes", "--status-fd", "2", "--local-user", key, "--sign", "--output", "-"], homedir, data)
    if proc.returncode != 0:
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        raise InputError(f"gpg could not sign with {key!r}: {last}")
    made_by = None
    for line in proc.stderr.decode(errors="replace").splitlines():
        fields = line.split()
        if fields[:2] == ["[GNUPG:]", "SIG_CREATED"] and len(fields) >= 8:
            made_by = fields[7]
    return proc.stdout, made_by


def _colon_text(text: str) -> str:
    """A field of gpg's --with-colons output, its \\xNN escapes undone."""
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


def key_identity(key: str, homedir: Path | None = None) -> tuple[str, str | None]:
    """(primary key fingerprint, primary user ID) of the key `key` names (a fingerprint, ID or user ID)."""
    proc = _gpg(["--with-colons", "--fixed-list-mode", "--list-keys", key], homedir)
    if proc.returncode != 0:
        raise InputError(f"gpg does not know the key {key!r}")
    primary, uid = None, None
    lines = proc.stdout.decode(errors="replace").splitlines()
    for n, line in enumerate(lines):
        fields = line.split(":")
        if fields[0] == "pub" and primary is not None:
            break  # the first key only
        if fields[0] == "fpr" and primary is None and n and lines[n - 1].startswith("pub:"):
            primary = fields[9]
        elif fields[0] == "uid" and uid is None and len(fields) > 9:
            uid = _colon_text(fields[9])
    if primary is None:
        raise InputError(f"gpg does not know the key {key!r}")
    return primary, uid


def export_key(fingerprint: str, homedir: Path | None = None) -> bytes:
    proc = _gpg(["--export", "--export-options", "export-minimal", fingerprint], homedir)
    if proc.returncode != 0 or not proc.stdout:
        raise InputError(f"gpg could not export the public key {fingerprint}")
    return proc.stdout


def write_signature(directory: Path, signature: bytes) -> Path:
    """Write `signature` as the next free signature-N of `directory`, never replacing one: the file is
    written and synced at a temporary name, then hard-linked to signature-N, which fails when that name
    exists (another signer got there first: try N+1). Readers see a whole file or none."""
    from fsdgimg.transports.static import files
    files.make_dirs(directory)
    tmp = files.tmp_name(directory / "signature")
    try:
        with open(tmp, "wb") as f:
            f.write(signature)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        for n in range(1, MAX_SIGNATURES + 1):
            path = directory / f"signature-{n}"
            try:
                os.link(tmp, path)
            except FileExistsError:
                continue
            return path
    finally:
        tmp.unlink(missing_ok=True)
    raise InputError(f"{directory}: already {MAX_SIGNATURES} signatures")


def sign_openpgp(target: Target, key: str, lookaside: Path | None = None, *, identity: str | None = None,
                 homedir: Path | None = None, recursive: bool = True) -> dict:
    """Sign the image `target` names; write the signature as the next signature-N of its lookaside
    directory: under `lookaside` (a directory some web server serves), or, for an image in a static
    tree, the tree's own lookaside storage (DIR/sigstore/), whose page then shows the signer.

    A multi-platform index is signed as the sigstore format signs it (remote.to_sign): with
    `recursive`, every manifest it lists first, then the index. podman or skopeo pulling one
    platform checks the signatures of that platform's manifest digest (NAME@sha256=CHILD); all of
    them name the reference users pull (HOST/NAME:TAG), which is what a `signedBy` policy matches."""
    if lookaside is None and target.kind != "static":
        raise UsageError(f"{target.display}: give --lookaside DIR, the directory a web server serves "
                         "the signatures from (registries.d lookaside)")
    reference = identity or target.repository
    if not target.reference.startswith("sha256:") and ":" not in reference.rsplit("/", 1)[-1]:
        reference = f"{reference}:{target.reference}"
    if lookaside is not None:
        return _sign_all(target, key, reference, homedir, recursive,
                         lambda digest: lookaside_dir(lookaside, target.name, digest))
    from fsdgimg.transports.static import files, signers
    from fsdgimg.transports.static.writer import StaticPublisher
    with files.tree_lock(target.root, "sign"):
        publisher = StaticPublisher(target.root)
        publisher.recover()   # a killed publish's leftovers go first, as for publish and gc
        tree = Tree(target.root)

        def record(fingerprint: str, uid: str | None) -> None:
            if not signers.recorded_openpgp_key(target.root, fingerprint):
                signers.record_openpgp_key(target.root, fingerprint, uid, export_key(fingerprint, homedir))
        out = _sign_all(target, key, reference, homedir, recursive,
                        lambda digest: tree.signature_dir(target.name, digest), record)
        publisher.refresh_pages([target.name])   # the page shows the signer
    return out


def _sign_all(target: Target, key: str, reference: str, homedir: Path | None, recursive: bool,
              directory, record=None) -> dict:
    """Sign what `target` covers (remote.to_sign: children first), each signature into
    `directory(digest)`; `record(fingerprint, uid)` once the signing key is known."""
    from fsdgimg.trust.remote import to_sign
    digest, children = to_sign(target, recursive)
    who: list = []

    def one(d: Digest) -> Path:
        signature, made_by = gpg_sign(payload(reference, d), key, homedir)
        if not who:     # one key signs them all: asked about once
            who.extend(key_identity(made_by or key, homedir))
            if record is not None:
                record(*who)
        return write_signature(directory(d), signature)

    signed_children = [{"image": target.with_reference(str(c.digest)).display, "digest": str(c.digest),
                        "platform": c.platform, "signature": str(one(c.digest))} for c in children]
    path = one(digest)
    fingerprint, uid = who
    out = {"image": target.display, "digest": str(digest), "identity": reference, "key": key,
           "fingerprint": fingerprint, "uid": uid, "signature": str(path)}
    if signed_children:
        out["children"] = signed_children
    return out
