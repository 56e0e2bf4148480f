"""Faults: a registry killed in the middle of a push, chunked uploads cut short and resumed, and
`fsdgimg publish --to static:` killed with SIGKILL at random moments while nginx serves the tree."""

from __future__ import annotations

import importlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from servers import Registry, have

from fsdgimg.oci.reference import Reference
from fsdgimg.transports.read import open_source
from fsdgimg.transports.registry import RegistryClient, RegistryError
from fsdgimg.transports.registry.state import PushState
from publish.conftest import (
    REPO,
    convert_rootfs,
    make_rootfs,
    public_tree,
    run,
    run_json,
    start_nginx,
)

push_module = importlib.import_module("fsdgimg.transports.registry.push")


def _popen_publish(*args) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "python") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-m", "fsdgimg", "publish", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _du(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


@pytest.mark.skipif(not have("docker-registry"), reason="docker-registry is not installed")
def test_registry_killed_mid_push_then_rerun_resumes(big_image, tmp_path, skopeo, containerd):
    reg = Registry(tmp_path / "registry").start()
    try:
        dest = f"docker://{reg.host}/big/image:big"
        proc = _popen_publish(f"oci:{big_image}:big", "--to", dest, "--retries", "1", "--json")
        uploads = reg.storage / "docker" / "registry" / "v2" / "repositories" / "big" / "image" / "_uploads"
        layer_size = max(d["size"] for d in _layers(big_image))
        config = _config_blob(reg, big_image)
        # The registry is killed while the layer's upload is under way, the config already stored: the
        # publish is let run in short steps and looked at while stopped (SIGSTOP), so that on a busy
        # machine a late look cannot find it already past the upload (finishing the blob or putting the
        # manifest: other errors, with nothing to resume) or the config still in flight.
        deadline = time.monotonic() + 120
        while True:
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(0.02)     # what was sent reaches the registry's files
            assert proc.poll() is None, proc.stderr.read().decode()
            held = _du(uploads)
            if held >= (24 << 20) and config.is_file():
                break
            assert time.monotonic() < deadline, "the upload never got going"
            os.kill(proc.pid, signal.SIGCONT)
            time.sleep(0.005)
        assert held < layer_size, f"the upload was not under way when looked at ({held} of {layer_size} bytes)"
        reg.kill()
        os.kill(proc.pid, signal.SIGCONT)
        _, err = proc.communicate(timeout=120)
        err = err.decode()
        assert proc.returncode == 1, err
        assert err.count("\n") == 1 and reg.host in err and "resume" in err and "Traceback" not in err
        held = _du(uploads)
        reg.start()
        report = run_json("publish", f"oci:{big_image}:big", "--to", dest)
        # The rerun knew the interrupted upload: it resumed it where the registry said, or, when the
        # registry no longer accepts it (Distribution 2.8 refuses an upload that got part of a chunk:
        # "blob upload invalid"), sent the blob again from the start.
        assert report["blobs_resumed"] + report["blobs_restarted"] == 1, report
        if report["blobs_resumed"]:
            assert report["bytes_sent"] <= layer_size - held + (1 << 20) + 4096, (report, held)
        digest = report["digest"]
        assert skopeo.digest(dest) == digest
        skopeo.copy(dest, f"oci:{tmp_path / 'pulled'}:x", "--preserve-digests")  # verifies every blob on the way
        assert containerd.pull(f"{reg.host}/big/image:big") == digest
    finally:
        reg.stop()


def _manifest(layout: Path) -> dict:
    index = json.loads((layout / "index.json").read_text())
    top = index["manifests"][0]["digest"].split(":")[1]
    return json.loads((layout / "blobs" / "sha256" / top).read_text())


def _layers(layout: Path) -> list[dict]:
    return _manifest(layout)["layers"]


def _config_blob(reg: Registry, layout: Path) -> Path:
    """Where Distribution's file system storage keeps the image's config once it has it."""
    hex = _manifest(layout)["config"]["digest"].split(":")[1]
    return reg.storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / hex[:2] / hex / "data"


@pytest.mark.skipif(not have("docker-registry"), reason="docker-registry is not installed")
def test_registry_restarted_during_push_same_run_completes(big_image, tmp_path, skopeo):
    reg = Registry(tmp_path / "registry").start()
    try:
        dest = f"docker://{reg.host}/big/again:big"
        proc = _popen_publish(f"oci:{big_image}:big", "--to", dest, "--retries", "8", "--json")
        uploads = reg.storage / "docker" / "registry" / "v2" / "repositories" / "big" / "again" / "_uploads"
        while _du(uploads) < (16 << 20):
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.005)
        reg.kill()
        time.sleep(1.0)
        reg.start()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        digest = json.loads(out)["digest"]
        assert skopeo.digest(dest) == digest
        skopeo.copy(dest, f"oci:{tmp_path / 'pulled'}:x", "--preserve-digests")
    finally:
        reg.stop()


class _Cut(Exception):
    pass


