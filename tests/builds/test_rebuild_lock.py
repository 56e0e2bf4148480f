"""Rebuilding from the lock (issue: challengeable by anyone, for years).

A Debian test image is built from a local test mirror (real .debs, indexed by dpkg-scanpackages,
served by nginx); then the mirror moves on — a newer base-files replaces the old one, which is gone
from the pool, as on archives without snapshots. A rebuild from today's catalog differs; a rebuild
from the image's signed lock reproduces its digest, taking the old package from the inputs
published beside the image, with the mirror stopped. Independent rebuilders then attest, and
verify counts distinct keys against a threshold.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from fixtures.openpgp import gpg_key
from servers import Nginx, free_port

from .conftest import EPOCH, TINY, assert_one_line_error, debian_mirror, run_cli

PASSWORD = "rebuild-pw"
ENV = {"SOURCE_DATE_EPOCH": EPOCH, "COSIGN_PASSWORD": PASSWORD}


def _index(mirror: Path, gnupg: Path) -> None:
    """Packages, Sources and InRelease (signed by the test archive's key) of the test mirror, as a
    small archive publishes them."""
    binary = mirror / "dists" / "bookworm" / "main" / "binary-amd64"
    binary.mkdir(parents=True, exist_ok=True)
    packages = subprocess.run(["dpkg-scanpackages", "-m", "pool/main"], cwd=mirror, capture_output=True,
                              check=True).stdout
    (binary / "Packages").write_bytes(packages)
    release = ("Suite: bookworm\nCodename: bookworm\nArchitectures: amd64\nComponents: main\nSHA256:\n"
               f" {hashlib.sha256(packages).hexdigest()} {len(packages)} main/binary-amd64/Packages\n")
    if (mirror / "pool" / "src").is_dir():       # deb-src: the source packages beside
        source = mirror / "dists" / "bookworm" / "main" / "source"
        source.mkdir(parents=True, exist_ok=True)
        sources = subprocess.run(["dpkg-scansources", "pool/src"], cwd=mirror, capture_output=True,
                                 check=True).stdout
        (source / "Sources").write_bytes(sources)
        release += f" {hashlib.sha256(sources).hexdigest()} {len(sources)} main/source/Sources\n"
    (mirror / "dists" / "bookworm" / "Release").write_text(release)
    (mirror / "dists" / "bookworm" / "InRelease").unlink(missing_ok=True)
    subprocess.run(["gpg", "--batch", "--clearsign", "-o", str(mirror / "dists" / "bookworm" / "InRelease"),
                    str(mirror / "dists" / "bookworm" / "Release")], env={**os.environ, "GNUPGHOME": str(gnupg)},
                   check=True, capture_output=True)
    for d in [mirror, *mirror.rglob("*")]:
        d.chmod(0o755 if d.is_dir() else 0o644)    # gpg and dpkg-deb write 0600; nginx's workers are not root


def _bump(deb: Path, out_dir: Path, work: Path) -> Path:
    """A newer version of a package with one file changed: what an archive's point release does."""
    tree = work / "bump"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True)
    control = tree / "DEBIAN" / "control"
    text = control.read_text()
    version = next(l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("Version:"))
    control.write_text(text.replace(f"Version: {version}", f"Version: {version}+test1"))
    (tree / "etc" / "issue").write_text("Debian GNU/Linux 12, updated \\n \\l\n\n")
    new = out_dir / deb.name.replace(version.split(":")[-1], version.split(":")[-1] + "+test1")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(new)], check=True, capture_output=True)
    shutil.rmtree(tree)
    return new


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The test mirror (served), a catalog entry built from it, signed and published with its inputs."""
    work = tmp_path_factory.mktemp("rebuild-lock")
    # Real packages: the ones an extract build of TINY downloads from Debian's archive.
    seed_catalog = work / "seed.toml"
    seed_catalog.write_text(_entry("seed", debian_mirror()))
    seed = run_cli("build", "seed", "--catalog", seed_catalog, "--tools", "host", "--out", work / "seed",
                   env={"SOURCE_DATE_EPOCH": EPOCH})
    assert seed.returncode == 0, seed.stderr
    lock = json.loads((work / "seed" / "fsdgimg" / "lock.json").read_text())
    mirror = _mirror_dir()
    pool = mirror / "pool" / "main"
    pool.mkdir(parents=True)
    for p in lock["debian"]["packages"]:
        got = subprocess.run(["apt-get", "download", f"{p['package']}:{p['architecture']}={p['version']}"],
                             cwd=pool, capture_output=True, text=True)
        assert got.returncode == 0, got.stderr
    gnupg = work / "archive-gnupg"
    keyring = _readable(gpg_key(gnupg, "Test Archive <archive@example.org>"), mirror)
    _index(mirror, gnupg)
    nginx, url = _serve(mirror, work)
    catalog = work / "catalog.toml"
    catalog.write_text(_entry("debian-locked", url, keyring))
    keys = {}
    for name in ("release", "r1", "r2", "r3"):
        assert run_cli("sign", "--generate-key", work / name, env=ENV).returncode == 0
        keys[name] = work / name
    tree = work / "public"
    built = run_cli("build", "debian-locked", "--catalog", catalog, "--tools", "host", "--out", work / "layout",
                    "--publish", f"static:{tree}", "--publish-inputs", "--sign-key", keys["release"].with_suffix(".key"),
                    "--sign-identity", "127.0.0.1:5000/debian-locked", "--json", env=ENV)
    assert built.returncode == 0, built.stderr
    w = {"work": work, "mirror": mirror, "gnupg": gnupg, "url": url, "nginx": nginx, "catalog": catalog, "keys": keys,
         "tree": tree, "ref": f"static:{tree}/debian-locked", "outcome": json.loads(built.stdout)}
    yield w
    nginx.stop()
    shutil.rmtree(mirror, ignore_errors=True)
    keyring.unlink(missing_ok=True)


def _mirror_dir() -> Path:
    """A directory nginx's workers (not root) can read: outside pytest's base, which pytest keeps
    at mode 0700 (and resets when another session starts)."""
    d = Path(tempfile.mkdtemp(prefix="fsdgimg-test-mirror-"))
    d.chmod(0o755)
    return d


def _readable(keyring: Path, mirror: Path) -> Path:
    """The archive's keyring where apt's unprivileged helper can read it (beside the mirror's files,
    not served: outside the root nginx serves)."""
    out = mirror.with_name(mirror.name + ".keyring.gpg")
    shutil.copyfile(keyring, out)
    out.chmod(0o644)
    return out


def _serve(mirror: Path, work: Path) -> tuple[Nginx, str]:
    port = free_port()
    nginx = Nginx(work / "nginx", f"server {{ listen 127.0.0.1:{port}; root {mirror}; }}", port)
    nginx.start()
    return nginx, f"http://127.0.0.1:{port}"


def _entry(name: str, mirror: str, keyring: Path | None = None, include: list[str] = TINY) -> str:
    return (f'[images.{name}]\ndistribution = "debian"\nbuilder = "debootstrap"\nmirror = "{mirror}"\n'
            + (f'keyring = "{keyring}"\n' if keyring else "") +
            'suite = "bookworm"\nvariant = "extract"\narchitecture = "amd64"\ncmd = ["/bin/sh"]\n'
            + ("include = [" + ", ".join(f'"{p}"' for p in include) + "]\n" if include else ""))


def _pub(w, name: str) -> Path:
    return w["keys"][name].with_suffix(".pub")


def test_the_lock_records_every_input_and_is_byte_identical_for_the_same_build(world, tmp_path):
    w = world
    lock_path = w["work"] / "layout" / "fsdgimg" / "lock.json"
    lock = json.loads(lock_path.read_text())
    deb = lock["debian"]
    assert lock["lockType"] == "https://fsdgimg.org/lock/v1" and lock["sourceDateEpoch"] == int(EPOCH)
    assert deb["mirror"] == w["url"] and deb["suite"] == "bookworm" and deb["release"]["file"] == "InRelease"
    assert deb["release"]["sha256"] == hashlib.sha256((w["mirror"] / "dists/bookworm/InRelease").read_bytes()).hexdigest()
    assert deb["sources"] == {"etc/apt/sources.list": f"deb {w['url']} bookworm main\n"}
    names = {p["package"] for p in deb["packages"]}
    assert set(TINY) <= names
    for p in deb["packages"]:
        f = w["mirror"] / p["filename"]
        assert hashlib.sha256(f.read_bytes()).hexdigest() == p["sha256"] and f.stat().st_size == p["size"]
    assert lock["tool"]["name"] == "mmdebstrap" and "{out}" in lock["tool"]["argv"]
    assert not any(str(w["work"]) in a for a in lock["tool"]["argv"])     # no host paths
    # The same build again: the same bytes.
    again = run_cli("build", "debian-locked", "--catalog", w["catalog"], "--tools", "host", "--out", tmp_path / "again",
                    env=ENV)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "fsdgimg" / "lock.json").read_bytes() == lock_path.read_bytes()
    # The signed provenance carries it whole.
    statements = sorted((w["work"] / "layout" / "fsdgimg" / "attestations").glob("*.json"))
    provenance = [json.loads(s.read_text()) for s in statements]
    [prov] = [p for p in provenance if p["predicateType"] == "https://slsa.dev/provenance/v1"]
    assert prov["predicate"]["buildDefinition"]["externalParameters"]["lock"] == lock
    deps = prov["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert {d["digest"]["sha256"] for d in deps if d["name"] in names} == {p["sha256"] for p in deb["packages"]}


@pytest.fixture(scope="module")
def moved_on(world):
    """The mirror's point release: a newer base-files, the old one gone from the pool."""
    w = world
    [old] = (w["mirror"] / "pool" / "main").glob("base-files_*.deb")
    _bump(old, old.parent, w["work"])
    old.unlink()
    _index(w["mirror"], w["gnupg"])
    return w


