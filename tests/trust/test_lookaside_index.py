"""OpenPGP signatures of multi-platform indexes: `fsdgimg sign --gpg-key` (and `publish --gpg-key`)
of an index signs every platform's manifest, then the index, into the lookaside storage (a static
tree's own sigstore/, or --lookaside DIR for a registry). Real skopeo (`copy --all`, and one platform
with --override-arch) and podman (`pull --platform linux/arm64`, Debian sid's) under a `signedBy`
policy with the registries.d `fsdgimg web-config` prints accept it, from a tree served by nginx and
from the Distribution registry with its lookaside served by nginx; they refuse an index signed
alone (--no-recursive) when pulling one platform, a wrong key, an unsigned index, and an index
whose arm64 child is other bits carrying the signed child's signatures."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fixtures.multiplatform import make_index_layout
from fixtures.openpgp import gpg_key
from publish.conftest import public_tree
from servers import Nginx, Registry, free_port

from .conftest import run_cli
from .sid import podman_pull
from .test_index_sign import _children

KEY = "release@example.org"


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def pgp(tmp_path_factory):
    """Index A (to sign) and B (other bits), each of linux/amd64 and linux/arm64; T, A's index with
    B's arm64 image; the release key and another key (homes and exported keyrings)."""
    work = public_tree("lookaside-index")
    make_index_layout(work / "a", work / "rootfs-a")
    make_index_layout(work / "b", work / "rootfs-b", marker=" other")
    _ok(run_cli("index", f"oci:{work / 'a'}:amd64", f"oci:{work / 'b'}:arm64", "--to", f"oci:{work / 't'}:multi"))
    keyring = gpg_key(work / "release", f"Release Key <{KEY}>")
    wrong = gpg_key(work / "other", "Other Key <other@example.org>")
    yield {"work": work, "keyring": keyring, "wrong": wrong, "home": work / "release"}
    shutil.rmtree(work, ignore_errors=True)


def _client(work: Path, host: str, keyring: Path, lookaside: str | None = None) -> tuple[Path, Path]:
    """policy.json (signedBy the keyring) and registries.d, as `fsdgimg web-config` prints them."""
    policy = work / f"policy-{host.replace(':', '-')}-{keyring.stem}.json"
    policy.write_text(_ok(run_cli("web-config", "policy", "--registry", host, "--gpg-key", keyring)).stdout)
    regd = work / f"registries.d-{host.replace(':', '-')}"
    regd.mkdir(exist_ok=True)
    extra = ["--lookaside", lookaside] if lookaside else []
    (regd / "fsdgimg.yaml").write_text(_ok(run_cli("web-config", "registries.d", "--registry", host,
                                                   *extra)).stdout)
    return policy, regd


def _skopeo(ref: str, dest: Path, policy: Path, regd: Path, how: str) -> subprocess.CompletedProcess:
    """skopeo `copy --all` (how="all") or of one platform (how=ARCH) under a policy."""
    arch = [] if how == "all" else ["--override-arch", how]
    return subprocess.run(["skopeo", "--policy", str(policy), "--registries.d", str(regd), *arch, "copy",
                           *(["--all"] if how == "all" else []), "--remove-signatures", "--src-tls-verify=false",
                           f"docker://{ref}", f"oci:{dest}"], capture_output=True, text=True, timeout=300)


