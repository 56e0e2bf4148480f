"""A Debian entry for amd64 and arm64 (arm64 under qemu-user) built, checked, indexed and published,
then pulled by podman, skopeo, containerd and docker for linux/arm64 — each gets the arm64 child —
and run under emulation. One build shared by the module, kept small to keep the suite fast: Debian's
busybox-static, and a hook that runs the target's own binary in the new tree (under qemu-user for
arm64) and records what machine it saw. bench/multiarch times the essential variant."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from builds.conftest import EPOCH, REPO, debian_mirror, run_cli
from servers import Containerd, Dockerd, FsdgimgServe, Podman, Registry, Skopeo, have

pytestmark = pytest.mark.skipif(not have("mmdebstrap", "arch-test", "docker-registry", "/usr/sbin/dockerd"),
                                reason="needs mmdebstrap, qemu-user and docker.io (scripts/setup.sh)")

TAG = "bookworm"
REPO_NAME = "debian-multi"


# Runs in the finished tree: a binary of the target architecture (emulated for a foreign one).
HOOK = 'chroot "$1" /bin/busybox uname -m > "$1/etc/build-machine"'
# mmdebstrap's extract variant leaves no package database; this one lists what it extracted, so the
# SBOM has a package and the audit something to pass (an SBOM that lists nothing never passes).
STATUS_HOOK = ('mkdir -p "$1/var/lib/dpkg" && printf "Package: busybox-static\\nStatus: install ok installed\\n'
               'Architecture: all\\nVersion: 1\\n\\n" > "$1/var/lib/dpkg/status"')


def _entry(name: str, architectures: str = '["amd64", "arm64"]') -> str:
    lines = [f"[images.{name}]", 'distribution = "debian"', 'builder = "debootstrap"',
             f'mirror = "{debian_mirror()}"', 'suite = "bookworm"', 'variant = "extract"',
             'include = ["busybox-static"]', f"hooks = ['{HOOK}', '{STATUS_HOOK}']",
             f'architectures = {architectures}', f'tag = "{TAG}"', 'cmd = ["/bin/busybox", "sh"]']
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.toml"
    path.write_text(f'root = "{REPO}"\n\n' + _entry("debian-multi"))
    return path


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with Registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


def blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def tagged(layout: Path, tag: str = TAG) -> dict:
    index = json.loads((layout / "index.json").read_text())
    [desc] = [d for d in index["manifests"] if d["annotations"]["org.opencontainers.image.ref.name"] == tag]
    return desc


KEY_PASSWORD = "multi-pw"


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory) -> Path:
    prefix = tmp_path_factory.mktemp("keys") / "release"
    proc = run_cli("sign", "--generate-key", prefix, env={"COSIGN_PASSWORD": KEY_PASSWORD})
    assert proc.returncode == 0, proc.stderr
    return prefix


@pytest.fixture(scope="module")
def build(catalog, registry, signing_key, tmp_path_factory):
    """`fsdgimg build debian-multi --check --publish docker://… --sign-key`: both platforms built
    twice, the index and both images signed, each platform's reports attached to its image."""
    work = tmp_path_factory.mktemp("multi")
    proc = run_cli("build", "debian-multi", "--catalog", catalog, "--tools", "host", "--check",
                   "--out", work / "layout", "--publish", f"docker://{registry.host}/{REPO_NAME}:{TAG}", "--json",
                   "--sign-key", signing_key.with_suffix(".key"),
                   env={"SOURCE_DATE_EPOCH": EPOCH, "COSIGN_PASSWORD": KEY_PASSWORD}, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcome = json.loads(proc.stdout)
    layout = work / "layout"
    index = json.loads(blob(layout, outcome["digest"]))
    children = {f"{m['platform']['os']}/{m['platform']['architecture']}"
                + (f"/{m['platform']['variant']}" if m["platform"].get("variant") else ""): m for m in index["manifests"]}
    return {"work": work, "layout": layout, "outcome": outcome, "index": index, "children": children,
            "ref": f"{registry.host}/{REPO_NAME}:{TAG}"}


def arm64_child(build) -> tuple[str, dict, dict]:
    desc = build["children"]["linux/arm64/v8"]
    manifest = json.loads(blob(build["layout"], desc["digest"]))
    config = json.loads(blob(build["layout"], manifest["config"]["digest"]))
    return desc["digest"], manifest, config


def test_one_index_with_a_checked_child_per_platform(build):
    outcome, index, layout = build["outcome"], build["index"], build["layout"]
    assert tagged(layout)["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert tagged(layout)["digest"] == outcome["digest"]
    assert list(build["children"]) == ["linux/amd64", "linux/arm64/v8"]
    # --check: every platform built twice and identical; the verdict per platform and for the index
    assert outcome["verdict"] == "reproducible"
    for plat, one in outcome["platforms"].items():
        assert one["verdict"] == "reproducible" and one["builds"][0] == one["builds"][1], plat
        assert Path(one["report"]["text"]).is_file()
        assert "verdict: REPRODUCIBLE" in Path(one["report"]["text"]).read_text()
    ann = index["annotations"]
    assert ann["org.fsdgimg.check.verdict"] == "reproducible"
    assert ann["org.fsdgimg.platforms"] == "linux/amd64 linux/arm64/v8"
    assert "org.opencontainers.image.ref.name" not in ann      # the tag is the layout's, not the index's
    assert ann["org.fsdgimg.distribution"] == "debian" and ann["org.fsdgimg.source.suite"] == "bookworm"
    built_from = json.loads(ann["org.fsdgimg.built-from"])
    assert set(built_from) == {"linux/amd64", "linux/arm64/v8"}
    for plat, desc in build["children"].items():
        assert built_from[plat]["manifest"] == desc["digest"]
        manifest = json.loads(blob(layout, desc["digest"]))
        # each child: its own config (its architecture) and annotations (its own check)
        config = json.loads(blob(layout, manifest["config"]["digest"]))
        assert f"{config['os']}/{config['architecture']}" + (f"/{config['variant']}" if "variant" in config else "") \
            == plat
        assert manifest["annotations"]["org.fsdgimg.check.verdict"] == "reproducible"
        assert manifest["annotations"]["org.fsdgimg.check.first"] == outcome["platforms"][plat]["builds"][0]
    amd, arm = (json.loads(blob(layout, d["digest"])) for d in build["children"].values())
    assert amd["layers"][0]["digest"] != arm["layers"][0]["digest"]


ATTESTED = ["https://spdx.dev/Document", "https://fsdgimg.org/fsdg-audit/v1", "https://slsa.dev/provenance/v1",
            "https://slsa.dev/verification_summary/v1"]


def test_signed_index_with_each_platforms_reports_on_its_own_image(build, registry, signing_key):
    outcome, children = build["outcome"], build["children"]
    attached = outcome["attached"]
    assert attached["signature"]["digest"] == outcome["digest"]
    assert {c["platform"]: c["digest"] for c in attached["signature"]["children"]} == \
        {plat: desc["digest"] for plat, desc in children.items()}
    for plat, desc in children.items():
        mine = attached["platforms"][plat]
        # Distribution 2.8 has no referrers API: the fallback tag of the child's digest lists them.
        assert mine["attachments_via"] == "tag-schema"
        assert sorted(a["artifactType"] for a in mine["attachments"]) == [
            "application/spdx+json", "application/vnd.fsdgimg.audit.v1+json", "application/vnd.fsdgimg.check.v1+json"]
        assert registry.manifest_digest(REPO_NAME, f"sha256-{desc['digest'][7:]}") is not None
        # The same reports signed as attestations about this platform's manifest, the verdict of
        # --check among them (a SLSA verification summary).
        made = {a["predicate_type"]: a["digest"] for a in mine["attestations"]}
        assert made == {t: desc["digest"] for t in ATTESTED}, made
    # The index has its signature, and no reports of its own.
    assert registry.manifest_digest(REPO_NAME, f"sha256-{outcome['digest'][7:]}.att") is None
    assert registry.manifest_digest(REPO_NAME, f"sha256-{outcome['digest'][7:]}.sig") is not None
    assert registry.manifest_digest(REPO_NAME, f"sha256-{outcome['digest'][7:]}") is None
    proc = run_cli("verify", f"docker://{build['ref']}", "--key", signing_key.with_suffix(".pub"), "--json")
    assert proc.returncode == 0, proc.stderr
    v = json.loads(proc.stdout)
    assert v["verified"] and v["digest"] == outcome["digest"] and v["signatures"]
    assert [c["platform"] for c in v["platforms"]] == list(children)
    for c in v["platforms"]:
        assert c["signatures"] and c["via"] == "tag-schema" and c["audit"]["verdict"] == "pass"
        assert sorted(a["predicate_type"] for a in c["attestations"]) == sorted(ATTESTED)
        assert c["sbom"]["signed_by"] == str(signing_key.with_suffix(".pub"))
        # The SBOM describes this platform's image as built (before annotations), as its manifest says.
        manifest = json.loads(blob(build["layout"], children[c["platform"]]["digest"]))
        assert c["sbom"]["describes"] == manifest["annotations"]["org.fsdgimg.built"]


def test_verify_rebuilds_one_platform_of_the_index(build, signing_key):
    proc = run_cli("verify", f"docker://{build['ref']}", "--platform", "linux/arm64", "--no-sbom", "--rebuild",
                   "--key", signing_key.with_suffix(".pub"), "--tools", "host", "--json", timeout=1200)
    assert proc.returncode == 0, proc.stderr
    [child] = json.loads(proc.stdout)["platforms"]
    assert child["platform"] == "linux/arm64/v8" and child["digest"] == build["children"]["linux/arm64/v8"]["digest"]
    assert child["rebuild"]["reproduced"]
    assert child["rebuild"]["rebuilt"] == build["outcome"]["platforms"]["linux/arm64/v8"]["builds"][0]


def _member(build, digest: str, path: str) -> bytes:
    manifest = json.loads(blob(build["layout"], digest))
    layer = build["layout"] / "blobs" / "sha256" / manifest["layers"][0]["digest"].split(":")[1]
    return subprocess.run(["tar", "-xzOf", str(layer), path], capture_output=True, check=True).stdout


def test_arm64_child_was_built_and_run_as_arm64(build):
    arm, amd = build["children"]["linux/arm64/v8"]["digest"], build["children"]["linux/amd64"]["digest"]
    assert _member(build, arm, "./bin/busybox")[18:20] == b"\xb7\x00"     # ELF e_machine 183: AArch64
    assert _member(build, amd, "./bin/busybox")[18:20] == b"\x3e\x00"     # 62: x86-64
    # the hook ran the tree's own busybox during the build: under qemu-user for arm64
    assert _member(build, arm, "./etc/build-machine") == b"aarch64\n"
    assert _member(build, amd, "./etc/build-machine") == b"x86_64\n"


def skopeo_arm64_digest(skopeo: Skopeo, ref: str, dest: Path) -> str:
    """What `skopeo --override-arch arm64 copy` takes from a multi-platform tag: the manifest digest it
    stored (skopeo inspect would show the index's digest beside the child's architecture)."""
    skopeo.run("--override-arch", "arm64", "--override-variant", "v8", "copy", "--src-tls-verify=false",
               ref, f"oci:{dest}:x")
    [desc] = json.loads((dest / "index.json").read_text())["manifests"]
    config = json.loads((dest / "blobs" / "sha256" / desc["digest"][7:]).read_text())["config"]
    assert json.loads((dest / "blobs" / "sha256" / config["digest"][7:]).read_text())["architecture"] == "arm64"
    return desc["digest"]


def test_clients_pull_the_arm64_child_from_the_registry(build, registry, tmp_path, tmp_path_factory):
    digest, _, config = arm64_child(build)
    config_digest = json.loads(blob(build["layout"], digest))["config"]["digest"]
    ref = build["ref"]
    assert registry.manifest_digest(REPO_NAME, TAG) == build["outcome"]["digest"]
    skopeo = Skopeo(tmp_path / "skopeo")
    assert skopeo_arm64_digest(skopeo, f"docker://{ref}", tmp_path / "skopeo-copy") == digest
    podman = Podman(tmp_path_factory.mktemp("podman"))     # podman wants a short run root
    try:
        pulled = podman.run("pull", "--tls-verify=false", "-q", "--platform", "linux/arm64", ref).stdout.split()[-1]
        assert "sha256:" + pulled == config_digest      # podman's image ID is the config digest
        assert digest in podman.pull(ref, platform="linux/arm64")
    finally:
        podman.reset()
    with Containerd(tmp_path / "containerd") as containerd:
        assert containerd.pull(ref, platform="linux/arm64") == build["outcome"]["digest"]
        content = containerd.ctr("content", "ls", "-q").stdout.split()
        amd64_digest = build["children"]["linux/amd64"]["digest"]
        assert digest in content and config_digest in content and amd64_digest not in content


def test_docker_pulls_and_runs_the_arm64_child_under_emulation(build, registry, tmp_path):
    digest, _, config = arm64_child(build)
    config_digest = json.loads(blob(build["layout"], digest))["config"]["digest"]
    with Dockerd(tmp_path / "dockerd", insecure_registries=[registry.host]) as dockerd:
        assert dockerd.pull(build["ref"], platform="linux/arm64") == build["outcome"]["digest"]
        assert dockerd.docker("image", "inspect", "--format", "{{.Id}}", build["ref"]).stdout.strip() \
            == config_digest
        assert dockerd.image_platform(build["ref"]) == "linux/arm64/v8"
        by_digest = f"{registry.host}/{REPO_NAME}@{digest}"
        assert dockerd.pull(by_digest) == digest
        run = dockerd.docker("run", "--platform", "linux/arm64", "--rm", "--network", "none", build["ref"],
                             "busybox", "uname", "-m")
        assert run.stdout.strip() == "aarch64"


def test_static_tree_serves_every_platform(build, tmp_path):
    tree = tmp_path / "public"
    report = json.loads(run_cli("publish", f"oci:{build['layout']}:{TAG}", "--to", f"static:{tree}",
                                "--name", f"{REPO_NAME}:{TAG}", "--json").stdout)
    assert report["digest"] == build["outcome"]["digest"]
    html = (tree / "index.html").read_text()
    for desc in build["children"].values():
        assert desc["digest"] in html or desc["digest"][7:19] in html
    assert "linux/amd64" in html and "linux/arm64/v8" in html
    digest, _, _ = arm64_child(build)
    with FsdgimgServe(tmp_path / "serve", tree) as serve:
        assert skopeo_arm64_digest(Skopeo(tmp_path / "skopeo"), f"docker://127.0.0.1:{serve.port}/{REPO_NAME}:{TAG}",
                                   tmp_path / "skopeo-copy") == digest


def test_unknown_or_foreign_arch_option_is_one_line(catalog, tmp_path):
    for arg, needle in (("armhf", "the OCI name is 'arm/v7'"), ("ppc64le", "not built for ppc64le"),
                        ("amd64,amd64", "named twice")):
        proc = run_cli("build", "debian-multi", "--catalog", catalog, "--arch", arg, "--out", tmp_path / "o")
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert needle in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.fixture
def s390x_not_runnable():
    """This host cannot run s390x binaries while the test runs: its qemu-user interpreter is turned
    off in binfmt_misc (and back on afterwards) — the host without emulation for an architecture."""
    entry = Path("/proc/sys/fs/binfmt_misc/qemu-s390x")
    if not entry.exists():
        yield
        return
    entry.write_text("0")
    try:
        yield
    finally:
        entry.write_text("1")


def test_a_platform_the_host_cannot_build_is_one_line_or_skipped(tmp_path, s390x_not_runnable):
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f'root = "{REPO}"\n\n' + _entry("debian-s390x", '["amd64", "s390x"]'))
    assert subprocess.run(["arch-test", "s390x"], capture_output=True).returncode != 0
    proc = run_cli("build", "debian-s390x", "--catalog", catalog, "--tools", "host", "--out", tmp_path / "o",
                   env={"SOURCE_DATE_EPOCH": EPOCH})
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "debian-s390x: not available on this host for linux/s390x" in proc.stderr
    assert "--skip-unavailable" in proc.stderr
    assert not (tmp_path / "o").exists()
    proc = run_cli("build", "debian-s390x", "--catalog", catalog, "--tools", "host", "--out", tmp_path / "o",
                   "--skip-unavailable", "--json", env={"SOURCE_DATE_EPOCH": EPOCH})
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout)
    assert list(outcome["platforms"]) == ["linux/amd64"] and list(outcome["missing"]) == ["linux/s390x"]
    assert "arch-test s390x" in outcome["missing"]["linux/s390x"]
    index = json.loads(blob(tmp_path / "o", outcome["digest"]))
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64"]
    assert index["annotations"]["org.fsdgimg.platforms.missing"] == "linux/s390x"
    assert index["annotations"]["org.fsdgimg.platforms"] == "linux/amd64"


