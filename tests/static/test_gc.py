"""gc and content discovery: what refers to a kept manifest stays with it, and goes with it."""

from __future__ import annotations

import json

from fsdgimg.transports.static.writer import StaticPublisher
from static.conftest import publish, referrer_image, run_json


def test_gc_keeps_referrers_of_kept_manifests_and_drops_the_others(images, tmp_path):
    tree = tmp_path / "tree"
    publish(images, images.a, tree, "g/a")
    digest = images.digest(images.a)
    size = len((images.a / "blobs" / "sha256" / digest[7:]).read_bytes())
    subject = {"mediaType": images.media_type(images.a), "digest": digest, "size": size}
    sig = referrer_image(tmp_path / "sig", subject)
    StaticPublisher(tree).publish(sig, "g/a", None)  # no tag: reached only through its subject
    index = tree / "v2" / "g" / "a" / "_referrers" / f"{digest}.json"
    sig_file = tree / "v2" / "g" / "a" / "_manifests" / f"{sig.digest}.oci-manifest"
    report = run_json("gc", f"static:{tree}", "--grace", "0")
    assert report["manifests_removed"] == 0 and sig_file.exists() and index.exists()
    layer = tree / "v2" / "g" / "a" / "_blobs" / str(sig.manifest.layers[0].digest)
    assert layer.exists()
    # the subject's tag moves away: the subject and its signature go, and the referrers index with them
    run_json("publish", images.src(images.b), "--to", f"static:{tree}", "--name", "g/a:v1")
    report = run_json("gc", f"static:{tree}", "--grace", "0")
    assert report["manifests_removed"] == 2 and not sig_file.exists() and not layer.exists()
    assert not index.exists()
    assert json.loads((tree / "v2" / "g" / "a" / "_tags.json").read_text())["tags"] == ["v1"]


def test_gc_removes_a_killed_writers_temporaries_under_web(images, tmp_path):
    """A publish killed while it wrote the page's sections leaves temporaries in _web/pages/NAME/:
    gc removes them wherever they are under _web/ (tests/publish/test_faults.py kills at random)."""
    tree = tmp_path / "tree"
    publish(images, images.a, tree, "g/a")
    pages = tree / "_web" / "pages"
    left = [pages / ".tmp-stored-1-2", pages / "g" / ".tmp-a.html-1-2"]
    for path in left:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half a page")
    report = run_json("gc", f"static:{tree}", "--grace", "0")
    assert report["temporaries_removed"] == 2 and not any(p.exists() for p in left)
    assert (tree / "index.html").is_file()
