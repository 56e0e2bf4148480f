"""docker without Docker Hub (issue 20, part 3): the channel's docker-fsdg and docker-cli-fsdg.

The Guix side: the variants' derivations (native, cross-compiled to aarch64) carry the channel's
patch files, and the two docker-cli patches are the docker ones at docker/cli's vendored paths.
The proof on a real build: scripts/docker-fsdg-debian-build.sh applies the same patch files to
Debian 12's docker.io source (20.10.24, the series of Guix's 20.10.27), builds the CLI and dockerd
with Debian's Go and runs the patched packages' Go tests (cached between runs: a fresh machine
pays a few minutes once); then the patched dockerd, started by hand, and the patched CLI talk to
a local Distribution registry holding `trisquel:11`."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from guixrun import CHROOT, REPO, derivations, guix, guix_chroot  # noqa: F401 (fixture)
from servers import Dockerd, Registry

# On a fresh machine the first test to need `build` makes the Debian chroot and builds docker
# (measured: 4-10 min on 2 busy cores), beyond scripts/test.sh's 900 s per test on a slow one.
pytestmark = pytest.mark.timeout(2400)

PATCHES = REPO / "channel/fsdgimg/packages/patches"
BUILD = REPO / "scripts/docker-fsdg-debian-build.sh"
PACKAGES = ["docker-fsdg", "docker-cli-fsdg"]
DOCKER_HUB = ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]


def patch_body(name: str) -> str:
    """A patch file without its header: the diff itself."""
    text = (PATCHES / name).read_text()
    return text[text.index("--- a/"):]


def file_diffs(body: str) -> dict[str, str]:
    """The per-file diffs of a patch body, by the file's path."""
    parts = re.split(r"(?m)^(?=--- a/)", body)
    return {re.match(r"--- a/(\S+)", part).group(1): part for part in parts if part}


# --- the channel's packages ---------------------------------------------------------------------

def test_cli_default_registry_patch_is_the_daemons():
    # moby and docker/cli vendor the same github.com/docker/distribution/reference at the same path.
    assert (PATCHES / "docker-cli-fsdg-default-registry.patch").read_bytes() == \
        (PATCHES / "docker-fsdg-default-registry.patch").read_bytes()


def test_cli_refuse_patch_is_the_daemons_at_the_vendored_path():
    daemon = file_diffs(patch_body("docker-fsdg-refuse-docker-hub.patch"))
    cli = file_diffs(patch_body("docker-cli-fsdg-refuse-docker-hub.patch"))
    prefix = "vendor/github.com/docker/docker/"
    # docker/cli vendors moby's registry package without its tests (and has no daemon).
    want = {prefix + path: diff.replace(f"a/{path}", f"a/{prefix}{path}").replace(f"b/{path}", f"b/{prefix}{path}")
            for path, diff in daemon.items() if path.startswith("registry/") and not path.endswith("_test.go")}
    assert cli == want
    assert sorted(daemon) == ["daemon/daemon.go", "registry/fsdg.go", "registry/fsdg_test.go", "registry/registry_test.go",
                              "registry/service.go", "registry/service_v2.go"]


@pytest.mark.usefixtures("guix_chroot")
@pytest.mark.parametrize("target", [None, "aarch64-linux-gnu"])
def test_derivations(target):
    args = ["build", "-L", "channel", "-d", "--no-grafts", *([f"--target={target}"] if target else []), *PACKAGES]
    drvs = derivations(guix(*args).stdout)
    assert [re.sub(r"^/gnu/store/[a-z0-9]{32}-|\.drv$", "", d) for d in drvs] == \
        [f"{p}-20.10.27" for p in PACKAGES]


@pytest.mark.usefixtures("guix_chroot")
@pytest.mark.parametrize("package", PACKAGES)
def test_source_derivation_applies_the_channel_patches(package):
    (drv,) = derivations(guix("build", "-L", "channel", "-S", "-d", "--no-grafts", package).stdout)
    text = (CHROOT / drv.lstrip("/")).read_text()
    for name in (f"{package}-default-registry.patch", f"{package}-refuse-docker-hub.patch"):
        (stored,) = re.findall(r'/gnu/store/[a-z0-9]{32}-' + re.escape(name), text)
        # The store copy is the channel's file, byte for byte.
        assert (CHROOT / stored.lstrip("/")).read_bytes() == (PATCHES / name).read_bytes()


@pytest.mark.usefixtures("guix_chroot")
def test_operating_system_with_the_service():
    # Upstream's dockerd service requires containerd, dbus, elogind and networking: the system
    # README.md shows meets them, with docker-fsdg-service-type in place of docker-service-type.
    out = guix("system", "build", "-L", "channel", "-d", "--no-grafts", "tests/guix/docker-fsdg-os.scm").stdout
    (drv,) = derivations(out)
    assert drv.endswith("-system.drv")


