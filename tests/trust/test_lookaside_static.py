"""OpenPGP signatures inside a static tree: `fsdgimg sign static:DIR/NAME:TAG --gpg-key` writes them to
the tree's own lookaside storage (DIR/sigstore/NAME@sha256=HEX/signature-N); every web configuration
and `fsdgimg serve` serve them; real skopeo and podman, with the policy.json and registries.d that
`fsdgimg web-config` prints (its default lookaside URL), accept the signed tag and refuse a tampered
manifest carrying the signature, a wrong key and an unsigned tag; gc keeps signatures of manifests
still in the tree and removes the others."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fixtures.guixarchive import make_guix_archive
from fixtures.openpgp import gpg_key
from publish.conftest import public_tree
from servers import Apache, Caddy, FsdgimgServe, Nginx, Podman, free_port, have

from .conftest import run_cli

SERVERS = {"nginx": Nginx, "apache": Apache, "caddy": Caddy}


def _ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def signed_tree(tmp_path_factory):
    """A tree with hello:1 (signed with the release key, once for each server's address), hello:unsigned,
    and hello:tampered (another manifest, beside which a mirror put hello:1's signatures); the ports
    the servers will listen on; the keyrings."""
    work = tmp_path_factory.mktemp("lookaside")
    base = public_tree("lookaside")
    tree = base / "tree"
    for name, content in (("a", b"signed\n"), ("b", b"other\n"), ("c", b"unsigned\n")):
        archive = make_guix_archive(work / f"{name}.tar.gz", files={f"etc/{name}": content}, repository="hello")
        _ok(run_cli("convert", archive, f"oci:{work / name}:1"))
    _ok(run_cli("publish", f"oci:{work / 'a'}:1", "--to", f"static:{tree}", "--name", "hello:1"))
    _ok(run_cli("publish", f"oci:{work / 'c'}:1", "--to", f"static:{tree}", "--name", "hello:unsigned"))
    _ok(run_cli("publish", f"oci:{work / 'b'}:1", "--to", f"static:{tree}", "--name", "hello:tampered"))
    keyring = gpg_key(work / "release", "Release Key <release@example.org>")
    wrong = gpg_key(work / "other", "Other Key <other@example.org>")
    ports = {kind: free_port() for kind in ("nginx", "serve", "apache", "caddy")}
    signatures = []
    for port in ports.values():
        out = json.loads(_ok(run_cli("sign", f"static:{tree}/hello:1", "--gpg-key", "release@example.org",
                                     "--gnupghome", work / "release", "--identity", f"127.0.0.1:{port}/hello",
                                     "--json")).stdout)
        signatures.append(Path(out["signature"]))
    digest = out["digest"]
    assert [p.name for p in signatures] == [f"signature-{n}" for n in range(1, len(ports) + 1)]
    assert {p.parent for p in signatures} == {tree / "sigstore" / f"hello@sha256={digest[7:]}"}
    # A hostile mirror serves another manifest under the tag, with the signatures copied beside it.
    tampered = (tree / "v2/hello/_tags/tampered").resolve().name.split(".")[0]
    forged = tree / "sigstore" / f"hello@sha256={tampered[7:]}"
    forged.mkdir(mode=0o755)
    for p in signatures:
        shutil.copy(p, forged / p.name)
        (forged / p.name).chmod(0o644)
    yield {"tree": tree, "work": work, "ports": ports, "keyring": keyring, "wrong": wrong, "digest": digest,
           "fingerprint": out["fingerprint"], "uid": out["uid"]}
    shutil.rmtree(base, ignore_errors=True)


def _start(kind: str, tree: Path, port: int, workdir: Path):
    if kind == "serve":
        return FsdgimgServe(workdir, tree, port).start()
    if not have({"nginx": "nginx", "apache": "apache2", "caddy": "caddy"}[kind]):
        pytest.fail(f"{kind} is not installed (scripts/setup.sh installs it)")
    site = _ok(run_cli("web-config", kind, "--root", tree, "--listen", f"127.0.0.1:{port}")).stdout
    return SERVERS[kind](workdir, site, port).start()


def _client_config(home: Path, hosts: list[str], keyring: Path) -> Path:
    """~/.config/containers with what `fsdgimg web-config policy|registries.d` print (the default
    lookaside URL): where skopeo and podman find them by themselves."""
    conf = home / ".config" / "containers"
    (conf / "registries.d").mkdir(parents=True)
    registry = [a for h in hosts for a in ("--registry", h)]
    (conf / "policy.json").write_text(_ok(run_cli("web-config", "policy", *registry, "--gpg-key", keyring)).stdout)
    text = _ok(run_cli("web-config", "registries.d", *registry)).stdout
    for h in hosts:
        assert f"lookaside: http://{h}/sigstore" in text, text
    (conf / "registries.d" / "fsdgimg.yaml").write_text(text)
    return conf


def _skopeo(home: Path, ref: str, dest: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(home), TMPDIR=str(home))
    env.pop("REGISTRY_AUTH_FILE", None)
    return subprocess.run(["skopeo", "copy", "--remove-signatures", "--src-tls-verify=false", f"docker://{ref}",
                           f"oci:{dest}"], capture_output=True, text=True, env=env, timeout=300)


# Why each one is refused, as the clients say it: no signature at all; the signatures beside the
# manifest are for another digest; none made by a key of the keyring.
REASONS = {"unsigned": "no signature exists", "tampered": "does not match", "wrong": "rejected"}


def _refused(proc: subprocess.CompletedProcess, why: str) -> bool:
    return proc.returncode != 0 and REASONS[why] in proc.stderr


@pytest.mark.timeout(900)
def test_signed_tag_accepted_others_refused_by_skopeo_and_podman(signed_tree, tmp_path):
    tree, ports = signed_tree["tree"], signed_tree["ports"]
    hosts = {kind: f"127.0.0.1:{port}" for kind, port in ports.items()}
    good = tmp_path / "good"
    wrong = tmp_path / "wrong"
    _client_config(good, list(hosts.values()), signed_tree["keyring"])
    _client_config(wrong, list(hosts.values()), signed_tree["wrong"])
    for kind in ("nginx", "serve", "apache", "caddy"):
        with _start(kind, tree, ports[kind], tmp_path / kind):
            host = hosts[kind]
            ok = _skopeo(good, f"{host}/hello:1", tmp_path / f"{kind}-signed")
            assert ok.returncode == 0, (kind, ok.stderr)
            for home, tag in ((good, "unsigned"), (good, "tampered"), (wrong, "1")):
                refused = _skopeo(home, f"{host}/hello:{tag}", tmp_path / f"{kind}-{home.name}-{tag}")
                assert _refused(refused, "wrong" if home is wrong else tag), (kind, tag, refused.stderr)
            if kind != "nginx":
                continue
            short = Path(tempfile.mkdtemp(prefix="fsdglk-"))   # podman wants a short run root
            podman = Podman(short / "podman")
            try:
                _pull_with_podman(podman, host, good, wrong)
            finally:
                subprocess.run(podman.base + ["rmi", "-a", "-f"], capture_output=True, env=podman.env())
                shutil.rmtree(short, ignore_errors=True)


def _pull_with_podman(podman: Podman, host: str, good: Path, wrong: Path) -> None:
    for home, tag, accepted in ((good, "1", True), (good, "unsigned", False), (good, "tampered", False),
                                (wrong, "1", False)):
        env = dict(podman.env(), HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
        proc = subprocess.run(podman.base + ["pull", "-q", "--tls-verify=false", f"{host}/hello:{tag}"],
                              capture_output=True, text=True, env=env, timeout=300)
        if accepted:
            assert proc.returncode == 0, proc.stderr
        else:
            assert _refused(proc, "wrong" if home is wrong else tag), (home.name, tag, proc.stderr)


def _get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


@pytest.mark.parametrize("kind", ["nginx", "serve", "apache", "caddy"])
def test_every_server_serves_signatures_immutable_and_their_end_uncached(kind, signed_tree, tmp_path):
    from fsdgimg.transports.static import responses
    tree, digest = signed_tree["tree"], signed_tree["digest"]
    port = free_port()
    path = f"/sigstore/hello@sha256={digest[7:]}"
    with _start(kind, tree, port, tmp_path / kind):
        status, headers, body = _get(f"http://127.0.0.1:{port}{path}/signature-1")
        assert status == 200 and body == (tree / path[1:] / "signature-1").read_bytes()
        assert headers["content-type"].split(";")[0] == responses.SIGNATURE_MEDIA_TYPE
        assert headers["cache-control"] == responses.SIGNATURE_CACHE
        # The 404 that ends a client's walk must not be cached: a signature added later is seen at once.
        for missing in (f"{path}/signature-99", f"/sigstore/hello@sha256={'0' * 64}/signature-1"):
            status, headers, _ = _get(f"http://127.0.0.1:{port}{missing}")
            assert status == 404 and headers.get("cache-control") == responses.ERROR, (missing, headers)
        # Nothing else of sigstore/ is served, nor the recorded keys under _web/.
        for other in ("/sigstore/", f"{path}/", f"{path}/.tmp-x", "/_web/signers/"):
            assert _get(f"http://127.0.0.1:{port}{other}")[0] == 404, other


def test_gc_keeps_signatures_of_manifests_in_the_tree_and_removes_orphans(signed_tree, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(signed_tree["tree"], tree, symlinks=True)
    signed = tree / "sigstore" / f"hello@sha256={signed_tree['digest'][7:]}"
    (tree / "sigstore" / ".tmp-killed").write_bytes(b"half")
    report = json.loads(_ok(run_cli("gc", f"static:{tree}", "--grace", "0", "--json")).stdout)
    assert report["signatures_removed"] == 0 and sorted(p.name for p in signed.iterdir())[0] == "signature-1"
    assert not (tree / "sigstore" / ".tmp-killed").exists()
    # hello:1 moves to the other image: its old manifest goes, and its signatures with it.
    _ok(run_cli("publish", f"oci:{signed_tree['work'] / 'b'}:1", "--to", f"static:{tree}", "--name", "hello:1"))
    report = json.loads(_ok(run_cli("gc", f"static:{tree}", "--grace", "0", "--json")).stdout)
    assert report["signatures_removed"] == 4 and not signed.exists()
    # The tampered manifest is still tagged: the signatures a mirror put beside it stay (the client refuses them).
    assert len(list((tree / "sigstore").iterdir())) == 1


def test_signing_never_overwrites_and_registries_still_need_a_lookaside(signed_tree, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(signed_tree["tree"], tree, symlinks=True)
    signed = tree / "sigstore" / f"hello@sha256={signed_tree['digest'][7:]}"
    before = {p.name: p.read_bytes() for p in signed.iterdir()}
    out = json.loads(_ok(run_cli("sign", f"static:{tree}/hello:1", "--gpg-key", "release@example.org",
                                 "--gnupghome", signed_tree["work"] / "release", "--identity",
                                 "registry.example.org/hello", "--json")).stdout)
    assert out["signature"].endswith("/signature-5")
    assert {p.name: p.read_bytes() for p in signed.iterdir() if p.name in before} == before
    proc = run_cli("sign", "docker://127.0.0.1:1/hello:1", "--gpg-key", "release@example.org")
    assert proc.returncode == 2 and "--lookaside" in proc.stderr and "Traceback" not in proc.stderr


def test_publish_signs_with_an_openpgp_key_into_the_tree(signed_tree, tmp_path):
    tree = public_tree("lookaside-publish") / "tree"
    work, home = signed_tree["work"], signed_tree["work"] / "release"
    try:
        bad = run_cli("publish", f"oci:{work / 'a'}:1", "--to", f"static:{tree}", "--name", "hello:1",
                      "--gpg-key", "nobody@example.org", "--sign-identity", "registry.example.org/hello",
                      env={"GNUPGHOME": str(home)})
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "nobody@example.org" in bad.stderr
        assert not (tree / "v2").exists()                       # nothing written for an unknown key
        out = json.loads(_ok(run_cli("publish", f"oci:{work / 'a'}:1", "--to", f"static:{tree}", "--name",
                                     "hello:1", "--gpg-key", "release@example.org", "--sign-identity",
                                     "registry.example.org/hello", "--json", env={"GNUPGHOME": str(home)})).stdout)
        signature = Path(out["openpgp_signature"]["signature"])
        assert signature == tree / "sigstore" / f"hello@sha256={signed_tree['digest'][7:]}" / "signature-1"
        assert out["openpgp_signature"]["fingerprint"] == signed_tree["fingerprint"]
        page = (tree / "index.html").read_text()
        assert f'OpenPGP key <code class="key">{signed_tree["fingerprint"]}</code>' in page
        proc = run_cli("publish", f"oci:{work / 'a'}:1", "--to", f"oci:{tmp_path / 'layout'}:1",
                       "--gpg-key", "release@example.org")
        assert proc.returncode == 2 and "static" in proc.stderr and "Traceback" not in proc.stderr
    finally:
        shutil.rmtree(tree.parent, ignore_errors=True)


def test_page_reads_a_signature_payload_with_a_bound(signed_tree, tmp_path):
    """A signature by the recorded key whose compressed payload inflates to 20 MB: checked without
    reading it all, and shown as not verified."""
    from fsdgimg.oci.digest import Digest
    from fsdgimg.transports.static.layout import Tree
    from fsdgimg.transports.static.signers import Verifier
    tree = tmp_path / "tree"
    shutil.copytree(signed_tree["tree"], tree, symlinks=True)
    unsigned = Digest.of((tree / "v2/hello/_tags/unsigned").read_bytes())
    # valid JSON naming the digest, then 20 MB of white space (which JSON allows): only the bound refuses it
    payload = json.dumps({"critical": {"identity": {"docker-reference": "registry.example.org/hello"},
                                       "image": {"docker-manifest-digest": str(unsigned)},
                                       "type": "atomic container signature"}}).encode() + b" " * (20 << 20)
    big = subprocess.run(["gpg", "--batch", "--homedir", str(signed_tree["work"] / "release"), "--local-user",
                          "release@example.org", "--compress-level", "9", "--sign", "--output", "-"],
                         input=payload, capture_output=True, check=True).stdout
    assert len(big) < 64 << 10
    directory = Tree(tree).signature_dir("hello", unsigned)
    directory.mkdir(parents=True)
    (directory / "signature-1").write_bytes(big)
    assert Verifier(Tree(tree)).openpgp("hello", unsigned) == ([], 1)
    signers, bad = Verifier(Tree(tree)).openpgp("hello", Digest.parse(signed_tree["digest"]))
    assert bad == 0 and [(s.fingerprint, s.uid) for s in signers] == [(signed_tree["fingerprint"], signed_tree["uid"])]


def test_client_configuration_values_are_checked(tmp_path):
    for args in (("--registry", "registry.example.org\n  evil: true"), ("--registry", "a b/c"),
                 ("--registry", "registry.example.org", "--lookaside", "https://x/sigstore\n    evil: true"),
                 ("--registry", "registry.example.org", "--lookaside", "file:///etc")):
        proc = run_cli("web-config", "registries.d", *args)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and not proc.stdout, (args, proc.stderr)
    proc = run_cli("web-config", "policy", "--registry", "x\ny", "--gpg-key", tmp_path / "k.gpg")
    assert proc.returncode == 2 and not proc.stdout, proc.stderr


def test_gpgv_answers_are_kept_for_the_next_page(signed_tree, tmp_path, monkeypatch):
    """Rendering the page again runs gpgv only for signatures it has not seen: the answers of the
    renders so far are kept; without them and without gpgv nothing is verified, and nothing kept."""
    from fsdgimg.oci.digest import Digest
    from fsdgimg.transports.static.layout import Tree
    from fsdgimg.transports.static.signers import Verifier
    tree = tmp_path / "tree"
    shutil.copytree(signed_tree["tree"], tree, symlinks=True)
    digest = Digest.parse(signed_tree["digest"])
    checked = tree / "_web" / "signers" / "checked"
    assert len(list(checked.iterdir())) >= 4                  # the fixture's page renders checked all four
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))     # no gpgv from here on
    signers, bad = Verifier(Tree(tree)).openpgp("hello", digest)
    assert bad == 0 and [s.fingerprint for s in signers] == [signed_tree["fingerprint"]]
    shutil.rmtree(checked)
    assert Verifier(Tree(tree)).openpgp("hello", digest) == ([], 4)
    assert not checked.exists()
