"""Mirrors carrying a static tree with rsync. rsync's sorted order is the publish order for files (in a
repository _blobs, then _manifests), but it creates symlinks (the tags) as soon as it meets them, before
the files queued ahead of them have arrived; so a mirror syncs in two passes (docs/publish.md): content
first, without tags and the files derived from them, then everything. Interrupted at any point, the
mirror serves each tag as it was or as it is, never a manifest whose blobs it lacks."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import signal
import subprocess
import threading
import time

import pytest
from servers import FsdgimgServe, have

from static.conftest import fetch, public_tree, publish, run

# the two passes docs/publish.md gives mirror operators
CONTENT_PASS = ["rsync", "-aH", "--exclude=_tags/", "--exclude=_tags.json", "--exclude=/_web/",
                "--exclude=/index.html", "--exclude=/v2/_catalog.json", "--exclude=_referrers/"]
FULL_PASS = ["rsync", "-aH", "--delete-delay"]


def mirror(source, dest, *extra) -> list[list[str]]:
    return [[*CONTENT_PASS, *extra, f"{source}/", f"{dest}/"], [*FULL_PASS, *extra, f"{source}/", f"{dest}/"]]


def _pull(port: int, name: str, tag: str) -> str | None:
    """A client's pull, by hand: the tag, then every manifest and blob it reaches, each checked against
    its digest. None when the tag is not (yet) there; AssertionError when the mirror serves a tag whose
    content it lacks."""
    r = fetch(port, f"/v2/{name}/manifests/{tag}")
    if r.status == 404:
        return None
    assert r.status == 200, r
    digest = r.headers["docker-content-digest"]
    assert "sha256:" + hashlib.sha256(r.body).hexdigest() == digest
    todo = [json.loads(r.body)]
    while todo:
        m = todo.pop()
        for child in m.get("manifests", []):
            c = fetch(port, f"/v2/{name}/manifests/{child['digest']}")
            assert c.status == 200, (name, tag, child["digest"], c.status)
            todo.append(json.loads(c.body))
        for blob in ([m["config"]] if "config" in m else []) + m.get("layers", []):
            b = fetch(port, f"/v2/{name}/blobs/{blob['digest']}")
            assert b.status == 200, (name, tag, blob["digest"], b.status)
            assert "sha256:" + hashlib.sha256(b.body).hexdigest() == blob["digest"]
    return digest


def test_rsync_interrupted_anywhere_never_serves_a_tag_without_its_blobs(images, tmp_path):
    if not have("rsync"):
        pytest.skip("rsync is not installed")
    base = public_tree("mirror")
    source, mirror_dir = base / "source", base / "mirror"
    try:
        publish(images, images.a, source, "m/x")  # m/x:v1
        for cmd in mirror(source, mirror_dir):
            subprocess.run(cmd, check=True)
        a, b, multi = images.digest(images.a), images.digest(images.b), images.digest(images.multi)
        # the source moves on: v1 to another image, a new repository with a multi-platform index
        run("publish", images.src(images.b), "--to", f"static:{source}", "--name", "m/x:v1")
        publish(images, images.multi, source, "m/multi")
        rng = random.Random(12)
        seen = {("m/x", "v1"): set(), ("m/multi", "multi"): set()}
        with FsdgimgServe(tmp_path / "serve", mirror_dir) as server:
            stop = threading.Event()
            failures = []

            def client():  # pulls all along, from the mirror being synced
                while not stop.is_set():
                    for (name, tag), digests in seen.items():
                        try:
                            digests.add(_pull(server.port, name, tag))
                        except AssertionError as e:
                            failures.append(repr(e))
            puller = threading.Thread(target=client)
            puller.start()
            try:
                for _ in range(8):  # the sync killed at random points, slowed down so that there are many
                    deadline = time.monotonic() + rng.uniform(0.05, 4.0)
                    for cmd in mirror(source, mirror_dir, "--bwlimit=3000"):
                        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        try:
                            proc.wait(max(0.0, deadline - time.monotonic()))
                        except subprocess.TimeoutExpired:
                            proc.send_signal(signal.SIGKILL)
                            proc.wait()
                            break
                    for (name, tag), digests in seen.items():
                        digests.add(_pull(server.port, name, tag))
                for cmd in mirror(source, mirror_dir):
                    subprocess.run(cmd, check=True)
                time.sleep(0.2)
            finally:
                stop.set()
                puller.join()
            assert not failures, failures[:3]
            assert _pull(server.port, "m/x", "v1") == b and _pull(server.port, "m/multi", "multi") == multi
            assert seen[("m/x", "v1")] <= {a, b} and seen[("m/multi", "multi")] <= {None, multi}
    finally:
        shutil.rmtree(base, ignore_errors=True)
