"""The comparison and report on their own: Guix-format archives and hand-made layers differing in
every aspect a release engineer needs named (content, mode, owner, mtime, link target, type, presence)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from fixtures.guixarchive import default_files, make_guix_archive

from fsdgimg.build.builders.base import BuildResult
from fsdgimg.build.check import compare as cmp
from fsdgimg.build.check import diffoscope
from fsdgimg.build.check.report import CheckReport, render_html, render_text, save
from fsdgimg.build.pipeline import BuildOptions, import_result
from fsdgimg.catalog import Entry
from fsdgimg.oci.blobstore import BlobStore

ENTRY = Entry("test", "debootstrap", "debian", "amd64", "", {"mirror": "m", "suite": "s"}, Path("."))


def _import(path: Path, kind: str, store: Path):
    return import_result(BuildResult(kind, path), ENTRY, BlobStore(store), BuildOptions(out=store), "test")


def test_guix_archives_with_max_layers_differ_in_one_store_item(tmp_path):
    files = default_files()
    changed = dict(files)
    key = "gnu/store/0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-2.12.2/share/doc/README"
    changed[key] = b"GNU Hello, rebuilt on a Tuesday\n"
    a = make_guix_archive(tmp_path / "a.tar.gz", files, max_layers=True)
    b = make_guix_archive(tmp_path / "b.tar.gz", changed, max_layers=True)
    first, second = _import(a, "docker-archive", tmp_path / "s1"), _import(b, "docker-archive", tmp_path / "s2")
    c = cmp.compare(first, second)
    assert not c.identical and len(c.layers) >= 3
    cmp.explain(c, first, second)
    found = {d.path: (i, d) for i, d in c.files}
    layer, readme = found.pop(key)
    aspects = {a for a, _, _ in readme.aspects}
    assert "content" in aspects and aspects <= {"content", "mtime"}   # mtime: see below
    assert "rebuilt on a Tuesday" in readme.text_diff
    assert layer in [l.index for l in c.differing_layers]
    # The fixture's per-store-item layers keep the wall-clock mtime of its files (unlike Guix,
    # which sets them to 1): a second boundary between a and b shows up as mtime, nothing else.
    assert all(d.what == "mtime" for _, d in found.values()), found


def test_identical_guix_archives_compare_equal_without_reading_layers(tmp_path):
    a = make_guix_archive(tmp_path / "a.tar.gz", default_files())
    b = make_guix_archive(tmp_path / "b.tar", default_files(), gzip=False)
    first, second = _import(a, "docker-archive", tmp_path / "s1"), _import(b, "docker-archive", tmp_path / "s2")
    c = cmp.compare(first, second)
    assert c.identical and not c.differing_layers and not c.config_changes


def _layer(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name: str, kind=tarfile.REGTYPE, data: bytes = b"", mode=0o644, uid=0, gid=0, mtime=1,
          link="") -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.mtime, info.linkname = kind, mode, uid, gid, mtime, link
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


def test_every_aspect_is_named(tmp_path):
    a = _layer(tmp_path / "a.tar", [
        _info("etc", tarfile.DIRTYPE, mode=0o755),
        _info("etc/hostname", data=b"guix\n"),
        _info("etc/shadow", data=b"root:*:19675:0:99999:7:::\n", mode=0o640, gid=42),
        _info("etc/motd", data=b"hi\n", mtime=1),
        _info("bin", tarfile.DIRTYPE, mode=0o755),
        _info("bin/sh", tarfile.SYMTYPE, link="dash"),
        _info("bin/tool", data=b"\x7fELF", mode=0o755),
        _info("var", tarfile.DIRTYPE, mode=0o755),
        _info("var/log", tarfile.DIRTYPE, mode=0o755),
        _info("only-first", data=b"x"),
    ])
    b = _layer(tmp_path / "b.tar", [
        _info("etc", tarfile.DIRTYPE, mode=0o755),
        _info("etc/hostname", data=b"guix\n"),
        _info("etc/shadow", data=b"root:*:19676:0:99999:7:::\n", mode=0o640, gid=42),
        _info("etc/motd", data=b"hi\n", mtime=1700000000),
        _info("bin", tarfile.DIRTYPE, mode=0o755),
        _info("bin/sh", tarfile.SYMTYPE, link="bash"),
        _info("bin/tool", data=b"\x7fELF", mode=0o4755, uid=1000),
        _info("var", tarfile.DIRTYPE, mode=0o755),
        _info("var/log", data=b""),
        _info("only-second", data=b"y"),
    ])
    first, second = _import(a, "rootfs", tmp_path / "s1"), _import(b, "rootfs", tmp_path / "s2")
    c = cmp.explain(cmp.compare(first, second), first, second)
    found = {d.path: d for _, d in c.files}
    assert set(found) == {"etc/shadow", "etc/motd", "bin/sh", "bin/tool", "var/log", "only-first",
                          "only-second"}
    assert found["etc/shadow"].what == "content"
    assert "-root:*:19675" in found["etc/shadow"].text_diff and "+root:*:19676" in found["etc/shadow"].text_diff
    assert found["etc/motd"].what == "mtime"
    assert found["etc/motd"].aspects[0][2].startswith("2023-11-14T22:13:20Z")
    assert found["bin/sh"].aspects == [("link target", "dash", "bash")]
    assert {a for a, _, _ in found["bin/tool"].aspects} == {"mode", "owner"}
    assert ("mode", "0755", "4755") in found["bin/tool"].aspects
    assert found["var/log"].aspects[0] == ("type", "directory", "file")
    assert found["only-first"].status == "only in first" and found["only-second"].status == "only in second"

    report = CheckReport("test", "debian", "debian s", "amd64", "a second build", None,
                         [str(first.digest), str(second.digest)], [(2, c)])
    runs = diffoscope.run_on_layers(first, second, [0], tmp_path, tmp_path)
    assert runs[0].status == "differences" and "19676" in runs[0].text.read_text()
    report.diffoscope = runs
    text = render_text(report)
    assert "verdict: NOT REPRODUCIBLE" in text and "SOURCE_DATE_EPOCH: not set" in text
    for line in ("etc/motd: mtime", "bin/sh: link target", "link target: dash -> bash",
                 "bin/tool: mode, owner", "owner: 0:0 -> 1000:0", "var/log: type", "only-first: presence"):
        assert line in text, line
    html = render_html(report)
    assert "<code>bin/tool</code>" in html and "diffoscope-layer-0.html" in html
    assert "&lt;" not in text and "<script" not in html
    paths = save(report, tmp_path / "report")
    assert all(p.is_file() for p in paths.values())


def test_html_escapes_hostile_paths(tmp_path):
    a = _layer(tmp_path / "a.tar", [_info("<script>alert(1)</script>", data=b"a")])
    b = _layer(tmp_path / "b.tar", [_info("<script>alert(1)</script>", data=b"b")])
    first, second = _import(a, "rootfs", tmp_path / "s1"), _import(b, "rootfs", tmp_path / "s2")
    c = cmp.explain(cmp.compare(first, second), first, second)
    html = render_html(CheckReport("t", "d", "p", "amd64", "m", 1, [str(first.digest), str(second.digest)],
                                   [(2, c)]))
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_long_reports_are_cut_with_the_rest_in_json(tmp_path):
    n = 2100
    a = _layer(tmp_path / "a.tar", [_info(f"f{i:05}", data=b"a", mtime=1) for i in range(n)])
    b = _layer(tmp_path / "b.tar", [_info(f"f{i:05}", data=b"a", mtime=2) for i in range(n)])
    first, second = _import(a, "rootfs", tmp_path / "s1"), _import(b, "rootfs", tmp_path / "s2")
    c = cmp.explain(cmp.compare(first, second), first, second)
    report = CheckReport("t", "d", "p", "amd64", "m", None, [str(first.digest), str(second.digest)], [(2, c)])
    assert f"{n} paths differ" in render_text(report)
    assert f"… and {n - 500} more (see report.json)" in render_text(report)
    assert f"… and {n - 2000} more paths" in render_html(report)
    assert len(report.to_json()["comparisons"][0]["layers"][0]["files"]) == n