def test_per_architecture_builds_merged_on_another_host_give_the_same_index(catalog, build, tmp_path):
    """Distributed builds: each architecture built on its own (here: in its own directory, by its own
    command), the results merged by `fsdgimg index` — the index the single-host build wrote."""
    for arch, plat in (("arm64", "linux/arm64/v8"), ("amd64", "linux/amd64")):
        proc = run_cli("build", "debian-multi", "--catalog", catalog, "--tools", "host", "--check",
                       "--arch", arch, "--out", tmp_path / arch, "--json", env={"SOURCE_DATE_EPOCH": EPOCH})
        assert proc.returncode == 0, proc.stderr
        one = json.loads(proc.stdout)
        assert one["verdict"] == "reproducible"
        # one architecture makes that platform's image, not an index
        assert tagged(tmp_path / arch)["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        assert one["digest"] == build["children"][plat]["digest"]
    # given in any order: the index orders its platforms itself
    merged = json.loads(run_cli("index", f"oci:{tmp_path / 'arm64'}:{TAG}", f"oci:{tmp_path / 'amd64'}:{TAG}",
                                "--to", f"oci:{tmp_path / 'merged'}:{TAG}", "--json").stdout)
    assert merged["digest"] == build["outcome"]["digest"]
    assert blob(tmp_path / "merged", merged["digest"]) == blob(build["layout"], build["outcome"]["digest"])
