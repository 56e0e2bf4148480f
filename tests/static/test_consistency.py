"""A publish to a static tree either completes (manifests, tags, tag lists, catalog, page consistent) or
leaves the previous state and says so; what a failed or killed attempt wrote is removed by itself, the
next publish or gc; output files are checked before anything is published."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from publish.conftest import big_image  # noqa: F401

from static.conftest import REPO_PYTHON, publish, run, run_json


def _state(tree: Path) -> dict:
    """What clients and servers see of x/a: the tag symlinks, tag list, catalog, tag map and page."""
    tags = tree / "v2" / "x" / "a" / "_tags"
    return {"tags": {t: os.readlink(tags / t) for t in sorted(os.listdir(tags)) if not t.startswith(".")},
            "list": (tree / "v2" / "x" / "a" / "_tags.json").read_text(),
            "catalog": (tree / "v2" / "_catalog.json").read_text(),
            "map": (tree / "_web" / "tags.map").read_text(),
            "page": (tree / "index.html").read_text()}


def _files(tree: Path) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), tree) for d, _, fs in os.walk(tree) for f in fs}


@pytest.fixture
def small_fs():
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = Path(tempfile.mkdtemp(prefix="fsdgimg-small-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)
    mnt.rmdir()


def _fill(mnt: Path, free: int) -> None:
    fill = mnt / "fill"
    fill.unlink(missing_ok=True)
    st = os.statvfs(mnt)
    size = st.f_bavail * st.f_frsize - free
    if size > 0:
        fd = os.open(fill, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)


def test_a_full_disk_at_any_point_leaves_the_previous_state_or_a_complete_one(images, small_fs):
    tree = small_fs / "tree"
    publish(images, images.a, tree, "x/a")  # x/a:v1 -> a
    before, files_before = _state(tree), _files(tree)
    b = images.digest(images.b)
    needed = sum(f.stat().st_size for f in (images.b / "blobs" / "sha256").iterdir())
    outcomes = []
    for free in [0, 64 << 10, needed // 2, *range(needed - (16 << 10), needed + (160 << 10), 8 << 10)]:
        _fill(small_fs, free)
        proc = run("publish", images.src(images.b), "--to", f"static:{tree}", "--name", "x/a:v1",
                   "--additional-tag", "v2", "--copy-blobs", check=False)
        (small_fs / "fill").unlink()
        if proc.returncode == 0:
            outcomes.append("done")
            break
        outcomes.append(proc.err.strip())
        assert proc.returncode == 1 and proc.err.count("\n") == 1, proc.err
        assert "nothing changed" in proc.err and ("No space left" in proc.err or "space" in proc.err), proc.err
        assert _state(tree) == before, free
        assert _files(tree) == files_before | {"fill"} - {"fill"}, _files(tree) ^ files_before
    assert outcomes[-1] == "done", outcomes
    # the disk filled up at every stage, the last one included (after every blob was written)
    for stage in ("writing blobs", "staging the tags"):
        assert any(stage in o for o in outcomes), "\n".join(o.split(" failed ")[-1][:80] for o in outcomes)
    after = _state(tree)
    assert after["tags"]["v1"].startswith(f"../_manifests/{b}.") and after["tags"]["v2"] == after["tags"]["v1"]
    assert json.loads(after["list"]) == {"name": "x/a", "tags": ["v1", "v2"]}
    assert f"x/a/v1 {b}." in after["map"] and b in after["page"]
    assert not [f for f in _files(tree) if ".tmp-" in f or "attempt" in f]


def test_a_killed_publish_is_cleaned_by_the_next_gc(images, big_image, tmp_path):  # noqa: F811
    tree = tmp_path / "tree"
    publish(images, images.a, tree, "x/a")
    before, files_before = _state(tree), _files(tree)
    env = dict(os.environ, PYTHONPATH=str(REPO_PYTHON))
    proc = subprocess.Popen([sys.executable, "-m", "fsdgimg", "publish", f"oci:{big_image}:big", "--to",
                             f"static:{tree}", "--name", "x/a:v1", "--copy-blobs"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tree / ".fsdgimg-attempt.json"
    deadline = time.monotonic() + 60
    while not journal.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert journal.exists(), "the publish ended before it could be killed"
    assert _state(tree) == before
    report = run_json("gc", f"static:{tree}")  # the default grace period: the attempt's files go anyway
    assert report["recovered"] == "removed"
    assert _files(tree) == files_before, _files(tree) ^ files_before
    assert publish(images, images.b, tree, "x/a")["recovered"] is None


def test_a_journal_of_a_publish_killed_after_its_tags_moved_is_completed(images, tmp_path):
    tree = tmp_path / "tree"
    publish(images, images.a, tree, "x/a")
    (tree / "v2" / "x" / "a" / "_tags.json").write_text('{"name":"x/a","tags":[]}')  # not yet refreshed
    digest = images.digest(images.a)
    created = sorted(os.path.relpath(p, tree) for p in (tree / "v2" / "x" / "a" / "_blobs").iterdir())
    (tree / ".fsdgimg-attempt.json").write_text(json.dumps({"name": "x/a", "tags": ["v1"], "digest": digest,
                                                            "created": created}))
    report = publish(images, images.a, tree, "y/a")
    assert report["recovered"] == "completed"
    assert json.loads((tree / "v2" / "x" / "a" / "_tags.json").read_text())["tags"] == ["v1"]
    assert all((tree / p).exists() for p in created)


def test_output_files_are_checked_before_publishing(images, tmp_path):
    tree = tmp_path / "tree"
    for bad in [tmp_path / "nonexistent" / "d", tmp_path]:
        proc = run("publish", images.src(images.a), "--to", f"static:{tree}", "--name", "x/a:v1",
                   "--digestfile", bad, check=False)
        assert proc.returncode == 2 and "--digestfile" in proc.err and proc.err.count("\n") == 1, proc.err
        assert not tree.exists()
    out = tmp_path / "digest"
    run("publish", images.src(images.a), "--to", f"static:{tree}", "--name", "x/a:v1", "--digestfile", out)
    assert out.read_text() == images.digest(images.a)