@pytest.mark.usefixtures("guix_chroot")
def test_lint_prints_nothing():
    # Without the derivation checker (every system: minutes for docker's closure); the
    # x86_64 and aarch64 derivations are computed above.
    proc = guix("lint", "-L", "channel", "-n", "-x", "derivation", *PACKAGES)
    assert proc.stdout == "" and proc.stderr == "", proc.stdout + proc.stderr


# --- the same patches on a real build -----------------------------------------------------------

@pytest.fixture(scope="module")
def build() -> Path:
    """The patched CLI and dockerd built from Debian's docker.io source (cached)."""
    proc = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, timeout=3600,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = Path(proc.stdout.strip().splitlines()[-1])
    assert (out / "bin/docker").is_file() and (out / "bin/dockerd").is_file()
    return out


def test_patched_packages_go_tests_pass(build):
    log = (build / "go-test.log").read_text()
    for package in ("github.com/docker/distribution/reference", "github.com/docker/docker/registry",
                    "github.com/docker/docker/reference"):
        assert re.search(rf"(?m)^ok\s+{re.escape(package)}\s", log), log[-3000:]
    assert not re.search(r"(?m)^(FAIL|--- FAIL)", log)
    # The patches' own tests ran, and upstream's mirror test with Docker Hub allowed (as root).
    for test in ("TestShortNamesOnTheDefaultRegistry", "TestBadDefaultRegistry", "TestDockerHubRefused",
                 "TestDockerHubAllowed", "TestMirrorEndpointLookup"):
        assert re.search(rf"(?m)^--- PASS: {test} ", log), test
    assert len(re.findall(r"(?m)^\s*--- PASS: ", log)) >= 60


def test_built_from_debians_source(build):
    version = (build / "version").read_text().strip()
    assert version.startswith("20.10.24+dfsg1")
    out = subprocess.run([str(build / "bin/docker"), "--version"], capture_output=True, text=True).stdout
    assert f"Docker version {version}-fsdg" in out


class PatchedDockerd(Dockerd):
    """The patched dockerd and CLI of `build`, with ENV (the settings) for both."""

    name = "dockerd-fsdg"

    def __init__(self, workdir: Path, build: Path, env: dict[str, str]):
        super().__init__(workdir)
        self.DOCKERD = str(build / "bin/dockerd")
        self.DOCKER = str(build / "bin/docker")
        self.settings = env

    def _clean(self, env: dict) -> dict:
        for name in ("DOCKER_DEFAULT_REGISTRY", "DOCKER_ALLOW_DOCKER_HUB"):
            env.pop(name, None)
        return {**env, **self.settings}

    def env(self) -> dict:
        return self._clean(dict(os.environ))

    def client_env(self) -> dict:
        return self._clean(super().client_env())

    def error_line(self, *args: str, env: dict[str, str] | None = None) -> str:
        """The one line a failing docker command prints."""
        proc = subprocess.run([self.DOCKER, *args], capture_output=True, text=True, timeout=120,
                              env={**self.client_env(), **(env or {})})
        assert proc.returncode != 0, proc.stdout
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        return lines[0]


@pytest.fixture(scope="module")
def registry(tmp_path_factory, oci_image):
    """A Distribution registry holding `trisquel:11` and `x:1` (a small image fsdgimg converted)."""
    with Registry(tmp_path_factory.mktemp("registry")) as reg:
        for name in ("trisquel:11", "x:1"):
            subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{oci_image}:latest",
                            f"docker://{reg.host}/{name}"], check=True, capture_output=True)
        yield reg


@pytest.fixture(scope="module")
def fsdg_dockerd(build, registry, tmp_path_factory):
    """Patched docker whose default registry is the local one, as docker-fsdg-service-type sets it."""
    with PatchedDockerd(tmp_path_factory.mktemp("dockerd-fsdg"), build,
                        {"DOCKER_DEFAULT_REGISTRY": registry.host}) as d:
        yield d


@pytest.fixture(scope="module")
def bare_dockerd(build, tmp_path_factory):
    """Patched docker with no default registry."""
    with PatchedDockerd(tmp_path_factory.mktemp("dockerd-bare"), build, {}) as d:
        yield d


def test_short_name_pulls_from_the_default_registry(fsdg_dockerd, registry):
    out = fsdg_dockerd.docker("pull", "trisquel:11").stdout
    digest = registry.manifest_digest("trisquel", "11")
    assert f"Digest: {digest}" in out
    assert out.strip().splitlines()[-1] == f"{registry.host}/trisquel:11"
    # Names are shown fully qualified, and the short name finds the pulled image.
    tags = fsdg_dockerd.docker("image", "inspect", "--format", "{{join .RepoTags \",\"}}", "trisquel:11").stdout
    assert tags.strip() == f"{registry.host}/trisquel:11"


