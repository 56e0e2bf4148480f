"""Fixtures for the publish tests: small images of every manifest kind, real servers and clients."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(REPO / "python"))

from servers import Containerd, Nginx, Podman, Registry, Skopeo, free_port, have  # noqa: E402

from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.descriptor import Descriptor, Platform
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import dump_json
from fsdgimg.oci.manifest import ImageIndex, parse_manifest, to_docker

needs = pytest.mark.skipif


def run(*args, input: bytes | str | None = None, env: dict | None = None, check: bool = True,
        timeout: float = 600, preexec_umask: int | None = None) -> subprocess.CompletedProcess:
    """The real command line, as a user runs it."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO / "python") + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    if isinstance(input, str):
        input = input.encode()
    preexec = (lambda: os.umask(preexec_umask)) if preexec_umask is not None else None
    proc = subprocess.run([sys.executable, "-m", "fsdgimg", *map(str, args)], capture_output=True, input=input,
                          env=full_env, timeout=timeout, preexec_fn=preexec)
    proc.out = proc.stdout.decode(errors="replace")
    proc.err = proc.stderr.decode(errors="replace")
    if check and proc.returncode != 0:
        raise AssertionError(f"fsdgimg {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.err}")
    return proc


def run_json(*args, **kw) -> dict:
    return json.loads(run(*args, "--json", **kw).out)


@pytest.fixture(autouse=True)
def isolated_credentials(tmp_path, monkeypatch):
    """No auth file, credential variable or cache of the machine's user leaks into a test."""
    for var in ("REGISTRY_AUTH_FILE", "FSDGIMG_REGISTRY_USERNAME", "FSDGIMG_REGISTRY_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    for var in ("NO_PROXY", "no_proxy"):  # every server of these tests is on loopback
        monkeypatch.setenv(var, "127.0.0.1,localhost,::1")
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    (home / "run").mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(home / ".docker"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))


def make_rootfs(root: Path, seed: int, size: int, name: str = "payload") -> Path:
    """A small root file system whose content depends on `seed` (random bytes: incompressible)."""
    import random
    rng = random.Random(seed)
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "os-release").write_text(f'NAME="fsdgimg test"\nVERSION_ID="{seed}"\n')
    (root / "bin").mkdir(exist_ok=True)
    with open(root / "bin" / name, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(rng.randbytes(n))
            left -= n
    return root


def convert_rootfs(rootfs: Path, layout: Path, tag: str, platform: str | None = None,
                   compression: str = "gzip") -> Path:
    args = ["convert", rootfs, f"oci:{layout}:{tag}", "--compression", compression, "--source-date-epoch", "1700000000"]
    if platform:
        args += ["--platform", platform]
    run(*args)
    return layout


def _layout_top(layout: Path) -> Descriptor:
    index = json.loads((layout / "index.json").read_text())
    return Descriptor.from_json(index["manifests"][0], str(layout))


def _blob(layout: Path, digest: Digest) -> Path:
    return layout / "blobs" / digest.algorithm / digest.hex


def _put(layout: Path, data: bytes) -> Digest:
    d = Digest.of(data)
    p = _blob(layout, d)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return d


def write_layout(dest: Path, parts: list[tuple[Path, str]], tag: str, *, docker: bool = False,
                 index: bool = True) -> Path:
    """An OCI layout whose tag names an index of the images in `parts` ((layout, platform) pairs), or,
    with index=False, the single image of parts[0]; docker=True writes Docker schema 2 media types."""
    (dest / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    children = []
    for layout, platform in parts:
        for f in (layout / "blobs" / "sha256").iterdir():
            target = dest / "blobs" / "sha256" / f.name
            if not target.exists():
                shutil.copyfile(f, target)
        top = _layout_top(layout)
        m = parse_manifest(_blob(layout, top.digest).read_bytes(), str(layout), top.media_type)
        if docker:
            m = to_docker(m)
        data = m.to_bytes()
        _put(dest, data)
        children.append(Descriptor(m.media_type, Digest.of(data), len(data), {}, Platform.parse(platform)))
    if index:
        idx = ImageIndex(mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX, children)
        data = idx.to_bytes()
        top = Descriptor(idx.media_type, _put(dest, data), len(data))
    else:
        top = children[0].with_platform(None)
    top = top.with_annotations({"org.opencontainers.image.ref.name": tag})
    (dest / "index.json").write_bytes(dump_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                                 "manifests": [top.to_json()]}))
    return dest