def test_after_the_mirror_moves_on_the_lock_reproduces_and_the_catalog_does_not(moved_on):
    w = moved_on
    published = w["outcome"]["builds"][0]
    proc = run_cli("rebuild", w["ref"], "--key", _pub(w, "release"), "--from-catalog", "--catalog", w["catalog"],
                   "--tools", "host")
    assert proc.returncode == 1, proc.stderr
    assert "DIFFERS" in proc.stdout and published in proc.stdout
    assert proc.stderr.strip() == "fsdgimg rebuild: the rebuild does not reproduce the published image"
    # From the lock: the old base-files is no longer on the mirror; the published inputs have it.
    proc = run_cli("rebuild", w["ref"], "--key", _pub(w, "release"), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["reproduced"] and out["rebuilt"] == published and out["from"] == "lock"
    assert "signed by" in out["lock"]


def test_with_the_archive_unreachable_verify_rebuild_reproduces_from_the_published_inputs(world):
    w = world
    w["nginx"].stop()
    try:
        proc = run_cli("verify", w["ref"], "--key", _pub(w, "release"), "--no-sbom", "--rebuild", "--json")
        assert proc.returncode == 0, proc.stderr
        v = json.loads(proc.stdout)
        assert v["rebuild"]["reproduced"] and v["rebuild"]["rebuilt"] == w["outcome"]["builds"][0]
        # The inputs artifact: the lock as its config, one layer per .deb under the lock's SHA256.
        lock = json.loads((w["work"] / "layout" / "fsdgimg" / "lock.json").read_text())
        digest = w["outcome"]["inputs"]["inputs"]
        blobs = w["tree"] / "v2" / "debian-locked" / "_blobs"
        manifest = json.loads(next((w["tree"] / "v2" / "debian-locked" / "_manifests").glob(f"{digest}.*")).read_text())
        assert manifest["artifactType"] == "application/vnd.fsdgimg.inputs.v1+json"
        assert manifest["subject"]["digest"] == w["outcome"]["digest"]
        assert {l["digest"] for l in manifest["layers"]} == {f"sha256:{p['sha256']}" for p in lock["debian"]["packages"]}
        assert json.loads((blobs / manifest["config"]["digest"]).read_text()) == lock
        # dpkg reads the published .debs as the packages they are.
        layer = manifest["layers"][0]
        info = subprocess.run(["dpkg-deb", "-f", str(blobs / layer["digest"]), "Package"], capture_output=True,
                              text=True, check=True).stdout.strip()
        assert layer["annotations"]["org.opencontainers.image.title"].startswith(info + "_")
        # Without the inputs and the mirror, the rebuild says which package it could not get.
        bare = w["work"] / "bare"
        if bare.exists():
            shutil.rmtree(bare)
        assert run_cli("publish", f"oci:{w['work'] / 'layout'}:latest", "--to", f"static:{bare}",
                       "--name", "debian-locked").returncode == 0
        proc = run_cli("rebuild", f"static:{bare}/debian-locked", "--lock", w["work"] / "layout" / "fsdgimg" / "lock.json")
        assert_one_line_error(proc, 1, "unreachable", "--inputs")
    finally:
        w["nginx"].start()


def test_independent_rebuilders_count_distinct_keys_against_a_threshold(moved_on):
    w = moved_on
    own = {n: w["work"] / f"{n}-tree" for n in ("r1", "r2", "r3")}
    identity = ("--identity", "127.0.0.1:5000/debian-locked")
    for name, extra in (("r1", []), ("r1", ["--publish-to", f"static:{own['r1']}"]),
                        ("r2", ["--publish-to", f"static:{own['r2']}"])):
        proc = run_cli("rebuild", w["ref"], "--key", _pub(w, "release"), "--attest-key",
                       w["keys"][name].with_suffix(".key"), *identity, *extra, "--json", env=ENV)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["attestation"]["predicate_type"] == "https://slsa.dev/verification_summary/v1"
    # r3 rebuilt from today's catalog (the mirror has moved): a verdict of failure.
    proc = run_cli("rebuild", w["ref"], "--key", _pub(w, "release"), "--from-catalog", "--catalog", w["catalog"],
                   "--tools", "host", "--attest-key", w["keys"]["r3"].with_suffix(".key"), *identity,
                   "--publish-to", f"static:{own['r3']}", env=ENV)
    assert proc.returncode == 1 and "attested by key" in proc.stdout, proc.stdout + proc.stderr
    rebuilders = [a for n in ("r1", "r2", "r3") for a in ("--rebuilder-key", _pub(w, n))]
    # The tree's page: r1's verdict is in the image's own tree (r2's and r3's in their own).
    assert "rebuilders: reproduced by 1 of 1" in (w["tree"] / "index.html").read_text()

    def verify(*places, threshold=2):
        more = [a for p in places for a in ("--rebuilders-from", f"static:{own[p]}")]
        return run_cli("verify", w["ref"], "--no-sbom", *rebuilders, "--threshold", str(threshold), *more, "--json")

    # r1 twice (in the image's tree and its own) counts once: 1 of 3 fails a threshold of 2.
    once = verify("r1", "r3")
    assert once.returncode == 1, once.stderr
    r = json.loads(once.stdout)["rebuilders"]
    assert len(r["reproduced_by"]) == 1 and r["keys"] == 3 and r["threshold"] == 2
    assert [f["result"] for f in r["failed"]] == ["FAILED"]          # r3's verdict is shown, not counted
    assert "reproduced by 1 of 3 rebuilder keys, 2 required" in once.stderr
    # With r2's tree: 2 of 3 passes.
    two = verify("r1", "r2", "r3")
    assert two.returncode == 0, two.stderr
    assert len(json.loads(two.stdout)["rebuilders"]["reproduced_by"]) == 2
    assert verify("r1", "r2", "r3", threshold=3).returncode == 1
    text = run_cli("verify", w["ref"], "--no-sbom", *rebuilders, "--threshold", "2", "--rebuilders-from",
                   f"static:{own['r2']}")
    assert text.returncode == 0 and "rebuilders: reproduced by 2 of 3 keys (threshold 2)" in text.stdout
    bad = run_cli("verify", w["ref"], "--no-sbom", *rebuilders, "--threshold", "4")
    assert_one_line_error(bad, 2, "--threshold 4")
    # verify reads a rebuilder's tree, never makes one.
    missing = w["work"] / "no-such-tree"
    proc = run_cli("verify", w["ref"], "--no-sbom", *rebuilders, "--rebuilders-from", f"static:{missing}")
    assert proc.returncode == 1 and "no static tree there" in proc.stderr and not missing.exists()


def test_a_rebuild_attestation_for_another_digest_is_not_counted(world, tmp_path):
    w = world
    from fsdgimg.oci.digest import Digest
    from fsdgimg.signature import artifacts, cosign, dsse, intoto
    from fsdgimg.signature import keys as keymod
    from fsdgimg.trust import attach
    from fsdgimg.trust.remote import own_place
    os.environ["COSIGN_PASSWORD"] = PASSWORD
    key = keymod.load_private_key(w["keys"]["r2"].with_suffix(".key"))
    place = own_place(f"static:{tmp_path / 'forged'}", "debian-locked", create=True)
    image = Digest.parse(w["outcome"]["digest"])
    # A genuine reproducing verdict — about another image — filed under this image's digest.
    other = Digest.of(b"another image")
    built = w["outcome"]["builds"][0]
    predicate = {"policy": {"uri": "https://fsdgimg.org/policy/rebuilt-from-lock/v1"}, "verificationResult": "PASSED",
                 "reproducibility": {"rebuilt": built, "published": built}}
    vsa = "https://slsa.dev/verification_summary/v1"
    body = intoto.statement("127.0.0.1:5000/debian-locked", other, vsa, predicate)
    envelope = dsse.envelope(body, [keymod.sign(key, dsse.pae(dsse.IN_TOTO, body))])
    layers = [cosign.attestation_layer(envelope, vsa)]
    config = cosign.config_blob(layers)
    manifest = artifacts.manifest_bytes(config, artifacts.OCI_CONFIG, layers)
    attach.write(place, cosign.attestation_tag(image), manifest, [config, envelope])
    proc = run_cli("verify", w["ref"], "--no-sbom", "--rebuilder-key", _pub(w, "r2"), "--rebuilders-from",
                   f"static:{tmp_path / 'forged'}", "--json")
    assert proc.returncode == 1, proc.stderr
    assert (json.loads(proc.stdout)["rebuilders"] or {}).get("reproduced_by") == [], proc.stderr
    assert any(f"not {image}" in line for line in proc.stderr.splitlines() if "note:" in line), proc.stderr


def _lock(w) -> dict:
    return json.loads((w["work"] / "layout" / "fsdgimg" / "lock.json").read_text())


def test_hostile_locks_build_nothing(world, tmp_path):
    w = world
    lock = _lock(w)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for p in lock["debian"]["packages"]:
        src = w["mirror"] / p["filename"]
        if not src.exists():      # base-files moved on: take the published copy
            src = w["tree"] / "v2" / "debian-locked" / "_blobs" / f"sha256:{p['sha256']}"
        shutil.copyfile(src, inputs / p["filename"].rsplit("/", 1)[1])
    # A .deb whose bytes differ from the lock's hash.
    victim = lock["debian"]["packages"][0]["filename"].rsplit("/", 1)[1]
    (inputs / victim).write_bytes((inputs / victim).read_bytes() + b"tampered")
    f = tmp_path / "lock.json"
    f.write_text(json.dumps(lock))
    proc = run_cli("rebuild", f, "--inputs", inputs)
    assert_one_line_error(proc, 1, victim, "does not match the lock")
    # A pool path that leaves the repository.
    bad = json.loads(json.dumps(lock))
    bad["debian"]["packages"][0]["filename"] = "../../../etc/evil.deb"
    f.write_text(json.dumps(bad))
    proc = run_cli("rebuild", f, "--inputs", inputs)
    assert_one_line_error(proc, 1, "pool path", "not a relative path inside the archive")
    assert not (tmp_path.parent / "etc").exists()
    # Not a lock at all, and one with too many packages.
    f.write_text(json.dumps({"lockType": "https://example.org/other"}))
    assert_one_line_error(run_cli("rebuild", f), 1, "not an fsdgimg lock")
    huge = json.loads(json.dumps(lock))
    huge["debian"]["packages"] = [dict(lock["debian"]["packages"][0], filename=f"pool/x{i}.deb")
                                  for i in range(20001)]
    f.write_text(json.dumps(huge))
    assert_one_line_error(run_cli("rebuild", f), 1, "20001 packages (at most 20000)")


def test_an_unsigned_lock_is_not_used_and_an_inputs_artifact_is_bounded(world, tmp_path):
    w = world
    proc = run_cli("rebuild", w["ref"])
    assert_one_line_error(proc, 2, "counts only when its provenance is signed")
    proc = run_cli("rebuild", w["ref"], "--key", _pub(w, "r1"))
    assert_one_line_error(proc, 1, "no signed provenance with a lock")
    from fsdgimg.build.inputs import read_inputs
    from fsdgimg.errors import InputError
    layer = {"mediaType": "application/vnd.debian.binary-package", "digest": "sha256:" + "0" * 64, "size": 1}
    hostile = json.dumps({"schemaVersion": 2, "artifactType": "application/vnd.fsdgimg.inputs.v1+json",
                          "config": {"mediaType": "application/vnd.fsdgimg.lock.v1+json"},
                          "layers": [layer] * 100000}).encode()
    with pytest.raises(InputError, match="lists 100000 layers|bytes exceeds"):
        read_inputs(hostile, "inputs")
    small = json.dumps({"schemaVersion": 2, "artifactType": "application/vnd.fsdgimg.inputs.v1+json",
                        "layers": [{}] * 100000}).encode()       # under the size bound: the count is refused
    with pytest.raises(InputError, match="lists 100000 layers"):
        read_inputs(small, "inputs")


@pytest.fixture(scope="module")
def source_archive(tmp_path_factory):
    """A test archive of our own whose one Essential package has a real source package beside it
    (dpkg-source -b; the machine's archive mirror lacks some of Debian's source files)."""
    work = tmp_path_factory.mktemp("source-archive")
    tree = work / "src" / "fsdg-hello-1.0"
    (tree / "debian" / "source").mkdir(parents=True)
    (tree / "hello").write_text("#!/bin/sh\necho hello\n")
    (tree / "debian" / "source" / "format").write_text("3.0 (native)\n")
    (tree / "debian" / "control").write_text("Source: fsdg-hello\nMaintainer: Test <t@example.org>\n"
                                             "Standards-Version: 4.6.2\n\nPackage: fsdg-hello\nArchitecture: all\n"
                                             "Description: test\n test\n")
    (tree / "debian" / "changelog").write_text("fsdg-hello (1.0) bookworm; urgency=low\n\n  * Test.\n\n"
                                               " -- Test <t@example.org>  Tue, 14 Nov 2023 22:13:20 +0000\n")
    (tree / "debian" / "rules").write_text("#!/usr/bin/make -f\n%:\n\tdh $@\n")
    mirror = _mirror_dir()
    (mirror / "pool" / "src").mkdir(parents=True)
    (mirror / "pool" / "main").mkdir(parents=True)
    subprocess.run(["dpkg-source", "-b", tree.name], cwd=tree.parent, check=True, capture_output=True)
    for f in tree.parent.glob("fsdg-hello_1.0*"):
        shutil.copyfile(f, mirror / "pool" / "src" / f.name)
    pkg = work / "pkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "bin").mkdir()
    shutil.copyfile(tree / "hello", pkg / "bin" / "hello")
    (pkg / "bin" / "hello").chmod(0o755)
    (pkg / "DEBIAN" / "control").write_text("Package: fsdg-hello\nVersion: 1.0\nArchitecture: all\nEssential: yes\n"
                                            "Priority: required\nMaintainer: Test <t@example.org>\n"
                                            "Description: test\n test\n")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(pkg), str(mirror / "pool" / "main" / "fsdg-hello_1.0_all.deb")],
                   check=True, capture_output=True)
    gnupg = work / "gnupg"
    keyring = _readable(gpg_key(gnupg, "Source Archive <src@example.org>"), mirror)
    _index(mirror, gnupg)
    nginx, url = _serve(mirror, work)
    catalog = work / "catalog.toml"
    catalog.write_text(_entry("hello-src", url, keyring, include=["fsdg-hello"]))
    yield {"work": work, "mirror": mirror, "catalog": catalog}
    nginx.stop()
    shutil.rmtree(mirror, ignore_errors=True)
    keyring.unlink(missing_ok=True)


