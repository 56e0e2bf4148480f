"""Keyrings the host lacks (Trisquel's, PureOS's) are fetched from a real HTTP server and checked
against the catalog's sha256 pin before use; Debian's own keyring stands in for them here."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from fsdgimg.build.builders.debootstrap import host_keyring
from fsdgimg.build.keyring import fetch_keyring
from fsdgimg.catalog import load
from fsdgimg.errors import FsdgimgError, InputError

HOST_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
MEMBER = "keyrings/fsdgimg-test-archive-keyring.gpg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """A plain HTTP server (Python's) serving a keyring tarball shaped like Trisquel's and PureOS's."""
    root = tmp_path / "www"
    root.mkdir()
    tarball = root / "test-keyring_2026.1.tar.xz"
    with tarfile.open(tarball, "w:xz") as tf:
        tf.add(HOST_KEYRING, arcname=f"test-keyring-2026.1/{MEMBER}")
        tf.add(HOST_KEYRING, arcname="test-keyring-2026.1/keyrings/other.gpg")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", hashlib.sha256(tarball.read_bytes()).hexdigest(), proc
    proc.kill()
    proc.wait()


def test_fetched_keyring_is_pinned_and_cached(server, tmp_path, monkeypatch):
    base, sha, proc = server
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = fetch_keyring(f"{base}/test-keyring_2026.1.tar.xz", sha, MEMBER, "trisquel-minimal")
    assert path.read_bytes() == HOST_KEYRING.read_bytes()
    proc.kill()
    proc.wait()
    # the second build needs no network: the keyring was checked once and kept
    assert fetch_keyring(f"{base}/test-keyring_2026.1.tar.xz", sha, MEMBER, "trisquel-minimal") == path


def test_wrong_pin_missing_member_and_unreachable(server, tmp_path, monkeypatch):
    base, sha, _ = server
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="the catalog pins"):
        fetch_keyring(f"{base}/test-keyring_2026.1.tar.xz", "0" * 64, MEMBER, "x")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.gpg"))
    with pytest.raises(InputError, match="has no keyrings/absent.gpg"):
        fetch_keyring(f"{base}/test-keyring_2026.1.tar.xz", sha, "keyrings/absent.gpg", "x")
    with pytest.raises(FsdgimgError, match="HTTP 404"):
        fetch_keyring(f"{base}/nope.tar.xz", sha, MEMBER, "x")
    with pytest.raises(FsdgimgError, match="cannot fetch the keyring"):
        fetch_keyring(f"http://127.0.0.1:{free_port()}/k.tar.xz", sha, MEMBER, "x")


def test_debootstrap_entry_fetches_the_keyring_it_lacks(server, tmp_path, monkeypatch):
    base, sha, _ = server
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f'''
[images.test-minimal]
distribution = "debian"
builder = "debootstrap"
mirror = "http://deb.debian.org/debian"
suite = "bookworm"
keyring = "fsdgimg-test-archive-keyring.gpg"
keyring-source = {{ url = "{base}/test-keyring_2026.1.tar.xz", sha256 = "{sha}", member = "{MEMBER}" }}
architecture = "amd64"
''')
    entry = load(catalog).get("test-minimal")
    assert host_keyring(entry).read_bytes() == HOST_KEYRING.read_bytes()
    catalog.write_text(catalog.read_text().replace(f'sha256 = "{sha}"', 'sha256 = "ABC"'))
    with pytest.raises(InputError, match="64 lower-case hex"):
        load(catalog)
