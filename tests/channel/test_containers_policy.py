"""The containers policy the channel writes (registries.conf, policy.json, registries.d), used by
real skopeo and podman: images from the configured FSDG registries are accepted, from anywhere
else rejected; Docker Hub is blocked by every name, also in fully qualified references; with a
sigstore key or a GPG keyring, unsigned images are refused. The files are laid out as the Guix
Home service writes them (~/.config/containers), where the tools find them by themselves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from fixtures.openpgp import gpg_key
from guixrun import REPO, guix, guix_chroot, scheme, scheme_string  # noqa: F401 (fixture)
from servers import Podman, Registry, Skopeo, have

pytestmark = pytest.mark.usefixtures("guix_chroot", "tools")


@pytest.fixture(scope="module")
def tools():
    missing = [c for c in ("docker-registry", "skopeo", "podman", "openssl", "gpg") if not have(c)]
    if missing:
        pytest.fail(f"missing {missing}: run `bash scripts/setup.sh`", pytrace=False)


@pytest.fixture(scope="module")
def registry(tmp_path_factory, oci_image):
    """A registry holding hello:latest, reached as 127.0.0.1:PORT (accepted) and localhost:PORT
    (the same server under a name the policy does not accept)."""
    work = tmp_path_factory.mktemp("policy-registry")
    with Registry(work / "registry") as registry:
        Skopeo(work / "skopeo").copy(f"oci:{oci_image}:latest", f"docker://{registry.host}/hello:latest")
        yield registry


def strings(items) -> str:
    return "'(" + " ".join(scheme_string(i) for i in items) + ")"


def service_files(config: str) -> dict[str, bytes]:
    """The files of the containers service for CONFIG (Scheme text of a
    containers-registries-configuration), relative to its directory, as the service builds them:
    registries.conf from Scheme, policy.json and registries.d from `fsdgimg web-config` run with the
    arguments the service gives (the command its build runs)."""
    from publish.conftest import run
    out = scheme(f"(let ((config {config}))"
                 " (string-join (cons ((@ (guix gexp) plain-file-content) (containers-registries-file config))"
                 "  (map (lambda (file) (string-join (cons (car file) (if (string=? (car file) \"policy.json\")"
                 "   (containers-policy-arguments config) (containers-registries.d-arguments config))) \"\\t\"))"
                 "   (cdr ((@@ (fsdgimg services containers) containers-files) config)))) \"\\f\"))")
    conf, *generated = out.split("\f")
    files = {"registries.conf": conf.encode()}
    for line in generated:
        name, *arguments = line.split("\t")
        files[name] = run(*arguments).stdout
    return files


def write_home(home: Path, registry_host: str, raw: str = "", **keys: str) -> Path:
    """~/.config/containers as home-containers-registries-service-type lays it out (`raw`: more
    fields, as Scheme text)."""
    fields = f"(unqualified-search-registries {strings([registry_host])})" \
             f" (insecure-registries {strings([registry_host, 'localhost:' + registry_host.split(':')[1]])})"
    fields += "".join(f" ({k} {scheme_string(v)})" for k, v in keys.items()) + raw
    conf = home / ".config/containers"
    for name, text in service_files(f"(containers-registries-configuration {fields})").items():
        (conf / name).parent.mkdir(parents=True, exist_ok=True)
        (conf / name).write_bytes(text)
    return conf


# The configurations whose files the channel wrote in Scheme before fsdgimg wrote them
# (tests/channel/containers-before/NAME): the files must not change.
BEFORE = {
    "plain": """(unqualified-search-registries '("127.0.0.1:5000"))
                (insecure-registries '("127.0.0.1:5000" "localhost:5000"))""",
    "keys": """(unqualified-search-registries '("images.example.org" "[::1]:5000"))
               (accepted-registries '("other.example.org/ns" "images.example.org"))
               (blocked-registries '("bad.example.com" "docker.io"))
               (sigstore-public-key "/etc/cosign.pub")
               (gpg-keyring "/etc/keyring.gpg")
               (lookasides '(("images.example.org" . "https://images.example.org/sigstore")
                             ("mirror.example.net/hello" . "https://mirror.example.net/sigstore")))
               (mirrors '(("mirror.example.net/hello" . "images.example.org/hello")
                          ("127.0.0.1:5000/ns" . "images.example.org/ns")))""",
    "gpg": """(unqualified-search-registries '("images.example.org"))
              (gpg-keyring "/etc/keyring.gpg")
              (mirrors '(("mirror.example.net" . "images.example.org")))""",
    "sigstore": """(accepted-registries '("images.example.org"))
                   (sigstore-public-key "/etc/cosign.pub")""",
    "default": "",
}


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_service_files_are_byte_for_byte_those_scheme_wrote(name):
    """policy.json gained its final newline (guile-json wrote none); nothing else changed."""
    before = REPO / "tests/channel/containers-before" / name
    files = service_files(f"(containers-registries-configuration {BEFORE[name]})")
    expected = {str(f.relative_to(before)): f.read_bytes() for f in sorted(before.rglob("*")) if f.is_file()}
    expected["policy.json"] += b"\n"
    assert files == expected


def skopeo(home: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(home), TMPDIR=str(home))
    env.pop("REGISTRY_AUTH_FILE", None)
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, env=env, timeout=300, check=check)


