"""The one gpgv runner (fsdgimg/signature/gpgv.py), which `verify --gpg-keyring` and a static tree's
page both use, with the real gpg and gpgv: the primary key of a good signature and its payload; no
key for a signature by another key; one line, no traceback, when gpgv cannot run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from fixtures.openpgp import gpg_key

from fsdgimg.signature.gpgv import MAX_PAYLOAD, Answer, GpgvUnavailable, gpgv


def sign(home: Path, uid: str, payload: bytes, out: Path) -> Path:
    subprocess.run(["gpg", "--batch", "--yes", "--local-user", uid, "--output", str(out), "--sign"],
                   input=payload, env=dict(os.environ, GNUPGHOME=str(home)), check=True, capture_output=True)
    return out


def fingerprint(home: Path, uid: str) -> str:
    out = subprocess.run(["gpg", "--with-colons", "--fingerprint", uid], env=dict(os.environ, GNUPGHOME=str(home)),
                         check=True, capture_output=True, text=True).stdout
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("gpgv")
    return base, gpg_key(base / "release", "release@example.org"), gpg_key(base / "other", "other@example.org")


def test_a_good_signature_names_its_primary_key_and_payload(keys, tmp_path):
    base, release, _ = keys
    signature = sign(base / "release", "release@example.org", b'{"critical": {}}', tmp_path / "signature-1")
    answer = gpgv(signature, [release], tmp_path)
    assert answer.fingerprint == fingerprint(base / "release", "release@example.org")
    assert answer.payload == b'{"critical": {}}'


def test_a_signature_by_another_key_names_none(keys, tmp_path):
    base, release, _ = keys
    signature = sign(base / "other", "other@example.org", b"x", tmp_path / "signature-1")
    assert gpgv(signature, [release], tmp_path).fingerprint is None


def test_a_payload_over_the_bound_is_not_read(keys, tmp_path):
    base, release, _ = keys
    signature = sign(base / "release", "release@example.org", b"\0" * (MAX_PAYLOAD + 1), tmp_path / "signature-1")
    assert signature.stat().st_size < 4096   # compressed: a small file that inflates
    assert gpgv(signature, [release], tmp_path) == Answer(None, b"")


def test_without_gpgv_one_line(keys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))   # a PATH with no gpgv on it
    with pytest.raises(GpgvUnavailable, match=r"^gpgv is not installed \(Debian: apt-get install gpgv\)$"):
        gpgv(tmp_path / "signature-1", [keys[1]], tmp_path)
