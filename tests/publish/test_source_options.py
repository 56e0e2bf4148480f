"""Reading a registry with its own credentials and CA (--src-creds, --src-tls-verify, --src-cert-dir,
skopeo's names), apart from the destination's: a mirror reads a private registry behind a private CA
with one account and writes another registry with another. Real Distribution registries, htpasswd
and TLS; the source's credentials never reach the destination."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from servers import Registry, have, self_signed

from publish.conftest import run, run_json

SRC_USER, SRC_PASSWORD = "reader", "src-PaSs-1"
DEST_USER, DEST_PASSWORD = "writer", "dest-PaSs-2"


@pytest.fixture(scope="module")
def registries(tmp_path_factory, images):
    """(source: TLS with a private CA and htpasswd, its certificate directory, destination: plain
    HTTP on loopback and htpasswd). The destination ALSO accepts the source's account: a source
    credential sent to it would be let in, so refusals below prove none is sent."""
    if not have("docker-registry", "htpasswd", "openssl"):
        pytest.skip("docker-registry, htpasswd or openssl is not installed")
    work = tmp_path_factory.mktemp("source-options")
    cert, key = self_signed(work, "private-registry")
    cert_dir = work / "certs.d"
    cert_dir.mkdir()
    shutil.copy(cert, cert_dir / "ca.crt")
    with Registry(work / "src", users={SRC_USER: SRC_PASSWORD}, tls=(cert, key)) as src, \
            Registry(work / "dest", users={DEST_USER: DEST_PASSWORD, SRC_USER: SRC_PASSWORD}) as dest:
        run("publish", images.src(images.a), "--to", f"docker://{src.host}/private/a:v1", "--ca-file", cert,
            "--username", SRC_USER, "--password-stdin", input=SRC_PASSWORD + "\n")
        run("publish", images.src(images.b), "--to", f"docker://{src.host}/private/a:v2", "--ca-file", cert,
            "--username", SRC_USER, "--password-stdin", input=SRC_PASSWORD + "\n")
        yield src, cert_dir, dest


def one_line(proc, *needles):
    assert proc.returncode not in (0, None), proc.out
    assert proc.err.count("\n") == 1 and "Traceback" not in proc.err, proc.err
    for needle in needles:
        assert needle in proc.err, proc.err
    assert SRC_PASSWORD not in proc.err + proc.out and DEST_PASSWORD not in proc.err + proc.out


def test_convert_from_an_authenticated_tls_registry(images, registries, tmp_path):
    src, cert_dir, _ = registries
    out = tmp_path / "layout"
    report = run_json("convert", f"docker://{src.host}/private/a:v1", f"oci:{out}:v1",
                      "--src-creds", f"{SRC_USER}:{SRC_PASSWORD}", "--src-cert-dir", cert_dir)
    assert report["digest"] == images.digest(images.a)
    info = run_json("inspect", f"oci:{out}:v1")
    assert info["digest"] == images.digest(images.a)
    # inspect reads the registry the same way
    info = run_json("inspect", f"docker://{src.host}/private/a:v2", "--src-creds", f"{SRC_USER}:{SRC_PASSWORD}",
                    "--src-cert-dir", cert_dir)
    assert info["digest"] == images.digest(images.b)


def test_source_tls_is_verified_unless_told(images, registries, tmp_path):
    src, cert_dir, _ = registries
    creds = f"{SRC_USER}:{SRC_PASSWORD}"
    proc = run("convert", f"docker://{src.host}/private/a:v1", f"oci:{tmp_path / 'x'}:v1", "--src-creds", creds, check=False)
    one_line(proc, src.host, "TLS verification failed")
    assert not (tmp_path / "x").exists()
    report = run_json("convert", f"docker://{src.host}/private/a:v1", f"oci:{tmp_path / 'y'}:v1",
                      "--src-creds", creds, "--src-tls-verify=false")
    assert report["digest"] == images.digest(images.a)


def test_wrong_source_credentials_write_nothing(registries, tmp_path):
    src, cert_dir, dest = registries
    out = tmp_path / "layout"
    proc = run("convert", f"docker://{src.host}/private/a:v1", f"oci:{out}:v1", "--src-creds",
               f"{SRC_USER}:wrong-password", "--src-cert-dir", cert_dir, check=False)
    one_line(proc, src.host, "authentication failed")
    assert not out.exists()
    proc = run("sync", f"docker://{src.host}/private/a", "--to", f"docker://{dest.host}/wrong",
               "--src-creds", f"{SRC_USER}:wrong-password", "--src-cert-dir", cert_dir,
               "--username", DEST_USER, "--password-stdin", input=DEST_PASSWORD + "\n", check=False)
    one_line(proc, src.host, "authentication failed")
    listed = run("inspect", f"docker://{dest.host}/wrong:v1", "--src-creds", f"{DEST_USER}:{DEST_PASSWORD}",
                 check=False)
    assert listed.returncode != 0 and "v1" in listed.err  # nothing was pushed


@pytest.mark.parametrize("malformed", ["no-colon", ":password-only"])
def test_src_creds_is_user_colon_password(registries, tmp_path, malformed):
    src, cert_dir, _ = registries
    proc = run("convert", f"docker://{src.host}/private/a:v1", f"oci:{tmp_path / 'x'}:v1", "--src-creds",
               malformed, check=False)
    assert proc.returncode == 2 and proc.err.count("\n") == 1 and "--src-creds needs USER:PASSWORD" in proc.err
    assert malformed.partition(":")[2] == "" or malformed.partition(":")[2] not in proc.err


def test_bad_certificate_directory_is_one_line(registries, tmp_path):
    src, _, _ = registries
    empty = tmp_path / "empty"
    empty.mkdir()
    for where, needle in ((tmp_path / "missing", "not a directory"), (empty, "no CA certificate (*.crt)")):
        proc = run("convert", f"docker://{src.host}/private/a:v1", f"oci:{tmp_path / 'x'}:v1",
                   "--src-cert-dir", where, check=False)
        assert proc.returncode == 2 and proc.err.count("\n") == 1 and needle in proc.err, proc.err


def test_sync_between_registries_with_their_own_credentials(images, registries):
    src, cert_dir, dest = registries
    report = run_json("sync", f"docker://{src.host}/private/a", "--to", f"docker://{dest.host}/mirror",
                      "--src-creds", f"{SRC_USER}:{SRC_PASSWORD}", "--src-cert-dir", cert_dir,
                      "--username", DEST_USER, "--password-stdin", input=DEST_PASSWORD + "\n")
    assert sorted((i["destination"], i["state"]) for i in report["images"]) == [
        (f"docker://{dest.host}/mirror:v1", "copied"), (f"docker://{dest.host}/mirror:v2", "copied")]
    for tag, layout in (("v1", images.a), ("v2", images.b)):
        info = run_json("inspect", f"docker://{dest.host}/mirror:{tag}",
                        "--src-creds", f"{DEST_USER}:{DEST_PASSWORD}")
        assert info["digest"] == images.digest(layout)


def test_source_credentials_never_reach_the_destination(registries):
    """The destination would accept the source's account; with no destination credentials given,
    the push must still be anonymous, and refused."""
    src, cert_dir, dest = registries
    proc = run("sync", f"docker://{src.host}/private/a", "--to", f"docker://{dest.host}/leak",
               "--src-creds", f"{SRC_USER}:{SRC_PASSWORD}", "--src-cert-dir", cert_dir, check=False)
    one_line(proc, dest.host)
    assert src.host not in proc.err
    proc = run("publish", f"docker://{src.host}/private/a:v1", "--to", f"docker://{dest.host}/leak:v1",
               "--src-creds", f"{SRC_USER}:{SRC_PASSWORD}", "--src-cert-dir", cert_dir, check=False)
    one_line(proc, dest.host)


def test_verify_reads_an_authenticated_tls_registry(images, registries, tmp_path):
    """A signed image mirrored (with its signature tag) into the private registry, verified there."""
    src, cert_dir, dest = registries
    key = tmp_path / "release"
    run("sign", "--generate-key", key, env={"COSIGN_PASSWORD": "pw"})
    with Registry(tmp_path / "open") as open_registry:
        run("publish", images.src(images.a), "--to", f"docker://{open_registry.host}/signed/a:v1")
        run("sign", f"docker://{open_registry.host}/signed/a:v1", "--key", f"{key}.key",
            "--identity", f"{src.host}/signed/a", env={"COSIGN_PASSWORD": "pw"})
        run("sync", f"docker://{open_registry.host}/signed/a", "--to", f"docker://{src.host}",
            "--ca-file", cert_dir / "ca.crt", "--username", SRC_USER, "--password-stdin",
            input=SRC_PASSWORD + "\n")
    ref = f"docker://{src.host}/signed/a:v1"
    out = run_json("verify", ref, "--key", f"{key}.pub", "--no-sbom", "--src-creds", f"{SRC_USER}:{SRC_PASSWORD}",
                   "--src-cert-dir", cert_dir)
    assert out["verified"] is True and out["digest"] == images.digest(images.a)
    proc = run("verify", ref, "--key", f"{key}.pub", "--no-sbom", "--src-cert-dir", cert_dir, check=False)
    assert proc.returncode == 1 and src.host in proc.err and "Traceback" not in proc.err, proc.err


def test_system_ca_directory_is_trusted(images, registries, tmp_path):
    """Without --ca-file or --src-cert-dir, TLS is checked against the system's CAs as OpenSSL finds
    them ($SSL_CERT_DIR, a hashed directory): the private CA added there is enough, and a
    directory without it is not."""
    src, cert_dir, _ = registries
    system = tmp_path / "system-certs"
    system.mkdir()
    subprocess.run(["openssl", "rehash", str(system)], check=True, capture_output=True)
    creds = f"{SRC_USER}:{SRC_PASSWORD}"
    proc = run("inspect", f"docker://{src.host}/private/a:v1", "--src-creds", creds, check=False,
               env={"SSL_CERT_DIR": str(system), "SSL_CERT_FILE": str(system / "none.pem")})
    one_line(proc, src.host, "TLS verification failed")
    shutil.copy(cert_dir / "ca.crt", system / "private-ca.pem")
    subprocess.run(["openssl", "rehash", str(system)], check=True, capture_output=True)
    info = run_json("inspect", f"docker://{src.host}/private/a:v1", "--src-creds", creds,
                    env={"SSL_CERT_DIR": str(system), "SSL_CERT_FILE": str(system / "none.pem")})
    assert info["digest"] == images.digest(images.a)


def test_signing_an_image_on_an_authenticated_registry(images, registries, tmp_path):
    """publish --sign-key signs with the credentials it published with; sign and verify read the
    auth file as every other access does."""
    _, _, dest = registries
    key = tmp_path / "release"
    run("sign", "--generate-key", key, env={"COSIGN_PASSWORD": "pw"})
    ref = f"docker://{dest.host}/signed/a:v1"
    out = run_json("publish", images.src(images.a), "--to", ref, "--sign-key", f"{key}.key", "--username",
                   DEST_USER, "--password-stdin", input=DEST_PASSWORD + "\n", env={"COSIGN_PASSWORD": "pw"})
    assert out["signature"]["signatures"] == 1
    creds = f"{DEST_USER}:{DEST_PASSWORD}"
    verified = run_json("verify", ref, "--key", f"{key}.pub", "--no-sbom", "--src-creds", creds)
    assert verified["verified"] is True and len(verified["signatures"]) == 1
    # anonymous: refused in one line, by the registry
    proc = run("sign", ref, "--key", f"{key}.key", env={"COSIGN_PASSWORD": "pw"}, check=False)
    one_line(proc, dest.host, "authentication")
    # an auth file, as podman and skopeo write it: a second key's signature is added
    import base64
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"auths": {dest.host: {"auth": base64.b64encode(creds.encode()).decode()}}}))
    run("sign", "--generate-key", tmp_path / "second", env={"COSIGN_PASSWORD": "pw"})
    signed = run_json("sign", ref, "--key", tmp_path / "second.key",
                      env={"COSIGN_PASSWORD": "pw", "REGISTRY_AUTH_FILE": str(auth)})
    assert signed["signatures"] == 2
    verified = run_json("verify", ref, "--key", tmp_path / "second.pub", "--no-sbom",
                        env={"REGISTRY_AUTH_FILE": str(auth)})
    assert verified["verified"] is True
