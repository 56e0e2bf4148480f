"""The Guix driver against a real Guix 1.5 (Debian sid chroot, offline daemon).

Real image builds need downloads, which these machines cannot make; so
- every Guix catalog entry is taken as far as Guix goes offline: its derivation (`-d`);
- the build, `guix build --check` and post-build path run for real on derivations whose only
  input is a static busybox, which write archives in Guix's docker layout (guix_offline/).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from fsdgimg import catalog
from fsdgimg.build.builders.guix_builders import GuixPackBuilder
from fsdgimg.build.check.report import NOT_REPRODUCIBLE, REPRODUCIBLE
from fsdgimg.build.pipeline import BuildOptions, run_build
from fsdgimg.guix import Guix, GuixError

from .conftest import GUIX_CHROOT, REPO, run_cli

OFFLINE = Path(__file__).resolve().parent / "guix_offline"


def test_every_guix_catalog_entry_yields_a_derivation_for_aarch64_and_x86_64(guix_env):
    guix_entries = [e for e in catalog.load().entries.values() if e.is_guix]
    assert {e.builder for e in guix_entries} == {"guix-system", "guix-pack"}
    for entry in guix_entries:
        assert {"amd64", "arm64"} <= {a.name for a in entry.architectures}
        proc = run_cli("build", entry.name, "--derivation", "--arch", "arm64,amd64", env=guix_env)
        assert proc.returncode == 0, (entry.name, proc.stderr)
        drvs = proc.stdout.split()
        assert len(drvs) == 2 and drvs[0] != drvs[1], drvs
        for drv, system in zip(drvs, ("aarch64-linux", "x86_64-linux")):
            assert drv.startswith("/gnu/store/") and drv.endswith(".drv"), drv
            assert (GUIX_CHROOT / drv.lstrip("/")).is_file()
            text = (GUIX_CHROOT / drv.lstrip("/")).read_text()
            # the derivation is built on (and for) that system
            assert f'"{system}"' in text, (entry.name, system)
            if entry.builder == "guix-pack":
                assert "docker-pack.tar.gz" in drv
            else:
                assert drv.endswith("docker-image.tar.gz.drv")


def test_driver_argument_lists():
    g = Guix(load_path=[REPO / "channel"], system="x86_64-linux", executable="guix")
    argv = g.system_image_command(Path("os.scm"), derivation=True)
    assert argv == ["guix", "system", "image", "-L", str(REPO / "channel"), "--system=x86_64-linux",
                    "--image-type=docker", "--no-grafts", "--save-provenance", "-d", "os.scm"]
    argv = g.pack_command(Path("m.scm"), derivation=False, max_layers=8, entry_point="bin/hello")
    assert argv == ["guix", "pack", "-L", str(REPO / "channel"), "--system=x86_64-linux", "-f", "docker",
                    "--no-grafts", "--save-provenance", "-m", "m.scm", "--max-layers=8",
                    "--entry-point=bin/hello"]
    pinned = Guix(load_path=[], channels=Path("/c/channels.scm"), executable="guix")
    assert pinned.command("describe", "--format=channels", load_path=False) == \
        ["guix", "time-machine", "-C", "/c/channels.scm", "--", "describe", "--format=channels"]


def test_store_path_and_nondeterminism_messages_are_parsed():
    out = "substitute: looking for substitutes…\n/gnu/store/" + "a" * 32 + "-hello-docker-pack.tar.gz\n"
    assert Guix.store_path(out, "x") == "/gnu/store/" + "a" * 32 + "-hello-docker-pack.tar.gz"
    with pytest.raises(GuixError, match="printed no store path"):
        Guix.store_path("nothing here\n", "x")


def test_list_packages_comes_from_the_channel(guix_env):
    proc = run_cli("list", "--packages", "--json", env=guix_env)
    assert proc.returncode == 0, proc.stderr
    images = {i["name"]: i for i in json.loads(proc.stdout)["images"]}
    for name in ("guix-minimal", "guix-registry", "guix-hello", "guix-registry-tools"):
        assert "error" not in images[name], images[name]["error"]
        assert images[name]["packages"], name
    hello = {p["name"]: p for p in images["guix-hello"]["packages"]}
    assert hello["hello"]["licenses"] == ["GPL 3+"]
    tools = {p["name"] for p in images["guix-registry-tools"]["packages"]}
    assert {"distribution-registry", "fsdgimg", "skopeo"} <= tools
    assert "bash" in {p["name"] for p in images["guix-minimal"]["packages"]}
    assert "packages" not in images["trisquel-minimal"]


def _catalog(tmp_path: Path, manifest: Path, channels: str = "host") -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(f'root = "{tmp_path}"\n[images.test]\ndistribution = "guix"\nbuilder = "guix-pack"\n'
                    f'manifest = "{manifest}"\nchannels = "{channels}"\nsystem = "x86_64-linux"\n'
                    'architecture = "amd64"\n')
    return path


def test_guix_failure_is_one_line_and_a_tail(guix_env, tmp_path):
    manifest = tmp_path / "broken.scm"
    manifest.write_text('(specifications->manifest (list "no-such-package-fsdgimg"))\n')
    proc = run_cli("build", "test", "--catalog", _catalog(tmp_path, manifest), "--out", tmp_path / "o",
                   env=guix_env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    first, *rest = proc.stderr.splitlines()
    assert first.startswith("fsdgimg build: test: guix pack -f docker -d failed (guix exit 1): ")
    assert "no-such-package-fsdgimg" in first
    assert rest and all(line.startswith("  | ") for line in rest)
    assert not (tmp_path / "o").exists()


def test_time_machine_pin_offline_fails_in_one_line(guix_env, tmp_path):
    (tmp_path / "channels.scm").write_text(
        '(list (channel (name \'guix) (url "https://git.savannah.gnu.org/git/guix.git")\n'
        '               (commit "0000000000000000000000000000000000000000")))\n')
    proc = run_cli("build", "test", "-d", "--catalog",
                   _catalog(tmp_path, REPO / "manifests" / "images" / "hello.scm", "channels.scm"),
                   env=guix_env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr.splitlines()[0], proc.stderr
    assert proc.stderr.startswith("fsdgimg build: test: guix pack -f docker -d failed (guix exit")


def test_debootstrap_in_a_guix_container_fails_offline_in_one_line(guix_env, tmp_path):
    """--tools guix: `guix shell --container --network debootstrap trisquel-keyring -- …` is really run;
    offline, Guix cannot build debootstrap, and says so through the driver."""
    proc = run_cli("build", "trisquel-minimal", "--tools", "guix", "--out", tmp_path / "o", env=guix_env)
    assert proc.returncode == 1, proc.stderr
    first, *rest = proc.stderr.splitlines()
    assert first.startswith("fsdgimg build: trisquel-minimal: debootstrap in guix shell failed (guix exit 1): "
                            "guix shell: error: build of"), first
    assert rest and all(line.startswith("  | ") for line in rest)
    assert list(tmp_path.iterdir()) == []


# -- real builds of busybox-only derivations -------------------------------------------------------

class DerivationBuilder(GuixPackBuilder):
    """A guix-pack catalog entry whose derivation is given (one Guix can build offline)."""

    def __init__(self, drv: str):
        self.drv = drv

    def derivation(self, entry, ctx) -> str:
        return self.drv


def _derivation(static_busybox: Path, script: Path, name: str, nondet: bool, env: dict) -> str:
    proc = subprocess.run([env["FSDGIMG_GUIX"], "repl", "--", str(OFFLINE / "derivation.scm"),
                           str(static_busybox), str(script), name, "1" if nondet else "0"],
                          capture_output=True, text=True, timeout=300, cwd=script.parent)
    assert proc.returncode == 0, proc.stderr
    return Guix.store_path(proc.stdout, "derivation.scm", ".drv")


@pytest.fixture
def guix_process_env(guix_env, monkeypatch):
    for k, v in guix_env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return guix_env


def _entry(tmp_path: Path):
    manifest = tmp_path / "unused.scm"
    manifest.write_text("; the derivation is given by the test\n")
    return catalog.load(_catalog(tmp_path, manifest)).get("test")


def test_guix_build_and_check_of_a_deterministic_derivation(guix_process_env, static_busybox, tmp_path):
    drv = _derivation(static_busybox, OFFLINE / "build-image.sh", "fsdgimg-test-image.tar.gz", False,
                      guix_process_env)
    outcome = run_build(_entry(tmp_path), BuildOptions(out=tmp_path / "layout", check=True),
                        builder=DerivationBuilder(drv))
    assert outcome.verdict == REPRODUCIBLE
    assert outcome.digests[0] == outcome.digests[1]
    index = json.loads((tmp_path / "layout" / "index.json").read_text())
    manifest = json.loads((tmp_path / "layout" / "blobs" / "sha256" /
                           index["manifests"][0]["digest"].split(":")[1]).read_text())
    a = manifest["annotations"]
    assert a["org.fsdgimg.guix.derivation"] == drv
    assert a["org.fsdgimg.guix.output"].startswith("/gnu/store/")
    assert a["org.fsdgimg.guix.channels"].startswith("(list (channel")
    assert a["org.fsdgimg.check.method"].startswith("guix build --check")
    assert a["org.fsdgimg.check.verdict"] == REPRODUCIBLE
    # Provenance is also a file in the layout.
    channels = (tmp_path / "layout" / "fsdgimg" / "provenance" / "channels.scm").read_text()
    assert channels.startswith("(list (channel") and "(name 'guix)" in channels
    # The lock: the derivation and the channels; Debian's guix is not from `guix pull`, so its
    # channel has no commit, the lock says it pins nothing, and a rebuild from it is refused.
    lock = json.loads((tmp_path / "layout" / "fsdgimg" / "lock.json").read_text())
    assert lock["guix"]["derivation"] == drv and lock["guix"]["channelsFile"] == channels
    assert [c["name"] for c in lock["guix"]["channels"]] == ["guix"] and lock["guix"]["channels"][0].get("commit") is None
    assert lock["guix"]["pinned"] is False and lock["tool"]["argv"][:2] == ["guix", "pack"]
    refused = run_cli("rebuild", tmp_path / "layout" / "fsdgimg" / "lock.json", env=guix_process_env)
    assert refused.returncode == 2 and "does not pin Guix" in refused.stderr and "Traceback" not in refused.stderr
    inspect = subprocess.run(["skopeo", "inspect", f"oci:{tmp_path / 'layout'}:latest"],
                             capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    layer = tmp_path / "layout" / "blobs" / "sha256" / manifest["layers"][0]["digest"].split(":")[1]
    with tarfile.open(layer) as tf:
        motd = tf.extractfile("./etc/motd").read()
    assert motd == b"built by guix-daemon\n"


def test_with_sources_lists_the_guix_source_derivations(guix_process_env, static_busybox, tmp_path):
    """--with-sources of a Guix image: the source derivation of each of its packages, as `guix build
    -S -d` computes it, attached beside the published image."""
    drv = _derivation(static_busybox, OFFLINE / "build-image.sh", "fsdgimg-test-image.tar.gz", False,
                      guix_process_env)
    entry = catalog.load(_catalog(tmp_path, REPO / "manifests" / "images" / "hello.scm")).get("test")
    tree = tmp_path / "public"
    outcome = run_build(entry, BuildOptions(out=tmp_path / "layout", publish=f"static:{tree}", with_sources=True,
                                            progress=False), builder=DerivationBuilder(drv))
    sources = outcome.extra["sources"]
    assert sources["packages"] == 1 and sources["via"] == "static-tree"
    repo = tree / "v2" / "test"
    manifest = json.loads(next((repo / "_manifests").glob(f"{sources['sources']}.*")).read_text())
    assert manifest["artifactType"] == "application/vnd.fsdgimg.sources.v1+json" and manifest["layers"] == []
    assert manifest["config"]["mediaType"] == "application/vnd.fsdgimg.guix-source-list.v1+json"
    listed = json.loads((repo / "_blobs" / manifest["config"]["digest"]).read_text())["sources"]
    [hello] = listed
    assert hello["name"] == "hello" and hello["derivation"].endswith(f"hello-{hello['version']}.tar.gz.drv")
    # The very derivation `guix build -S -d` gives.
    computed = subprocess.run([guix_process_env["FSDGIMG_GUIX"], "build", "-S", "-d", "hello"], capture_output=True,
                              text=True).stdout
    assert hello["derivation"] in computed


def test_a_pinned_guix_lock_rebuilds_through_time_machine(guix_env, tmp_path):
    """A lock that pins Guix: the rebuild runs `guix time-machine -C` the recorded channels (which
    needs the network here: it fails in one line, having checked the entry's file first)."""
    catalog_path = _catalog(tmp_path, REPO / "manifests" / "images" / "hello.scm", "host")
    entry = catalog.load(catalog_path).get("test")
    channels = ('(list (channel (name \'guix) (url "https://git.savannah.gnu.org/git/guix.git")\n'
                '               (commit "0000000000000000000000000000000000000000")))\n')
    manifest = REPO / "manifests" / "images" / "hello.scm"
    import hashlib
    lock = {"lockType": "https://fsdgimg.org/lock/v1", "entry": {"name": "test", **entry.table()},
            "platform": "linux/amd64", "builder": "guix-pack", "tool": {"name": "guix"}, "sourceDateEpoch": None,
            "guix": {"channels": [{"name": "guix", "url": "https://git.savannah.gnu.org/git/guix.git",
                                   "commit": "0" * 40}], "channelsFile": channels, "derivation": "/gnu/store/x.drv",
                     "pinned": True, "file": {"path": "manifests/images/hello.scm",
                                              "sha256": hashlib.sha256(manifest.read_bytes()).hexdigest()}}}
    f = tmp_path / "lock.json"
    f.write_text(json.dumps(lock))
    proc = run_cli("rebuild", f, env=guix_env, cwd=REPO)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("fsdgimg rebuild: test: guix pack -f docker -d failed (guix exit"), proc.stderr
    # Elsewhere than the checkout the image was built from, the file is missing: said before any guix runs.
    proc = run_cli("rebuild", f, env=guix_env, cwd=tmp_path)
    assert proc.returncode == 1 and "not the file test was built from" in proc.stderr, proc.stderr


def test_guix_check_catches_a_nondeterministic_derivation(guix_process_env, static_busybox, tmp_path):
    drv = _derivation(static_busybox, OFFLINE / "build-image.sh", "fsdgimg-test-nondet.tar.gz", True,
                      guix_process_env)
    outcome = run_build(_entry(tmp_path), BuildOptions(out=tmp_path / "layout", check=True),
                        builder=DerivationBuilder(drv))
    assert outcome.verdict == NOT_REPRODUCIBLE
    assert outcome.digests[0] != outcome.digests[1]
    text = outcome.report["text"].read_text()
    assert "etc/build-stamp: content" in text
    assert "1 path differs" in text
    # The rebuild guix kept (--keep-failed) is what was compared.
    report = json.loads(outcome.report["json"].read_text())
    assert report["method"].startswith("guix build --check")
    # The daemon's kept build directory is cleaned up; the kept -check output stays in the store.
    assert not list((GUIX_CHROOT / "tmp").glob("guix-build-fsdgimg-test-nondet.tar.gz.drv-*"))


def test_failed_guix_build_shows_the_build_log_tail(guix_process_env, static_busybox, tmp_path):
    script = tmp_path / "fail.sh"
    script.write_text('echo "compiling the fsdgimg test image"\necho "make: *** [all] Error 3" >&2\nexit 3\n')
    drv = _derivation(static_busybox, script, "fsdgimg-test-fails.tar.gz", False, guix_process_env)
    with pytest.raises(GuixError) as info:
        run_build(_entry(tmp_path), BuildOptions(out=tmp_path / "layout"), builder=DerivationBuilder(drv))
    e = info.value
    assert e.line.startswith("test: guix build failed (guix exit 1): ")
    assert drv in e.line
    # The tail comes from the build log the daemon wrote (compressed), not from guix's summary.
    assert any("make: *** [all] Error 3" in t for t in e.tail), e.tail
    assert not (tmp_path / "layout").exists()
