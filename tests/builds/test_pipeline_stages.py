"""The build pipeline's stages and the builder interface, with a builder that writes a small root file
system itself (fast): how a builder's own check is used, how another stage slots in, and that
`build --publish` gives the digest that `fsdgimg publish` of the built layout gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fsdgimg.build.builders.base import Builder, BuildResult
from fsdgimg.build.check.report import NOT_REPRODUCIBLE, REPRODUCIBLE
from fsdgimg.build.pipeline import STAGES, BuildOptions, Stage, insert, run_build
from fsdgimg.catalog import Entry

REPO = Path(__file__).resolve().parents[2]
ENTRY = Entry("tiny", "debootstrap", "debian", "amd64", "a tiny test image", {"mirror": "m", "suite": "s"},
              Path("."))


class TreeBuilder(Builder):
    """Writes a root file system directory; `stamp` makes each build differ; with `trust_itself`
    its rebuild is its own check, as `guix build --check` is (None: identical)."""
    name = "tree"

    def __init__(self, stamp: bool = False, trust_itself: bool = False):
        self.stamp = stamp
        self.trust_itself = trust_itself
        self.builds = 0
        self.rebuilds = 0

    def build(self, entry, ctx, round_no):
        self.builds += 1
        root = ctx.round_dir(round_no) / "rootfs"
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "os-release").write_text("ID=tiny\n")
        if self.stamp:
            (root / "etc" / "build-stamp").write_text(f"round {round_no}\n")
        for p in [root, root / "etc", *root.rglob("*")]:
            os.utime(p, (1700000000, 1700000000), follow_symlinks=False)
        return BuildResult("rootfs", root, {"org.example.builder": "tree"}, {"notes.txt": b"built\n"},
                           method="tree")

    def rebuild(self, entry, ctx, first, round_no=2):
        self.rebuilds += 1
        return None if self.trust_itself else super().rebuild(entry, ctx, first, round_no)


def _manifest(layout: Path, digest: str) -> dict:
    return json.loads((layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())


def test_rebuild_is_the_builders_own_and_no_class_is_tested(tmp_path):
    builder = TreeBuilder(trust_itself=True)
    outcome = run_build(ENTRY, BuildOptions(out=tmp_path / "layout", check=True, epoch=1700000000,
                                            progress=False), builder=builder)
    assert (builder.builds, builder.rebuilds) == (1, 1)
    assert outcome.verdict == REPRODUCIBLE and outcome.digests[0] == outcome.digests[1]
    a = _manifest(tmp_path / "layout", outcome.digest)["annotations"]
    assert a["org.fsdgimg.check.method"] == builder.check_method()
    assert a["org.example.builder"] == "tree"
    assert (tmp_path / "layout" / "fsdgimg" / "provenance" / "notes.txt").read_bytes() == b"built\n"
    assert list(outcome.timings)[:4] == ["build", "lock", "import", "rebuild"]


def test_second_build_that_differs_is_caught_and_not_published(tmp_path):
    outcome = run_build(ENTRY, BuildOptions(out=tmp_path / "layout", check=True, epoch=1700000000,
                                            progress=False, publish=f"oci:{tmp_path / 'pub'}"),
                        builder=TreeBuilder(stamp=True))
    assert outcome.verdict == NOT_REPRODUCIBLE and outcome.published is None
    assert not (tmp_path / "pub").exists()
    assert "etc/build-stamp" in outcome.report["text"].read_text()


def test_an_inserted_stage_sees_the_check_and_annotates(tmp_path):
    seen = {}

    def sbom(r):
        seen["verdict"] = r.report.verdict
        r.annotations["org.example.sbom"] = f"{len(r.image.layers)} layer(s)"
        r.files["sbom.json"] = b"{}\n"

    stages = insert(STAGES, Stage("sbom", sbom), before="annotate")
    assert [s.name for s in stages] == ["build", "lock", "import", "check", "sbom-audit", "sbom", "annotate",
                                        "write", "trust-reports", "publish", "publish-inputs", "attach-sign"]
    outcome = run_build(ENTRY, BuildOptions(out=tmp_path / "layout", check=True, epoch=1700000000,
                                            progress=False), builder=TreeBuilder(), stages=stages)
    assert seen == {"verdict": REPRODUCIBLE}
    assert _manifest(tmp_path / "layout", outcome.digest)["annotations"]["org.example.sbom"] == "1 layer(s)"
    assert (tmp_path / "layout" / "fsdgimg" / "provenance" / "sbom.json").is_file()


def test_build_publish_gives_the_digest_publish_gives(tmp_path):
    """Same image, same options: build --publish and `fsdgimg publish` of the built layout agree,
    for every file destination."""
    for dest in (f"oci:{tmp_path / 'pub'}:x", f"docker-archive:{tmp_path / 'pub.tar'}",
                 f"static:{tmp_path / 'tree'}"):
        outcome = run_build(ENTRY, BuildOptions(out=tmp_path / "layout", epoch=1700000000, progress=False,
                                                publish=dest), builder=TreeBuilder())
        assert outcome.published.endswith(" " + outcome.digest), (dest, outcome.published)
        again = subprocess.run([sys.executable, "-m", "fsdgimg", "publish", f"oci:{tmp_path / 'layout'}:latest",
                                "--to", dest.replace("pub", "again"), "--name", "tiny:latest", "--json"]
                               if dest.startswith("static:") else
                               [sys.executable, "-m", "fsdgimg", "publish", f"oci:{tmp_path / 'layout'}:latest",
                                "--to", dest.replace("pub", "again"), "--json"],
                               capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO / "python")})
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["digest"] == outcome.digest, dest
