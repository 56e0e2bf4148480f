"""The SBOM's files collected in the import pass (the one read of every layer) give the same SBOM,
byte for byte, as reading them back from the written image: for a rootfs tarball, a rootfs directory
and multi-layer docker archives with whiteouts, opaque directories, symlinked doc directories and
hard links. An imported image's SBOM then reads no layer: the tests delete the imported layer blobs
before asking for it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from fixtures.guixarchive import make_guix_archive
from hostile import tarcraft

from fsdgimg.errors import FsdgimgError, InputError
from fsdgimg.oci.blobstore import BlobStore
from fsdgimg.oci.compression import Compression
from fsdgimg.oci.layer import import_layer
from fsdgimg.oci.mutate import annotate, realize, recompress
from fsdgimg.sbom import debian, pacman, spdx
from fsdgimg.sbom.files import LayerFiles, RootView, Wanted, read_root
from fsdgimg.sbom.generate import STORE, WANTED, bom_for_image, collector
from fsdgimg.transports.archive import load_docker_archive
from fsdgimg.transports.layout import read_oci_layout
from fsdgimg.transports.options import WriteOptions
from fsdgimg.transports.rootfs import load_rootfs
from fsdgimg.transports.write import write

from .conftest import run_cli, validate_spdx

COPYRIGHT = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: {}\n"
OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n'
LIST = "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_{}_binary-amd64_Packages"


def _status(*names: str) -> bytes:
    return "".join(f"Package: {n}\nStatus: install ok installed\nVersion: {len(n)}.0-1\nArchitecture: amd64\n"
                   f"Depends: {names[0]}\n\n" for n in names).encode()


def _list(*names: str) -> bytes:
    return "".join(f"Package: {n}\nVersion: {len(n)}.0-1\nArchitecture: amd64\nFilename: pool/{n}.deb\n"
                   f"SHA256: {hashlib.sha256(n.encode()).hexdigest()}\n\n" for n in names).encode()


def _copyright(license_name: str) -> bytes:
    return COPYRIGHT.format(license_name).encode()


def _sbom(image, name="test:1") -> bytes:
    return spdx.to_bytes(bom_for_image(image, name))


def _drop_layer_blobs(image, store: Path) -> None:
    """The imported layers' blobs removed: whoever reads a layer now fails."""
    for desc in image.layers:
        (store / "blobs" / "sha256" / desc.digest.hex).unlink()


def _read_back(image, tmp_path: Path, name: str = "layout") -> bytes:
    """The SBOM of `image` written as an OCI layout by the one writer and read back from it."""
    layout = tmp_path / name
    write(image, f"oci:{layout}:1", WriteOptions(tag="1"))
    return _sbom(read_oci_layout(layout, "1"))


def _check_collected_equals_read_back(image, store_dir: Path, tmp_path: Path) -> dict:
    back = _read_back(image, tmp_path)
    _drop_layer_blobs(image, store_dir)
    collected = _sbom(image)
    assert collected == back
    out = tmp_path / "sbom.json"
    out.write_bytes(collected)
    validate_spdx(out)
    return {p["name"]: p for p in json.loads(collected)["packages"] if p["SPDXID"] != "SPDXRef-Image"}


ROOT_FILES = {
    "etc/os-release": OS_RELEASE,
    "var/lib/dpkg/status": _status("libc6", "dpkg", "libfoo1", "libfoo-dev", "unrar"),
    LIST.format("main"): _list("libc6", "dpkg", "libfoo1", "libfoo-dev"),
    LIST.format("non-free"): _list("unrar"),
    "usr/share/doc/libc6/copyright": _copyright("LGPL-2.1+"),
    "usr/share/doc/dpkg/copyright": _copyright("GPL-2+"),
    "usr/share/doc/libfoo1/copyright": _copyright("BSD-3-clause"),
    "usr/share/doc/unrar/copyright": _copyright("unRAR-restriction"),
    "usr/share/doc/dpkg/changelog.gz": b"\x1f\x8b not wanted",
    "usr/bin/dpkg": b"\x7fELF" + bytes(5000),
}


def _populate(root: Path) -> None:
    for rel, data in ROOT_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # A symlinked doc directory (libfoo-dev's copyright is libfoo1's) and a hard-linked copyright file.
    os.symlink("libfoo1", root / "usr/share/doc/libfoo-dev")
    (root / "usr/share/doc/extra").mkdir()
    os.link(root / "usr/share/doc/dpkg/copyright", root / "usr/share/doc/extra/copyright")


def test_rootfs_tarball(tmp_path):
    root = tmp_path / "root"
    _populate(root)
    tar = tmp_path / "rootfs.tar"
    with tarfile.open(tar, "w", format=tarfile.GNU_FORMAT) as tf:
        for top in sorted(root.iterdir()):
            tf.add(top, top.name)
    store_dir = tmp_path / "store"
    image = load_rootfs(tar, BlobStore(store_dir), Compression("gzip"), collect=collector)
    assert list(image.collected) == image.diff_ids
    pkgs = _check_collected_equals_read_back(image, store_dir, tmp_path)
    assert pkgs["libfoo-dev"]["licenseDeclared"] == "BSD-3-Clause"      # through the symlinked doc dir
    assert pkgs["unrar"]["sourceInfo"] == "archive component: non-free"
    assert pkgs["dpkg"]["checksums"][0]["checksumValue"] == hashlib.sha256(b"dpkg").hexdigest()