def _refused(proc, why: str) -> None:
    """Refused, for the reason the clients give: no signature at all ("no signature exists"), only
    signatures of another digest ("does not match"), none by a key of the keyring ("rejected")."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert why in proc.stderr, proc.stderr


def _accepted_and_refused(work: Path, tmp: Path, host: str, lookaside: str | None, *, signed: str,
                          arm64: str, refused: list[tuple[str, str]]) -> None:
    """`signed` passes skopeo (all, arm64) and podman (linux/arm64); a wrong key is refused by each;
    each of `refused` (ref, why) is refused by each."""
    policy, regd = _client(work, host, work / "release.gpg", lookaside)
    wrong, _ = _client(work, host, work / "other.gpg", lookaside)
    _ok(_skopeo(signed, tmp / "all", policy, regd, "all"))
    assert len(json.loads((tmp / "all" / "index.json").read_text())["manifests"]) == 1
    _ok(_skopeo(signed, tmp / "arm64", policy, regd, "arm64"))
    [desc] = json.loads((tmp / "arm64" / "index.json").read_text())["manifests"]
    assert desc["digest"] == arm64
    _ok(podman_pull(signed, tmp / "podman", policy, regd, "linux/arm64"))
    for n, (ref, pol, why) in enumerate([(signed, wrong, "rejected")] + [(r, policy, w) for r, w in refused]):
        _refused_by_each(ref, tmp / f"refused-{n}", pol, regd, why)


def _refused_by_each(ref: str, tmp: Path, policy: Path, regd: Path, why: str) -> None:
    tmp.mkdir()
    _refused(_skopeo(ref, tmp / "all", policy, regd, "all"), why)
    _refused(_skopeo(ref, tmp / "arm64", policy, regd, "arm64"), why)
    _refused(podman_pull(ref, tmp / "podman", policy, regd, "linux/arm64"), why)


def _forge(sigstore: Path, name: str, pairs: list[tuple[str, str]]) -> None:
    """What a hostile mirror does: the signatures of digest A copied beside digest B."""
    for signed, other in pairs:
        src, dst = sigstore / f"{name}@sha256={signed[7:]}", sigstore / f"{name}@sha256={other[7:]}"
        dst.mkdir(mode=0o755)
        for p in src.iterdir():
            shutil.copy(p, dst / p.name)
            (dst / p.name).chmod(0o644)


@pytest.mark.timeout(900)
def test_index_in_a_static_tree_signed_per_platform_checked_by_skopeo_and_podman(pgp, tmp_path):
    work, tree = pgp["work"], pgp["work"] / "tree"
    children, others = _children(work / "a"), _children(work / "b")
    env = {"GNUPGHOME": str(pgp["home"])}
    _ok(run_cli("publish", f"oci:{work / 'a'}:multi", "--to", f"static:{tree}", "--name", "multi:1"))
    _ok(run_cli("publish", f"oci:{work / 'b'}:multi", "--to", f"static:{tree}", "--name", "multi:unsigned"))
    _ok(run_cli("publish", f"oci:{work / 't'}:multi", "--to", f"static:{tree}", "--name", "multi:tampered"))
    port = free_port()
    host = f"127.0.0.1:{port}"
    site = _ok(run_cli("web-config", "nginx", "--root", tree, "--listen", host)).stdout
    with Nginx(tmp_path / "nginx", site, port):
        # The index signed alone: a client pulling one platform finds no signature of its manifest.
        only = json.loads(_ok(run_cli("sign", f"static:{tree}/multi:1", "--gpg-key", KEY, "--identity",
                                      f"{host}/multi", "--no-recursive", "--json", env=env)).stdout)
        assert "children" not in only and only["identity"] == f"{host}/multi:1"
        policy, regd = _client(work, host, pgp["keyring"])
        _refused(_skopeo(f"{host}/multi:1", tmp_path / "index-only", policy, regd, "arm64"), "no signature exists")
        _refused(podman_pull(f"{host}/multi:1", tmp_path / "podman-index-only", policy, regd, "linux/arm64"),
                 "no signature exists")
        # publish --gpg-key of the index: every platform's manifest, then the index.
        out = json.loads(_ok(run_cli("publish", f"oci:{work / 'a'}:multi", "--to", f"static:{tree}", "--name",
                                     "multi:1", "--gpg-key", KEY, "--sign-identity", f"{host}/multi", "--json",
                                     env=env)).stdout)["openpgp_signature"]
        assert {c["platform"]: c["digest"] for c in out["children"]} == children
        sigstore = tree / "sigstore"
        for c in out["children"]:
            assert Path(c["signature"]) == sigstore / f"multi@sha256={c['digest'][7:]}" / "signature-1"
        assert Path(out["signature"]).name == "signature-2"        # after the --no-recursive one
        _accepted_and_refused(work, tmp_path, host, None, signed=f"{host}/multi:1", arm64=children["linux/arm64"],
                              refused=[(f"{host}/multi:unsigned", "no signature exists")])
        # The mirror serves T under a tag, with A's signatures beside T's index and B's arm64 image.
        tag = tree / "v2/multi/_tags/tampered"
        tampered, t_digest = json.loads(tag.read_text()), tag.resolve().name.split(".")[0]
        assert [m["digest"] for m in tampered["manifests"]] == [children["linux/amd64"], others["linux/arm64"]]
        _forge(sigstore, "multi", [(out["digest"], t_digest), (children["linux/arm64"], others["linux/arm64"])])
        _refused_by_each(f"{host}/multi:tampered", tmp_path / "tampered", policy, regd, "does not match")


@pytest.mark.timeout(900)
def test_index_on_a_registry_signed_into_a_lookaside_directory(pgp, tmp_path):
    work = pgp["work"]
    children = _children(work / "a")
    lookaside = work / "lookaside"
    port = free_port()
    server = f"server {{\n  listen 127.0.0.1:{port};\n  root {lookaside};\n  location = /v2/ {{ return 200; }}\n}}\n"
    with Registry(tmp_path / "registry") as reg, Nginx(tmp_path / "nginx", server, port):
        ref = f"docker://{reg.host}/multi"
        _ok(run_cli("publish", f"oci:{work / 'a'}:multi", "--to", f"{ref}:1"))
        _ok(run_cli("publish", f"oci:{work / 'b'}:multi", "--to", f"{ref}:unsigned"))
        proc = _ok(run_cli("sign", f"{ref}:1", "--gpg-key", KEY, "--gnupghome", pgp["home"], "--lookaside",
                           lookaside))
        assert f"linux/arm64: {children['linux/arm64']}" in proc.stdout and "the 2 manifests it lists too" in proc.stdout
        for digest in children.values():
            assert (lookaside / f"multi@sha256={digest[7:]}" / "signature-1").is_file()
        lookaside.chmod(0o755)
        for d in lookaside.rglob("*"):
            d.chmod(0o755 if d.is_dir() else 0o644)
        _accepted_and_refused(work, tmp_path, reg.host, f"http://127.0.0.1:{port}", signed=f"{reg.host}/multi:1",
                              arm64=children["linux/arm64"], refused=[(f"{reg.host}/multi:unsigned",
                                                                        "no signature exists")])


def test_build_of_several_architectures_signs_every_platform_into_the_tree(pgp, tmp_path, monkeypatch):
    """What `build --publish static:DIR --gpg-key` of several architectures does once the index is
    published (fsdgimg.build.multiplatform; the builds are stood in for by the test index)."""
    from fsdgimg.build.multiplatform import _attach_and_sign
    from fsdgimg.build.pipeline import BuildOptions, BuildOutcome
    work, tree = pgp["work"], pgp["work"] / "built"
    children = _children(work / "a")
    _ok(run_cli("publish", f"oci:{work / 'a'}:multi", "--to", f"static:{tree}", "--name", "multi:1"))
    monkeypatch.setenv("GNUPGHOME", str(pgp["home"]))
    per = {plat: BuildOutcome("multi", work / "a", "multi", d, [d], None) for plat, d in children.items()}
    opts = BuildOptions(out=tmp_path / "out", sign_gpg_key=KEY, sign_identity="registry.example.org/multi")
    out = _attach_and_sign(f"static:{tree}/multi:1", per, {}, opts)["openpgp_signature"]
    assert {c["platform"]: c["digest"] for c in out["children"]} == children
    for digest in [out["digest"], *children.values()]:
        assert (tree / "sigstore" / f"multi@sha256={digest[7:]}" / "signature-1").is_file()
    assert out["identity"] == "registry.example.org/multi:1"
    assert f'OpenPGP key <code class="key">{out["fingerprint"]}</code>' in (tree / "index.html").read_text()