def _printed(host: str, *keys) -> list:
    """The requirements `fsdgimg web-config policy --registry HOST` prints for the keys."""
    from publish.conftest import run
    return json.loads(run("web-config", "policy", "--registry", host, *keys).out)["transports"]["docker"][host]


@pytest.fixture
def home():
    path = Path(tempfile.mkdtemp(prefix="fsdgpol-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_policy_json_shape(home, registry):
    conf = write_home(home, registry.host)
    policy = json.loads((conf / "policy.json").read_text())
    assert policy["default"] == [{"type": "reject"}]
    docker = policy["transports"]["docker"]
    assert docker[registry.host] == [{"type": "insecureAcceptAnything"}]
    for name in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        assert docker[name] == [{"type": "reject"}]
    assert policy["transports"]["oci"] == {"": [{"type": "insecureAcceptAnything"}]}
    assert not (conf / "registries.d").exists()


def test_skopeo_accepts_the_fsdg_registry_and_rejects_others(home, registry):
    write_home(home, registry.host)
    ok = skopeo(home, "copy", "--src-tls-verify=false", f"docker://{registry.host}/hello:latest",
                f"oci:{home / 'pulled'}:latest")
    assert ok.returncode == 0, ok.stderr
    # The same server under a name the policy does not list: rejected by the default.
    other = f"localhost:{registry.port}"
    refused = skopeo(home, "copy", "--src-tls-verify=false", f"docker://{other}/hello:latest",
                     f"oci:{home / 'other'}:latest")
    assert refused.returncode != 0 and "rejected by policy" in refused.stderr, refused.stderr
    # Pushing an OCI layout out of the box (local transports are the user's business).
    push = skopeo(home, "copy", "--dest-tls-verify=false", f"oci:{home / 'pulled'}:latest",
                  f"docker://{registry.host}/again:latest")
    assert push.returncode == 0, push.stderr


def test_docker_hub_is_blocked_in_fully_qualified_references(home, registry):
    write_home(home, registry.host)
    for ref in ("docker.io/library/hello:latest", "index.docker.io/library/hello:latest",
                "registry-1.docker.io/library/hello:latest"):
        proc = skopeo(home, "inspect", f"docker://{ref}")
        assert proc.returncode != 0 and "blocked" in proc.stderr, (ref, proc.stderr)
    podman = Podman(home / "podman")
    env_home = dict(podman.env(), HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    proc = subprocess.run(podman.base + ["pull", "-q", "docker.io/library/hello:latest"], capture_output=True,
                          text=True, env=env_home, timeout=300)
    assert proc.returncode != 0 and "blocked" in proc.stderr, proc.stderr


def test_podman_pulls_from_the_fsdg_registry_only(home, registry):
    write_home(home, registry.host)
    podman = Podman(home / "podman")
    env_home = dict(podman.env(), HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))

    def pull(ref):
        return subprocess.run(podman.base + ["pull", "-q", ref], capture_output=True, text=True, env=env_home,
                              timeout=300)
    try:
        ok = pull("hello:latest")  # a short name, resolved on the search registry
        assert ok.returncode == 0, ok.stderr
        refused = pull(f"localhost:{registry.port}/hello:latest")
        assert refused.returncode != 0 and "rejected by policy" in refused.stderr, refused.stderr
    finally:
        subprocess.run(podman.base + ["rmi", "-a", "-f"], capture_output=True, env=env_home)


def test_sigstore_key_refuses_unsigned_images(home, registry):
    key = home / "cosign.pub"
    subprocess.run(f"openssl ecparam -genkey -name prime256v1 | openssl ec -pubout -out {key}", shell=True,
                   check=True, capture_output=True)
    conf = write_home(home, registry.host, **{"sigstore-public-key": str(key)})
    policy = json.loads((conf / "policy.json").read_text())
    # as web-config prints it: matchRepository, which cosign's tagless identity satisfies for a tag
    assert policy["transports"]["docker"][registry.host] == [
        {"type": "sigstoreSigned", "keyPath": str(key), "signedIdentity": {"type": "matchRepository"}}]
    assert policy["transports"]["docker"][registry.host] == _printed(registry.host, "--sigstore-key", key)
    # Signatures are looked up as cosign attachments on the accepted registries.
    assert f'"{registry.host}":\n    use-sigstore-attachments: true' in (conf / "registries.d/fsdgimg.yaml").read_text()
    proc = skopeo(home, "copy", "--src-tls-verify=false", f"docker://{registry.host}/hello:latest",
                  f"oci:{home / 'pulled'}:latest")
    assert proc.returncode != 0 and "signature" in proc.stderr.lower(), proc.stderr


def test_gpg_keyring_refuses_unsigned_images(home, registry):
    keyring = gpg_key(home / "gnupg", "images@example.org")
    conf = write_home(home, registry.host, **{"gpg-keyring": str(keyring)})
    policy = json.loads((conf / "policy.json").read_text())
    assert policy["transports"]["docker"][registry.host] == [
        {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(keyring),
         "signedIdentity": {"type": "matchRepository"}}]
    assert policy["transports"]["docker"][registry.host] == _printed(registry.host, "--gpg-key", keyring)
    proc = skopeo(home, "copy", "--src-tls-verify=false", f"docker://{registry.host}/hello:latest",
                  f"oci:{home / 'pulled'}:latest")
    assert proc.returncode != 0 and "signature" in proc.stderr.lower(), proc.stderr


def test_gpg_lookaside_of_a_static_tree(home, oci_image):
    """A static tree fsdgimg published and signed with an OpenPGP key, served by nginx: with the
    lookaside URL `fsdgimg web-config registries.d` prints as the service's configuration, the
    service writes the same registries.d entry, and skopeo accepts the signed tag and refuses the
    unsigned one."""
    from publish.conftest import public_tree, run
    from servers import Nginx, free_port
    gnupg = home / "gnupg"
    keyring = gpg_key(gnupg, "images@example.org")
    base = public_tree("guix-lookaside")
    tree = base / "tree"
    host = f"127.0.0.1:{free_port()}"
    try:
        run("publish", f"oci:{oci_image}:latest", "--to", f"static:{tree}", "--name", "hello:signed")
        run("convert", f"oci:{oci_image}:latest", f"oci:{home / 'other'}:u", "--annotation", "org.example.x=y")
        run("publish", f"oci:{home / 'other'}:u", "--to", f"static:{tree}", "--name", "hello:unsigned")
        run("sign", f"static:{tree}/hello:signed", "--gpg-key", "images@example.org", "--gnupghome", gnupg,
            "--identity", f"{host}/hello")
        expected = run("web-config", "registries.d", "--registry", host).out
        url = next(line.split(": ", 1)[1] for line in expected.splitlines() if "lookaside:" in line)
        conf = write_home(home, host, f" (lookasides '(({scheme_string(host)} . {scheme_string(url)})))",
                          **{"gpg-keyring": str(keyring)})
        written = (conf / "registries.d/fsdgimg.yaml").read_text()
        assert expected.split("docker:\n", 1)[1] in written, (expected, written)
        site = run("web-config", "nginx", "--root", tree, "--listen", host).out
        with Nginx(home / "nginx", site, int(host.rsplit(":", 1)[1])):
            ok = skopeo(home, "copy", "--remove-signatures", "--src-tls-verify=false",
                        f"docker://{host}/hello:signed", f"oci:{home / 'pulled'}:signed")
            assert ok.returncode == 0, ok.stderr
            refused = skopeo(home, "copy", "--src-tls-verify=false", f"docker://{host}/hello:unsigned",
                             f"oci:{home / 'pulled'}:unsigned")
            assert refused.returncode != 0 and "no signature exists" in refused.stderr, refused.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_lookasides_are_checked_with_a_located_error(tmp_path):
    config = tmp_path / "config.scm"
    config.write_text("(use-modules (fsdgimg services containers))\n"
                      "(containers-registries-configuration\n"
                      "  (lookasides '((\"registry.example.org\" . \"file:///etc/passwd\"))))\n")
    proc = guix("repl", "-L", "channel", "--", str(config), check=False)
    assert proc.returncode != 0
    assert f"{config}:3:" in proc.stderr and "lookasides" in proc.stderr, proc.stderr
    assert "Backtrace" not in proc.stderr


@pytest.mark.parametrize("spelling", ["docker.io", "DOCKER.IO", "docker.io:443", "registry-1.docker.io:443",
                                      "https://index.docker.io/v1/", "hub.docker.com"])
def test_docker_hub_in_any_spelling_is_a_located_error(tmp_path, spelling):
    config = tmp_path / "config.scm"
    config.write_text("(use-modules (fsdgimg services containers))\n"
                      "(containers-registries-configuration\n"
                      f"  (unqualified-search-registries '(\"registry.example.org\" {scheme_string(spelling)})))\n")
    proc = guix("repl", "-L", "channel", "--", str(config), check=False)
    assert proc.returncode != 0
    assert f"{config}:3:" in proc.stderr and "not an FSDG distribution registry" in proc.stderr, proc.stderr
    assert "Backtrace" not in proc.stderr


def test_mirrors_get_the_requirements_web_config_prints(home, registry):
    """A (MIRROR . ORIGIN) pair: the mirror's scope requires the origin's signatures with the same
    signedIdentity `fsdgimg web-config policy --mirror MIRROR=ORIGIN` prints (whose policy real
    skopeo checks in tests/trust/test_mirror_trust.py), and registries.d names its lookaside."""
    from publish.conftest import run
    key, keyring = home / "cosign.pub", home / "keyring.gpg"
    pairs = {"mirror.example.net/hello": "images.example.org/hello", "127.0.0.1:5000/ns": "images.example.org/ns"}
    mirrors = "'(" + " ".join(f"({scheme_string(m)} . {scheme_string(o)})" for m, o in pairs.items()) + ")"
    lookaside = "https://mirror.example.net/sigstore"
    conf = write_home(home, registry.host, f" (mirrors {mirrors})"
                      f" (lookasides '(({scheme_string('mirror.example.net/hello')} . {scheme_string(lookaside)})))",
                      **{"sigstore-public-key": str(key), "gpg-keyring": str(keyring)})
    docker = json.loads((conf / "policy.json").read_text())["transports"]["docker"]
    printed = json.loads(run("web-config", "policy", *[a for m, o in pairs.items() for a in ("--mirror", f"{m}={o}")],
                             "--sigstore-key", key, "--gpg-key", keyring).out)["transports"]["docker"]
    for mirror in pairs:
        assert docker[mirror] == printed[mirror], (docker[mirror], printed[mirror])
    assert docker["mirror.example.net/hello"][1]["signedIdentity"] == \
        {"type": "remapIdentity", "prefix": "mirror.example.net/hello", "signedPrefix": "images.example.org/hello"}
    regd = (conf / "registries.d/fsdgimg.yaml").read_text()
    assert f'"mirror.example.net/hello":\n    use-sigstore-attachments: true\n    lookaside: {lookaside}\n' in regd
    assert '"127.0.0.1:5000/ns":\n    use-sigstore-attachments: true\n' in regd
    # OpenPGP signatures alone: a whole host is remapped, as web-config prints it.
    conf = write_home(home, registry.host, " (mirrors '((\"mirror.example.net\" . \"images.example.org\")))",
                      **{"gpg-keyring": str(keyring)})
    printed = run("web-config", "policy", "--mirror", "mirror.example.net=images.example.org", "--gpg-key", keyring).out
    assert json.loads((conf / "policy.json").read_text())["transports"]["docker"]["mirror.example.net"] == \
        json.loads(printed)["transports"]["docker"]["mirror.example.net"]


@pytest.mark.parametrize("mirrors, message", [
    ("'((\"mirror.example.net\" . \"mirror.example.net\"))", "(MIRROR . ORIGIN)"),
    ("'((\"mirror.example.net\"))", "(MIRROR . ORIGIN)"),
    ("'((\"mirror.example.net\" . images))", "(MIRROR . ORIGIN)"),
    ("'((\"mirror.example.net\" . \"images.example.org\\n  x: y\"))", "(MIRROR . ORIGIN)"),
    ("'((\"mirror.example.net\" . \"docker.io/library\"))", "not an FSDG distribution registry"),
])
def test_mirrors_are_checked_with_a_located_error(tmp_path, mirrors, message):
    config = tmp_path / "config.scm"
    config.write_text("(use-modules (fsdgimg services containers))\n"
                      "(containers-registries-configuration\n"
                      f"  (mirrors {mirrors}))\n")
    proc = guix("repl", "-L", "channel", "--", str(config), check=False)
    assert proc.returncode != 0
    assert f"{config}:3:" in proc.stderr and "mirrors" in proc.stderr and message in proc.stderr, proc.stderr
    assert "Backtrace" not in proc.stderr


def test_a_cosign_mirror_of_a_bare_host_is_refused():
    """fsdgimg refuses it when the service's policy.json is built: one line, no traceback."""
    from publish.conftest import run
    arguments = scheme("(string-join (containers-policy-arguments (containers-registries-configuration"
                       "  (sigstore-public-key \"/etc/cosign.pub\")"
                       "  (mirrors '((\"mirror.example.net\" . \"images.example.org\"))))) \"\\t\")")
    proc = run(*arguments.split("\t"), check=False)
    assert proc.returncode != 0 and "per repository" in proc.err, proc.err
    assert "Traceback" not in proc.err and len(proc.err.strip().splitlines()) == 1