def test_rootfs_directory(tmp_path):
    """Directories (debootstrap, pacstrap builds) are archived by fsdgimg itself: the collector is fed
    from that writer, hard links and symlinks as the written tar has them."""
    root = tmp_path / "root"
    _populate(root)
    (root / "var/lib/pacman").mkdir(parents=True)     # an empty directory: nothing to collect
    store_dir = tmp_path / "store"
    image = load_rootfs(root, BlobStore(store_dir), Compression("zstd"), epoch=1, collect=collector)
    pkgs = _check_collected_equals_read_back(image, store_dir, tmp_path)
    assert pkgs["libfoo-dev"]["licenseDeclared"] == "BSD-3-Clause"
    assert pkgs["libc6"]["licenseDeclared"] == "LGPL-2.1-or-later"


def _layer_tar(path: Path, *parts: bytes) -> Path:
    path.write_bytes(tarcraft.archive(*parts))
    return path


def _docker_archive(out: Path, layers: list[Path]) -> Path:
    """A `docker save` archive (manifest.json, config, one directory per layer) of these layer tars."""
    diff_ids = ["sha256:" + hashlib.sha256(p.read_bytes()).hexdigest() for p in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:01Z",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": {}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    names = [f"{d[7:]}/layer.tar" for d in diff_ids]
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["layered:1"], "Layers": names}]).encode()
    with tarfile.open(out, "w") as tf:
        for name, data in [(config_name, config), *((n, p.read_bytes()) for n, p in zip(names, layers)),
                           ("manifest.json", manifest)]:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1
            tf.addfile(info, io.BytesIO(data))
    return out


def _multi_layer_archive(tmp_path: Path) -> Path:
    c = tarcraft
    base = _layer_tar(
        tmp_path / "base.tar",
        c.directory("etc"), c.file("etc/os-release", b'NAME="Old"\nID=debian\n'),
        c.directory("var/lib/dpkg"), c.file("var/lib/dpkg/status", _status("libc6", "dpkg", "gone", "libbar")),
        c.directory("var/lib/apt/lists"), c.file(LIST.format("contrib"), _list("libc6", "dpkg", "gone")),
        c.directory("usr/share/doc/libc6"), c.file("usr/share/doc/libc6/copyright", _copyright("GPL-2+")),
        c.directory("usr/share/doc/dpkg"), c.file("usr/share/doc/dpkg/copyright", _copyright("GPL-2+")),
        c.directory("usr/share/doc/gone"), c.file("usr/share/doc/gone/copyright", _copyright("Expat")),
        c.directory("usr/share/doc/libbar"), c.file("usr/share/doc/libbar/copyright", _copyright("Zlib")))
    update = _layer_tar(
        tmp_path / "update.tar",
        # dpkg's database replaced, a package removed (its doc directory whited out).
        c.file("var/lib/dpkg/status", _status("libc6", "dpkg", "libbar", "libbar-dev", "libnew", "libhard")),
        c.file("usr/share/doc/.wh.gone"),
        # apt's lists emptied (opaque) and refilled: every package now from main.
        c.directory("var/lib/apt/lists"), c.file("var/lib/apt/lists/.wh..wh..opq", b""),
        c.file(LIST.format("main"), _list("libc6", "dpkg", "libbar", "libbar-dev", "libnew", "libhard")),
        # libc6's copyright replaced; a doc directory that is a symlink; a hard-linked copyright.
        c.file("usr/share/doc/libc6/copyright", _copyright("LGPL-2.1+")),
        c.symlink("usr/share/doc/libbar-dev", "libbar"),
        c.directory("usr/share/doc/libnew"), c.file("usr/share/doc/libnew/copyright", _copyright("MPL-2.0")),
        c.directory("usr/share/doc/libhard"),
        c.hardlink("usr/share/doc/libhard/copyright", "usr/share/doc/libnew/copyright"))
    top = _layer_tar(
        tmp_path / "top.tar",
        # os-release becomes a symlink to usr/lib/os-release; dpkg's copyright is whited out.
        c.symlink("etc/os-release", "../usr/lib/os-release"),
        c.directory("usr/lib"), c.file("usr/lib/os-release", OS_RELEASE),
        c.file("usr/share/doc/dpkg/.wh.copyright", b""))
    return _docker_archive(tmp_path / "layered.tar", [base, update, top])


