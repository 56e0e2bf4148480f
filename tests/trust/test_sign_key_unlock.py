"""A cosign key is unlocked (scrypt) once per process: `fsdgimg build --sign-key` checks it before
building and signs with it after publishing. The password still decides every time."""

from __future__ import annotations

import pytest

from fsdgimg.errors import InputError
from fsdgimg.signature import keys


def test_key_unlocked_once_and_the_password_still_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", "right")
    private, _ = keys.generate(tmp_path / "release")
    other, _ = keys.generate(tmp_path / "other")
    first = keys.load_private_key(private)
    assert keys.load_private_key(private) is first                  # not derived again
    assert keys.load_private_key(other) is not first
    monkeypatch.setenv("COSIGN_PASSWORD", "wrong")
    with pytest.raises(InputError, match="wrong password"):
        keys.load_private_key(private)
    monkeypatch.setenv("COSIGN_PASSWORD", "right")
    signature = keys.sign(keys.load_private_key(private), b"payload")
    assert keys.verify(first.public_key(), b"payload", signature)
