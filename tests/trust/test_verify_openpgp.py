"""`fsdgimg verify --gpg-keyring`: OpenPGP signatures (containers simple signing) checked with real
GnuPG keys, from a static tree served by nginx (the default lookaside URL) and from `static:DIR` (the
tree's own sigstore/): the signed tag passes and says which key; no signature, a wrong keyring, a
signature for another digest, a malformed payload, another identity, a file that is no keyring and
a hostile lookaside server (endless or huge answers) are each one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest
from fixtures.guixarchive import make_guix_archive
from fixtures.openpgp import gpg_key
from publish.conftest import public_tree
from servers import Nginx, free_port

from .conftest import run_cli


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """hello:1 signed for 127.0.0.1:PORT/hello; hello:2 unsigned; hello:forged carrying hello:1's
    signature; hello:malformed signed over a payload that is no simple-signing document."""
    work = tmp_path_factory.mktemp("verify-openpgp")
    base = public_tree("verify-openpgp")
    root = base / "tree"
    tags = {"1": b"signed\n", "2": b"unsigned\n", "forged": b"forged\n", "malformed": b"malformed\n"}
    for tag, content in tags.items():
        archive = make_guix_archive(work / f"{tag}.tar.gz", files={"etc/x": content}, repository="hello")
        _ok(run_cli("convert", archive, f"oci:{work / tag}:1"))
        _ok(run_cli("publish", f"oci:{work / tag}:1", "--to", f"static:{root}", "--name", f"hello:{tag}"))
    keyring = gpg_key(work / "release", "Release Key <release@example.org>")
    wrong = gpg_key(work / "other", "Other Key <other@example.org>")
    armored = work / "release.asc"
    armored.write_bytes(subprocess.run(["gpg", "--armor", "--export"], env=dict(os.environ, GNUPGHOME=str(work / "release")),
                                       check=True, capture_output=True).stdout)
    port = free_port()
    signed = json.loads(_ok(run_cli("sign", f"static:{root}/hello:1", "--gpg-key", "release@example.org",
                                    "--gnupghome", work / "release", "--identity", f"127.0.0.1:{port}/hello",
                                    "--json")).stdout)

    def digest(tag: str) -> str:
        return (root / "v2/hello/_tags" / tag).resolve().name.split(".")[0]

    forged = root / "sigstore" / f"hello@sha256={digest('forged')[7:]}"
    forged.mkdir(mode=0o755)
    shutil.copy(signed["signature"], forged / "signature-1")
    malformed = root / "sigstore" / f"hello@sha256={digest('malformed')[7:]}"
    malformed.mkdir(mode=0o755)
    (malformed / "signature-1").write_bytes(subprocess.run(
        ["gpg", "--batch", "--sign", "--local-user", "release@example.org", "--output", "-"], input=b"not json",
        env=dict(os.environ, GNUPGHOME=str(work / "release")), check=True, capture_output=True).stdout)
    for p in (forged / "signature-1", malformed / "signature-1"):
        p.chmod(0o644)
    yield {"root": root, "work": work, "port": port, "keyring": keyring, "wrong": wrong, "armored": armored,
           "fingerprint": signed["fingerprint"], "digest": signed["digest"]}
    shutil.rmtree(base, ignore_errors=True)


def _verify(ref: str, *args):
    return run_cli("verify", ref, "--no-sbom", *args)


def _one_failure(proc, *words: str) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_over_http_from_nginx(tree, tmp_path):
    root, port = tree["root"], tree["port"]
    host = f"127.0.0.1:{port}"
    site = _ok(run_cli("web-config", "nginx", "--root", root, "--listen", host)).stdout
    with Nginx(tmp_path / "nginx", site, port):
        ref = f"docker://{host}/hello"
        for keyring in (tree["keyring"], tree["armored"]):
            out = json.loads(_ok(_verify(f"{ref}:1", "--gpg-keyring", keyring, "--json")).stdout)
            assert out["verified"] and out["digest"] == tree["digest"]
            [sig] = out["openpgp_signatures"]
            assert sig["fingerprint"] == tree["fingerprint"] and sig["identity"] == f"{host}/hello:1"
            assert sig["signature"] == f"http://{host}/sigstore/hello@sha256={tree['digest'][7:]}/signature-1"
        text = _ok(_verify(f"{ref}:1", "--gpg-keyring", tree["keyring"])).stdout
        assert f"signed by OpenPGP key {tree['fingerprint']}" in text
        _one_failure(_verify(f"{ref}:2", "--gpg-keyring", tree["keyring"]), "no OpenPGP signature")
        _one_failure(_verify(f"{ref}:1", "--gpg-keyring", tree["wrong"]), "signature-1", "made by no key")
        _one_failure(_verify(f"{ref}:forged", "--gpg-keyring", tree["keyring"]), tree["fingerprint"],
                     f"for {tree['digest']}, not")
        _one_failure(_verify(f"{ref}:malformed", "--gpg-keyring", tree["keyring"]), "not a simple-signing")
        _one_failure(_verify(f"{ref}:1", "--gpg-keyring", tree["keyring"], "--identity", "other.example/hello"),
                     f"names {host}/hello:1, not other.example/hello:1")
        # by digest: the repository must match, the tag is not asked
        _ok(_verify(f"{ref}@{tree['digest']}", "--gpg-keyring", tree["keyring"]))


def test_static_tree_and_bad_keyring(tree, tmp_path):
    root = tree["root"]
    out = json.loads(_ok(_verify(f"static:{root}/hello:1", "--gpg-keyring", tree["keyring"], "--json")).stdout)
    assert out["openpgp_signatures"][0]["fingerprint"] == tree["fingerprint"]
    _one_failure(_verify(f"static:{root}/hello:2", "--gpg-keyring", tree["keyring"]), "no OpenPGP signature")
    _one_failure(_verify(f"static:{root}/hello:1", "--gpg-keyring", tree["keyring"], "--identity",
                         "127.0.0.1:1/other"), "not 127.0.0.1:1/other:1")
    junk = tmp_path / "junk.gpg"
    junk.write_text("not a key\n")
    proc = _verify(f"static:{root}/hello:1", "--gpg-keyring", junk)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"fsdgimg verify: --gpg-keyring {junk}: not an OpenPGP public keyring"], proc.stderr
    for bad, line in ((["--lookaside", "ftp://x"], "--lookaside 'ftp://x': expected an http(s) URL or a directory"),
                      (["--identity", "nohost"], "--identity 'nohost': expected HOST[:PORT]/NAME")):
        proc = _verify(f"static:{root}/hello:1", "--gpg-keyring", tree["keyring"], *bad)
        assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [f"fsdgimg verify: {line}"], proc.stderr
    # A lookaside directory holding a 1 MiB "signature": refused unread past the bound.
    lookaside = tmp_path / "lookaside" / f"hello@sha256={tree['digest'][7:]}"
    lookaside.mkdir(parents=True)
    (lookaside / "signature-1").write_bytes(b"\0" * (1 << 20))
    _one_failure(_verify(f"static:{root}/hello:1", "--gpg-keyring", tree["keyring"], "--lookaside",
                         tmp_path / "lookaside"), "not a signature")


class _Endless:
    """A lookaside server that answers every request with a body that never ends."""

    def __init__(self, drip: bool = False):
        self.drip = drip
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
                while self.sent < (256 << 20):
                    if self.drip:      # a byte now and then: never a read timeout, never an end
                        time.sleep(0.05)
                    conn.sendall(b"\x90" * (1 if self.drip else 65536))
                    self.sent += 1 if self.drip else 65536
            except OSError:
                return


def test_hostile_lookaside_server_is_capped(tree):
    server = _Endless()
    try:
        proc = _verify(f"static:{tree['root']}/hello:1", "--gpg-keyring", tree["keyring"], "--lookaside",
                       f"http://127.0.0.1:{server.port}")
        _one_failure(proc, "over 64 KiB", "not trusted")
        assert server.sent < (64 << 20)   # the client hung up: nothing near the whole stream was read
    finally:
        server.sock.close()


def test_dripping_lookaside_server_is_cut_off(monkeypatch):
    """A server sending a byte every 50 ms (no read ever times out) is cut off at the deadline."""
    import requests

    from fsdgimg.errors import InputError
    from fsdgimg.trust import openpgp_verify
    monkeypatch.setattr(openpgp_verify, "FETCH_SECONDS", 1.0)
    server = _Endless(drip=True)
    try:
        start = time.monotonic()
        with requests.Session() as session, pytest.raises(InputError, match="no whole answer in time"):
            openpgp_verify._fetch_url(session, f"http://127.0.0.1:{server.port}/x/signature-1", False,
                                      time.monotonic() + 60)
        assert time.monotonic() - start < 5
        assert server.sent < 200
    finally:
        server.sock.close()