def test_fully_qualified_name_unchanged(fsdg_dockerd, bare_dockerd, registry):
    for dockerd in (fsdg_dockerd, bare_dockerd):
        out = dockerd.docker("pull", f"{registry.host}/x:1").stdout
        assert out.strip().splitlines()[-1] == f"{registry.host}/x:1"


def test_short_name_absent_from_the_default_registry(fsdg_dockerd, registry):
    # "archlinux" is looked for on the FSDG registry, and only there.
    line = fsdg_dockerd.error_line("pull", "archlinux")
    assert line.startswith("Error response from daemon: ")
    assert f"{registry.host}/archlinux:latest not found" in line


def test_short_name_without_default_registry_refused(bare_dockerd):
    line = bare_dockerd.error_line("pull", "archlinux")
    assert line == ("Error response from daemon: docker.io is Docker Hub, which this docker does not contact: "
                    "use a fully qualified name such as registry.example.org/NAME:TAG, set "
                    "DOCKER_DEFAULT_REGISTRY for short names, or set DOCKER_ALLOW_DOCKER_HUB=1")


@pytest.mark.parametrize("host", DOCKER_HUB)
def test_docker_hub_refused_under_every_name(fsdg_dockerd, host):
    line = fsdg_dockerd.error_line("pull", f"{host}/library/archlinux:latest")
    assert "is Docker Hub, which this docker does not contact" in line
    assert "DOCKER_ALLOW_DOCKER_HUB=1" in line


def test_docker_hub_login_refused(bare_dockerd):
    proc = subprocess.run([bare_dockerd.DOCKER, "login", "-u", "someone", "--password-stdin"], input="secret\n",
                          capture_output=True, text=True, timeout=120, env=bare_dockerd.client_env())
    assert proc.returncode != 0
    assert "is Docker Hub, which this docker does not contact" in proc.stderr


def test_bad_default_registry_one_line(fsdg_dockerd):
    line = fsdg_dockerd.error_line("pull", "trisquel:11", env={"DOCKER_DEFAULT_REGISTRY": "https://registry.example.org"})
    assert line == ('DOCKER_DEFAULT_REGISTRY="https://registry.example.org" is not a registry: '
                    "expected HOST[:PORT][/PATH], e.g. registry.example.org or 127.0.0.1:5000")


def test_run_short_name(fsdg_dockerd, registry):
    # `docker create`/`run` send the name as typed: the daemon resolves it with its own setting,
    # to the image the short name pulled.
    fsdg_dockerd.docker("pull", "trisquel:11")
    container = fsdg_dockerd.docker("create", "trisquel:11", "/bin/true").stdout.strip()
    try:
        used = fsdg_dockerd.docker("inspect", "--format", "{{.Image}}", container).stdout.strip()
    finally:
        fsdg_dockerd.docker("rm", container)
    pulled = fsdg_dockerd.docker("image", "inspect", "--format", "{{.Id}}", f"{registry.host}/trisquel:11").stdout
    assert used == pulled.strip()


def test_client_refuses_docker_hub_itself(bare_dockerd):
    # `docker manifest` reaches registries from the client, through its copy of moby's registry
    # package (the docker-cli-fsdg refuse patch); no daemon is involved.
    for name in ("archlinux", "registry-1.docker.io/library/archlinux"):
        line = bare_dockerd.error_line("manifest", "inspect", name)
        assert re.fullmatch(r"(docker\.io|registry-1\.docker\.io) is Docker Hub, which this docker does not "
                            r"contact: .* or set DOCKER_ALLOW_DOCKER_HUB=1", line), line


@pytest.mark.parametrize("which,image", [("bare", "archlinux"), ("fsdg", "registry-1.docker.io/library/busybox")])
def test_buildkit_refuses_docker_hub(which, image, bare_dockerd, fsdg_dockerd, tmp_path):
    # BuildKit resolves FROM through the daemon's registry hosts, not its registry service.
    dockerd = bare_dockerd if which == "bare" else fsdg_dockerd
    (tmp_path / "Dockerfile").write_text(f"FROM {image}\n")
    proc = subprocess.run([dockerd.DOCKER, "build", "-t", "fsdg-test", str(tmp_path)], capture_output=True,
                          text=True, timeout=300, env={**dockerd.client_env(), "DOCKER_BUILDKIT": "1"})
    assert proc.returncode != 0
    assert "is Docker Hub, which this docker does not contact" in proc.stderr, proc.stderr[-2000:]