class Images:
    """Paths and digests of the test images (OCI layouts)."""

    def __init__(self, root: Path):
        self.root = root
        fs = root / "rootfs"
        self.a = convert_rootfs(make_rootfs(fs / "a", 1, 2 << 20), root / "a", "v1")
        self.b = convert_rootfs(make_rootfs(fs / "b", 2, 3 << 20), root / "b", "v2")
        arm = convert_rootfs(make_rootfs(fs / "arm", 3, 1 << 20), root / "arm", "arm", platform="linux/arm64")
        self.multi = write_layout(root / "multi", [(self.a, "linux/amd64"), (arm, "linux/arm64")], "multi")
        self.docker = write_layout(root / "docker", [(self.a, "linux/amd64")], "d2", docker=True, index=False)
        self.docker_list = write_layout(root / "dlist", [(self.a, "linux/amd64"), (arm, "linux/arm64")], "dlist",
                                        docker=True)

    @staticmethod
    def digest(layout: Path) -> str:
        return str(_layout_top(layout).digest)

    @staticmethod
    def pulled_digest(layout: Path, platform: str = "linux/amd64") -> str:
        """What podman records when pulling `layout` on this machine: an index's child for the platform."""
        top = _layout_top(layout)
        if top.media_type not in mt.INDEXES:
            return str(top.digest)
        index = json.loads(_blob(layout, top.digest).read_bytes())
        want = Platform.parse(platform)
        return next(d["digest"] for d in index["manifests"]
                    if Platform.from_json(d["platform"], "index").matches(want))

    @staticmethod
    def media_type(layout: Path) -> str:
        return _layout_top(layout).media_type

    @staticmethod
    def tag(layout: Path) -> str:
        return _layout_top(layout).annotations["org.opencontainers.image.ref.name"]

    def src(self, layout: Path) -> str:
        return f"oci:{layout}:{self.tag(layout)}"


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> Images:
    return Images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def big_image(tmp_path_factory) -> Path:
    """~160 MB of incompressible data in one uncompressed layer: long enough to kill things mid-push."""
    root = tmp_path_factory.mktemp("big")
    return convert_rootfs(make_rootfs(root / "rootfs", 9, 160 << 20), root / "oci", "big", compression="none")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    if not have("docker-registry"):
        pytest.skip("docker-registry is not installed")
    with Registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory):
    if not have("docker-registry", "htpasswd"):
        pytest.skip("docker-registry or htpasswd is not installed")
    with Registry(tmp_path_factory.mktemp("auth-registry"), users={"alice": "s3cret-PaSs"}) as reg:
        yield reg


@pytest.fixture(scope="session")
def skopeo(tmp_path_factory):
    if not have("skopeo"):
        pytest.skip("skopeo is not installed")
    return Skopeo(tmp_path_factory.mktemp("skopeo"))


@pytest.fixture(scope="session")
def podman(tmp_path_factory):
    if not have("podman"):
        pytest.skip("podman is not installed")
    p = Podman(tmp_path_factory.mktemp("podman"))
    yield p
    p.reset()


@pytest.fixture(scope="session")
def containerd(tmp_path_factory):
    if not have("containerd", "ctr"):
        pytest.skip("containerd is not installed")
    with Containerd(tmp_path_factory.mktemp("containerd")) as c:
        yield c


@pytest.fixture
def public_dir():
    """A directory others may traverse (pytest's are 0700): nginx's workers run as nobody, and
    serving from here checks that a published tree is readable by a web server's user."""
    import tempfile
    path = Path(tempfile.mkdtemp(prefix="fsdgimg-public-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def public_tree(name: str) -> Path:
    import tempfile
    path = Path(tempfile.mkdtemp(prefix=f"fsdgimg-{name}-"))
    path.chmod(0o755)
    return path


def start_nginx(workdir: Path, tree: Path) -> Nginx:
    if not have("nginx"):
        pytest.skip("nginx is not installed")
    port = free_port()
    block = run("web-config", "nginx", "--root", tree, "--listen", f"127.0.0.1:{port}").out
    return Nginx(workdir, block, port).start()