def test_multi_layer_docker_archive(tmp_path):
    archive = _multi_layer_archive(tmp_path)
    store_dir = tmp_path / "store"
    image = load_docker_archive(archive, BlobStore(store_dir), Compression("gzip"), collect=collector)
    assert len(image.layers) == 3 and set(image.collected) == set(image.diff_ids)
    pkgs = _check_collected_equals_read_back(image, store_dir, tmp_path)
    assert set(pkgs) == {"libc6", "dpkg", "libbar", "libbar-dev", "libnew", "libhard"}
    assert pkgs["libc6"]["licenseDeclared"] == "LGPL-2.1-or-later"     # the later layer's file
    assert pkgs["libbar-dev"]["licenseDeclared"] == "Zlib"              # symlinked doc directory
    assert pkgs["libhard"]["licenseDeclared"] == "MPL-2.0"              # hard link
    assert pkgs["dpkg"]["licenseDeclared"] == "NOASSERTION"             # whited out
    assert all(p["sourceInfo"].startswith("archive component: main") for p in pkgs.values())
    assert pkgs["dpkg"]["supplier"] == "Organization: Debian GNU/Linux"  # os-release through the symlink


def test_recompressed_and_annotated_images_use_what_was_collected(tmp_path):
    archive = _multi_layer_archive(tmp_path)
    store_dir = tmp_path / "store"
    image = load_docker_archive(archive, BlobStore(store_dir), Compression("none"), collect=collector)
    expected = _read_back(image, tmp_path, "first")
    changed = realize(recompress(annotate(image, {"org.example.note": "x"}), Compression("zstd")),
                      BlobStore(tmp_path / "other-store"))
    assert [d.digest for d in changed.layers] != [d.digest for d in image.layers]
    _drop_layer_blobs(changed, tmp_path / "other-store")
    _drop_layer_blobs(image, store_dir)
    packages = spdx.to_spdx(bom_for_image(changed, "test:1"))["packages"]
    assert packages[1:] == json.loads(expected)["packages"][1:]       # all but the image itself


def test_guix_archive_store_items_collected(tmp_path):
    """Guix images without a channel description: store item names, one layer per item (--max-layers)."""
    archive = make_guix_archive(tmp_path / "guix.tar.gz", max_layers=True)
    store_dir = tmp_path / "store"
    image = load_docker_archive(archive, BlobStore(store_dir), Compression("gzip"), collect=collector)
    assert len(image.layers) >= 3
    back = _read_back(image, tmp_path)
    _drop_layer_blobs(image, store_dir)
    assert _sbom(image) == back
    names = {p["name"] for p in json.loads(back)["packages"]}
    assert {"hello", "glibc"} <= names


def test_without_collection_the_layers_are_read(tmp_path):
    archive = _multi_layer_archive(tmp_path)
    store_dir = tmp_path / "store"
    image = load_docker_archive(archive, BlobStore(store_dir), Compression("gzip"))
    assert image.collected is None
    back = _read_back(image, tmp_path)
    assert _sbom(image) == back
    _drop_layer_blobs(image, store_dir)
    with pytest.raises(FsdgimgError, match="layer 1"):
        _sbom(image)


def test_member_over_the_limit_same_line_either_way(tmp_path):
    small = Wanted(file=lambda p: p == "var/lib/dpkg/status", prefixes=("var/",), limit=100)
    layer = tarcraft.archive(tarcraft.file("var/lib/dpkg/status", b"P" * 101))
    store = BlobStore(tmp_path / "store")
    blob = import_layer(io.BytesIO(layer), store, Compression("gzip"), "layer", collect=lambda what: LayerFiles(small))
    assert not [op for op in blob.collected.ops if op[0] == 0]     # nothing of it kept
    with pytest.raises(InputError) as collected:
        RootView().apply(blob.collected, "img: layer 1")
    tar = tmp_path / "rootfs.tar"
    tar.write_bytes(layer)
    image = load_rootfs(tar, store, Compression("gzip"))
    image.where = "img"
    with pytest.raises(InputError) as read:
        read_root(image, small)
    assert str(collected.value) == str(read.value) == \
        "img: layer 1: var/lib/dpkg/status is 101 bytes, over the 100-byte limit for a package database file"


def test_package_database_over_the_limit_is_one_line(tmp_path):
    tar = tmp_path / "rootfs.tar"
    with tarfile.open(tar, "w") as tf:
        info = tarfile.TarInfo("var/lib/dpkg/status")
        info.size = (64 << 20) + 1
        tf.addfile(info, io.BytesIO(bytes(info.size)))
    proc = run_cli("sbom", tar, "-o", tmp_path / "sbom.json")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"var/lib/dpkg/status is {(64 << 20) + 1} bytes, over the {64 << 20}-byte limit" in proc.stderr
    assert not (tmp_path / "sbom.json").exists()


@pytest.mark.parametrize("path", [debian.STATUS, "etc/os-release", "usr/lib/os-release", "usr/share/doc/x/copyright",
                                  LIST.format("main"), "var/lib/pacman/local/bash-5.2-1/desc", "usr/share/doc/x"])
def test_prefixes_cover_every_wanted_path(path):
    """The collector's one startswith() passes over everything else: it must not pass over these."""
    assert WANTED.file(path) or WANTED.link(path)
    assert path.startswith(WANTED.prefixes)
    assert not "usr/bin/dpkg".startswith(WANTED.prefixes) and pacman.PREFIXES[0] in WANTED.prefixes
    assert STORE in WANTED.prefixes