def test_the_sources_are_published_beside_the_image_and_unpack(source_archive, tmp_path):
    a = source_archive
    tree = tmp_path / "public"
    built = run_cli("build", "hello-src", "--catalog", a["catalog"], "--tools", "host", "--out", tmp_path / "layout",
                    "--publish", f"static:{tree}", "--with-sources", "--json", env=ENV)
    assert built.returncode == 0, built.stderr
    outcome = json.loads(built.stdout)
    sources = outcome["sources"]
    assert sources["via"] == "static-tree" and sources["packages"] == 1 and sources["files"] == 2
    repo = tree / "v2" / "hello-src"
    manifest = json.loads(next((repo / "_manifests").glob(f"{sources['sources']}.*")).read_text())
    assert manifest["artifactType"] == "application/vnd.fsdgimg.sources.v1+json"
    assert manifest["subject"]["digest"] == outcome["digest"]
    [listing] = json.loads((repo / "_blobs" / manifest["config"]["digest"]).read_text())["sources"]
    assert (listing["package"], listing["version"], listing["directory"]) == ("fsdg-hello", "1.0", "pool/src")
    # What oras pull writes: every layer under its title; dpkg-source unpacks the source package.
    from servers import FsdgimgServe
    from trust.sid import sid
    with FsdgimgServe(tmp_path / "serve", tree) as server:
        out = tmp_path / "pulled"
        pulled = sid("oras", "pull", "--plain-http", "-o", out, f"127.0.0.1:{server.port}/hello-src@{sources['sources']}")
        assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert sorted(p.name for p in out.iterdir()) == ["fsdg-hello_1.0.dsc", "fsdg-hello_1.0.tar.xz"]
    unpacked = subprocess.run(["dpkg-source", "--no-check", "-x", "fsdg-hello_1.0.dsc", str(tmp_path / "x")], cwd=out,
                              capture_output=True, text=True)
    assert unpacked.returncode == 0, unpacked.stderr
    assert (tmp_path / "x" / "hello").read_text() == "#!/bin/sh\necho hello\n"
    # Once the archive has moved on (a new release file), the sources of the old state are refused.
    (a["mirror"] / "pool" / "src" / "fsdg-hello_1.0.dsc").touch()
    _index(a["mirror"], a["work"] / "gnupg")
    from fsdgimg.build import archive_http
    from fsdgimg.build import lock as lockmod
    from fsdgimg.build.sources import resolve
    from fsdgimg.errors import InputError
    lock = lockmod.parse((tmp_path / "layout" / "fsdgimg" / "lock.json").read_bytes(), "lock")
    with pytest.raises(InputError, match="differs from the release file the image was built from"):
        resolve(lock, {("fsdg-hello", "1.0"): ["fsdg-hello"]}, archive_http.get)