def test_chunked_upload_resumes_in_run_and_across_runs(images, registry, tmp_path, monkeypatch):
    monkeypatch.setattr(push_module, "MONOLITHIC_MAX", 0)
    ref = Reference.parse(f"{registry.host}/chunks/b:v2")
    state = PushState(tmp_path / "state.json")
    calls = {"patch": 0}
    real_request = RegistryClient.request

    def flaky(self, method, path, **kw):
        if method == "PATCH":
            calls["patch"] += 1
            if calls["patch"] == 2:
                raise RegistryError("connection reset (simulated)")
            if calls["patch"] == 4:
                raise _Cut()  # the process dies here
        return real_request(self, method, path, **kw)

    monkeypatch.setattr(RegistryClient, "request", flaky)
    with open_source(images.src(images.b)) as image:
        layer = max(image.layers, key=lambda d: d.size)
        client = RegistryClient(registry.host, backoff=0.01)
        with pytest.raises(_Cut):
            push_module.push(image, ref, client, jobs=1, state=state, chunk_size=512 << 10)
        assert state.upload(registry.host, "chunks/b", str(layer.digest))
        monkeypatch.setattr(RegistryClient, "request", real_request)
        again = push_module.push(image, ref, RegistryClient(registry.host), jobs=1,
                                 state=PushState(tmp_path / "state.json"), chunk_size=512 << 10)
    assert again.blobs_resumed == 1
    assert again.bytes_sent == layer.size - 2 * (512 << 10)  # two chunks were already there
    assert registry.manifest_digest("chunks/b", "v2") == images.digest(images.b)
    assert PushState(tmp_path / "state.json").upload(registry.host, "chunks/b", str(layer.digest)) is None


def test_corrupt_source_blob_is_refused(images, registry, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(images.a, bad)
    layer = max(_layers(bad), key=lambda d: d["size"])
    path = bad / "blobs" / "sha256" / layer["digest"].split(":")[1]
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    proc = run("publish", f"oci:{bad}:v1", "--to", f"docker://{registry.host}/corrupt/a:v1", check=False)
    assert proc.returncode == 1 and "corrupt" in proc.err and proc.err.count("\n") == 1
    assert registry.manifest_digest("corrupt/a", "v1") is None
    proc = run("publish", f"oci:{bad}:v1", "--to", f"static:{tmp_path / 'tree'}", "--name", "corrupt/a", check=False)
    assert proc.returncode == 1 and "digest" in proc.err
    assert not (tmp_path / "tree" / "v2" / "corrupt" / "a" / "_tags" / "v1").exists()


@pytest.fixture(scope="module")
def fault_images(tmp_path_factory):
    root = tmp_path_factory.mktemp("fault-images")
    out = []
    for seed in (21, 22):
        layout = convert_rootfs(make_rootfs(root / f"fs{seed}", seed, 24 << 20), root / f"oci{seed}", "latest",
                                compression="none")
        out.append(layout)
    return out


def _digest(layout: Path) -> str:
    return json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]


@pytest.mark.skipif(not have("nginx", "skopeo"), reason="nginx or skopeo is not installed")
def test_static_publish_killed_at_random_moments(fault_images, tmp_path, skopeo, podman, containerd):
    """Over many runs, SIGKILL `fsdgimg publish --to static:` at a random moment; after each, every
    client pulls a complete image, old or new, never a broken one."""
    runs = int(os.environ.get("FSDGIMG_KILL_RUNS", "30"))
    rng = random.Random(int(os.environ.get("FSDGIMG_KILL_SEED", "1234")))
    base = public_tree("kill")
    root = base / "tree"
    try:
        x, y = fault_images
        digests = {_digest(x), _digest(y)}
        run("publish", f"oci:{x}:latest", "--to", f"static:{root}", "--name", "fault/img:latest")
        # How long a full publish takes here (new blobs to write): the window to kill in.
        start = time.monotonic()
        run("publish", f"oci:{y}:latest", "--to", f"static:{tmp_path / 'calibrate'}", "--name", "fault/img:latest")
        window = time.monotonic() - start
        server = start_nginx(tmp_path / "nginx", root)
        host = f"127.0.0.1:{server.port}"
        seen, killed_at = set(), []
        try:
            for i in range(runs):
                src = y if i % 2 == 0 else x
                proc = _popen_publish(f"oci:{src}:latest", "--to", f"static:{root}", "--name", "fault/img:latest")
                delay = rng.uniform(0.0, window * 1.1)
                time.sleep(delay)
                killed = proc.poll() is None
                if killed:
                    proc.send_signal(signal.SIGKILL)
                proc.communicate()
                killed_at.append((round(delay, 3), killed))
                ref = f"docker://{host}/fault/img:latest"
                out = tmp_path / f"pulled-{i}"
                skopeo.copy(ref, f"oci:{out}:x", "--preserve-digests")  # fails on any missing or corrupt blob
                got = json.loads((out / "index.json").read_text())["manifests"][0]["digest"]
                assert got in digests, (i, got)
                assert skopeo.digest(ref) == got
                seen.add(got)
                shutil.rmtree(out)
                if i % 6 == 5:
                    assert containerd.pull(f"{host}/fault/img:latest") in digests
                    assert podman.pull(f"{host}/fault/img:latest") & digests
                if i % 3 == 2:
                    # gc with no grace at all, while nginx serves: what the tag reaches stays whole
                    run("gc", f"static:{root}", "--grace", "0")
            assert sum(k for _, k in killed_at) >= runs // 3, killed_at
            assert "[crit]" not in server.error_log() and "[alert]" not in server.error_log(), server.error_log()
        finally:
            server.stop()
        # after all that, the tree is consistent: a last publish and gc leave exactly one image
        final = run_json("publish", f"oci:{y}:latest", "--to", f"static:{root}", "--name", "fault/img:latest")
        run("gc", f"static:{root}", "--grace", "0")
        left = sorted(p.name for p in (root / "v2" / "fault" / "img" / "_manifests").iterdir())
        assert left == [f"{final['digest']}.oci-manifest"]
        assert not [p for p in root.rglob(".tmp-*")]
    finally:
        shutil.rmtree(base, ignore_errors=True)
