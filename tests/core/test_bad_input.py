"""Bad input: one clear line naming the problem, a non-zero exit, no traceback, nothing left behind."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from fixtures.cli import fsdgimg
from fixtures.guixarchive import make_guix_archive


def tar_bytes(members: list[tuple]) -> bytes:
    """members: (name, data) for files, (name, None, type, linkname) for links and directories."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for m in members:
            info = tarfile.TarInfo(m[0])
            if len(m) == 2:
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
            else:
                info.type, info.linkname = m[2], m[3]
                tf.addfile(info)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def docker_archive(layer: bytes, *, manifest=None, config=None, extra=(), layer_name="abc/layer.tar") -> bytes:
    config = config or {"architecture": "amd64", "os": "linux",
                        "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}
    manifest = manifest if manifest is not None else [
        {"Config": "config.json", "RepoTags": ["t:latest"], "Layers": [layer_name]}]
    members = [(layer_name, layer), ("config.json", json.dumps(config).encode())]
    if manifest is not ...:
        members.append(("manifest.json", manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()))
    return tar_bytes(members + list(extra))


GOOD_LAYER = tar_bytes([("etc/hostname", b"fsdg\n")])


def assert_clean_failure(tmp_path: Path, src: Path, *words: str, args=()):
    dest = tmp_path / "out" / "layout"
    proc = fsdgimg("convert", src, f"oci:{dest}:latest", *args, check=False)
    err = proc.stderr.decode()
    assert proc.returncode != 0, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, err
    assert not dest.exists()
    leftovers = list((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    assert leftovers == [], leftovers
    return err


CASES = {
    "not-a-tar": (b"\x00\x01garbage" * 1000, ["not a"]),
    "empty-file": (b"", ["not a"]),
    "gzip-garbage": (b"\x1f\x8b\x08\x00" + b"\xff" * 4000, ["corrupt"]),
    "manifest-missing": (docker_archive(GOOD_LAYER, manifest=..., layer_name="sha256:" + "0" * 64 + "/layer.tar"),
                         ["manifest.json is missing"]),
    "manifest-malformed": (docker_archive(GOOD_LAYER, manifest=b"[{\"Config\": "), ["manifest.json", "malformed JSON"]),
    "manifest-not-a-list": (docker_archive(GOOD_LAYER, manifest={"Config": "x"}), ["manifest.json"]),
    "layer-absent": (docker_archive(GOOD_LAYER, manifest=[{"Config": "config.json", "Layers": ["missing/layer.tar"]}]),
                     ["missing/layer.tar", "absent"]),
    "config-absent": (docker_archive(GOOD_LAYER, manifest=[{"Config": "nope.json", "Layers": ["abc/layer.tar"]}]),
                      ["nope.json", "absent"]),
    "diff-id-mismatch": (docker_archive(GOOD_LAYER, config={"os": "linux", "architecture": "amd64", "rootfs": {
        "type": "layers", "diff_ids": ["sha256:" + "1" * 64]}}), ["diff ID"]),
    "named-digest-mismatch": (docker_archive(GOOD_LAYER, layer_name="sha256:" + "2" * 64 + "/layer.tar"),
                              ["its name says"]),
    "absolute-member": (docker_archive(GOOD_LAYER, extra=[("/etc/passwd", b"x")]), ["absolute path"]),
    "dotdot-member": (docker_archive(GOOD_LAYER, extra=[("../../evil", b"x")]), ["'..'"]),
    "duplicate-member": (docker_archive(GOOD_LAYER, extra=[("config.json", b"{}")]), ["duplicate member"]),
    "layer-dotdot": (docker_archive(tar_bytes([("usr/../../etc/shadow", b"x")])), ["'..'"]),
    "layer-symlink-escape": (docker_archive(tar_bytes([("a/b", None, tarfile.SYMTYPE, "../../../etc")])),
                             ["escapes"]),
    "layer-hardlink-escape": (docker_archive(tar_bytes([("a", None, tarfile.LNKTYPE, "/etc/shadow")])),
                              ["absolute path"]),
    "layer-hardlink-dangling": (docker_archive(tar_bytes([("a", None, tarfile.LNKTYPE, "etc/shadow")])),
                                ["points outside"]),
    "layer-not-a-tar": (docker_archive(b"\x07" * 300000), ["not a valid tar"]),
    "huge-json": (docker_archive(GOOD_LAYER, extra=[("index.json", b" " * (5 << 20))]), ["too large"]),
    "bad-repotag": (docker_archive(GOOD_LAYER, manifest=[{"Config": "config.json", "RepoTags": ["UPPER CASE:x"],
                                                          "Layers": ["abc/layer.tar"]}]), ["RepoTags"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_archive(tmp_path, case):
    data, words = CASES[case]
    src = tmp_path / f"{case}.tar"
    src.write_bytes(data)
    err = assert_clean_failure(tmp_path, src, *words)
    assert str(src) in err or "not a" in err or "corrupt" in err


def test_truncated_plain_archive(tmp_path):
    full = make_guix_archive(tmp_path / "full.tar", gzip=False).read_bytes()
    for cut in (len(full) // 3, len(full) // 2, len(full) - 11000):
        src = tmp_path / f"cut-{cut}.tar"
        src.write_bytes(full[:cut])
        assert_clean_failure(tmp_path, src, str(src))


def test_truncated_gzip_archive(tmp_path):
    full = make_guix_archive(tmp_path / "full.tar.gz", gzip=True).read_bytes()
    src = tmp_path / "cut.tar.gz"
    src.write_bytes(full[: len(full) * 2 // 3])
    assert_clean_failure(tmp_path, src, "truncated")


def test_truncated_layer_inside_archive(tmp_path):
    layer = tar_bytes([("big", b"x" * 400000)])
    src = tmp_path / "t.tar"
    src.write_bytes(docker_archive(layer[:300000], config={"os": "linux", "architecture": "amd64",
                                                           "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}))
    assert_clean_failure(tmp_path, src, "truncated")


@pytest.mark.parametrize("args,words", [
    (["--tag=-bad"], ["invalid tag"]),
    (["--compression", "lz4"], ["invalid choice"]),
    (["--tag", "x" * 129], ["invalid tag"]),
    (["--platform", "linux"], ["invalid platform"]),
    (["--level", "42"], ["out of range"]),
])
def test_bad_options(tmp_path, guix_archives, args, words):
    assert_clean_failure(tmp_path, guix_archives["single.tar"], *words, args=args)


def test_bad_destination_tag_and_missing_source(tmp_path, guix_archives):
    proc = fsdgimg("convert", guix_archives["single.tar"], f"oci:{tmp_path}/x:bad tag!", check=False)
    assert proc.returncode != 0 and b"invalid tag" in proc.stderr and b"Traceback" not in proc.stderr
    proc = fsdgimg("convert", tmp_path / "nope.tar", f"oci:{tmp_path}/y", check=False)
    assert proc.returncode != 0 and b"no such file" in proc.stderr and b"Traceback" not in proc.stderr
    proc = fsdgimg("inspect", f"oci:{tmp_path}/nolayout:latest", check=False)
    assert proc.returncode != 0 and b"not an OCI image layout" in proc.stderr


def test_existing_non_layout_destination_is_not_overwritten(tmp_path, guix_archives):
    dest = tmp_path / "precious"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    proc = fsdgimg("convert", guix_archives["single.tar"], f"oci:{dest}", check=False)
    assert proc.returncode != 0 and b"not an OCI image layout" in proc.stderr
    assert (dest / "keep.txt").read_text() == "mine"


def test_corrupted_blob_in_layout_is_caught(tmp_path, guix_archives):
    layout = tmp_path / "layout"
    fsdgimg("convert", guix_archives["single.tar"], f"oci:{layout}:latest", "--compression", "none")
    manifest = json.loads(fsdgimg("inspect", f"oci:{layout}:latest", "--json").stdout)
    blob = layout / "blobs/sha256" / manifest["layers"][0]["digest"].split(":")[1]
    data = bytearray(blob.read_bytes())
    data[-100] ^= 0xFF  # in the padding after the end-of-archive block: only the digest can tell
    blob.write_bytes(bytes(data))
    proc = fsdgimg("convert", f"oci:{layout}:latest", f"oci:{tmp_path}/copy:latest", "--compression", "zstd",
                   check=False)
    err = proc.stderr.decode()
    assert proc.returncode != 0 and "Traceback" not in err and "digest" in err, err
    assert not (tmp_path / "copy").exists()


def test_interrupted_conversion_leaves_no_layout(tmp_path):
    """SIGKILL in the middle: no destination, only a hidden temporary sibling at most."""
    import signal
    import subprocess
    import sys
    import time
    big = make_guix_archive(tmp_path / "big.tar", gzip=False,
                            files={"gnu/store/x-big/data": bytes(range(256)) * (300 << 12)})
    dest = tmp_path / "out" / "layout"
    (tmp_path / "out").mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "fsdgimg", "convert", str(big), f"oci:{dest}",
                             "--compression", "gzip", "--level", "9"])
    # Kill it once the conversion is under way (its hidden temporary sibling exists), however fast
    # the machine: a fixed sleep let a fast one finish first.
    deadline = time.monotonic() + 60
    while not any((tmp_path / "out").iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not dest.exists()
    assert all(p.name.startswith(".") for p in (tmp_path / "out").iterdir())
