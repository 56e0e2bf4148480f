"""Registry authentication (anonymous, Basic via htpasswd, the bearer-token flow) and TLS, against the
real Distribution registry. Credentials are never printed."""

from __future__ import annotations

import base64
import json

import pytest
from servers import Registry, TokenServer, have, self_signed

from publish.conftest import run, run_json

USER, PASSWORD = "alice", "s3cret-PaSs"


def _single_line_error(proc, *needles):
    assert proc.returncode == 1, proc.err
    assert proc.err.endswith("\n") and proc.err.count("\n") == 1, proc.err
    assert "Traceback" not in proc.err
    for needle in needles:
        assert needle in proc.err, proc.err
    assert PASSWORD not in proc.err + proc.out and "wrong-password" not in proc.err + proc.out


def _dest(reg, name="auth/a", tag="v1"):
    return f"docker://{reg.host}/{name}:{tag}"


def test_basic_auth_password_stdin(images, auth_registry, skopeo):
    report = run_json("publish", images.src(images.a), "--to", _dest(auth_registry), "--username", USER,
                      "--password-stdin", input=PASSWORD + "\n")
    assert report["digest"] == images.digest(images.a)
    got = skopeo.run("inspect", "--tls-verify=false", "--creds", f"{USER}:{PASSWORD}", "--format", "{{.Digest}}",
                     f"{_dest(auth_registry)}").stdout.strip()
    assert got == images.digest(images.a)


def test_wrong_password_is_one_clear_line(images, auth_registry):
    proc = run("publish", images.src(images.a), "--to", _dest(auth_registry), "--username", USER,
               "--password-stdin", "--retries", "1", input="wrong-password\n", check=False)
    _single_line_error(proc, auth_registry.host, "authentication failed", "alice")


def test_anonymous_push_is_refused_clearly(images, auth_registry):
    proc = run("publish", images.src(images.a), "--to", _dest(auth_registry), "--retries", "1", check=False)
    _single_line_error(proc, auth_registry.host, "authentication required")


def test_credentials_from_environment(images, auth_registry):
    report = run_json("publish", images.src(images.b), "--to", _dest(auth_registry, "auth/env"),
                      env={"FSDGIMG_REGISTRY_USERNAME": USER, "FSDGIMG_REGISTRY_PASSWORD": PASSWORD})
    assert report["digest"] == images.digest(images.b)


@pytest.mark.parametrize("where", ["REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "DOCKER_CONFIG"])
def test_credentials_from_auth_files(images, auth_registry, tmp_path, where):
    entry = {"auths": {auth_registry.host: {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}
    if where == "REGISTRY_AUTH_FILE":
        path, env = tmp_path / "auth.json", {"REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")}
    elif where == "XDG_RUNTIME_DIR":
        path, env = tmp_path / "xdg" / "containers" / "auth.json", {"XDG_RUNTIME_DIR": str(tmp_path / "xdg")}
    else:
        path, env = tmp_path / "docker" / "config.json", {"DOCKER_CONFIG": str(tmp_path / "docker")}
        entry = {"auths": {f"https://{auth_registry.host}/v1/": entry["auths"][auth_registry.host]}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry))
    report = run_json("publish", images.src(images.a), "--to", _dest(auth_registry, f"auth/{where.lower()}"), env=env)
    assert report["digest"] == images.digest(images.a)


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory):
    if not have("docker-registry", "openssl"):
        pytest.skip("docker-registry or openssl is not installed")
    tokens = TokenServer(tmp_path_factory.mktemp("tokens"), {USER: PASSWORD})
    try:
        with Registry(tmp_path_factory.mktemp("token-registry"), token=tokens) as reg:
            yield reg
    finally:
        tokens.stop()


def test_bearer_token_flow(images, token_registry, skopeo):
    tokens = token_registry.token
    tokens.requests.clear()
    report = run_json("publish", images.src(images.multi), "--to", _dest(token_registry, "tok/multi", "multi"),
                      "--username", USER, "--password-stdin", input=PASSWORD)
    assert report["digest"] == images.digest(images.multi)
    assert tokens.requests and all(r["user"] == USER for r in tokens.requests)
    assert "repository:tok/multi:pull,push" in tokens.requests[-1]["scopes"]
    assert tokens.requests[-1]["service"] == [tokens.service]
    # one token for the whole push, not one per request
    assert len(tokens.requests) <= 2
    got = skopeo.run("inspect", "--tls-verify=false", "--raw", "--creds", f"{USER}:{PASSWORD}",
                     _dest(token_registry, "tok/multi", "multi")).stdout
    assert json.loads(got)["mediaType"] == images.media_type(images.multi)
    # a second repository mounts the blobs: the token then also grants pull on the first one
    tokens.requests.clear()
    again = run_json("publish", images.src(images.multi), "--to", _dest(token_registry, "tok/copy", "multi"),
                     "--username", USER, "--password-stdin", input=PASSWORD)
    assert again["blobs_mounted"] == again["blobs_total"]
    assert "repository:tok/multi:pull" in tokens.requests[-1]["scopes"]


def test_bearer_wrong_password(images, token_registry):
    proc = run("publish", images.src(images.a), "--to", _dest(token_registry, "tok/a"), "--username", USER,
               "--password-stdin", "--retries", "1", input="wrong-password", check=False)
    _single_line_error(proc, token_registry.host, "authentication failed")


def test_bearer_anonymous_refused(images, token_registry):
    proc = run("publish", images.src(images.a), "--to", _dest(token_registry, "tok/anon"), "--retries", "1",
               check=False)
    _single_line_error(proc, token_registry.host)


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory):
    if not have("docker-registry", "openssl"):
        pytest.skip("docker-registry or openssl is not installed")
    work = tmp_path_factory.mktemp("tls-registry")
    with Registry(work, tls=self_signed(work, "registry")) as reg:
        yield reg


def test_tls_is_verified(images, tls_registry):
    proc = run("publish", images.src(images.a), "--to", _dest(tls_registry, "tls/a"), "--retries", "0", check=False)
    _single_line_error(proc, tls_registry.host, "TLS verification failed")


def test_tls_with_ca_file_or_insecure(images, tls_registry):
    cert = tls_registry.tls[0]
    report = run_json("publish", images.src(images.a), "--to", _dest(tls_registry, "tls/a"), "--ca-file", cert)
    assert report["digest"] == images.digest(images.a) and report["blobs_sent"] > 0
    report = run_json("publish", images.src(images.b), "--to", _dest(tls_registry, "tls/b"), "--insecure")
    assert report["digest"] == images.digest(images.b)


def test_identity_token_from_docker_config(images, token_registry, tmp_path):
    tokens = token_registry.token
    tokens.refresh_tokens["refresh-0123456789"] = USER
    tokens.requests.clear()
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps(
        {"auths": {token_registry.host: {"auth": base64.b64encode(b"<token>:").decode(),
                                         "identitytoken": "refresh-0123456789"}}}))
    report = run_json("publish", images.src(images.a), "--to", _dest(token_registry, "tok/identity"),
                      env={"DOCKER_CONFIG": str(tmp_path / "docker")})
    assert report["digest"] == images.digest(images.a)
    assert tokens.requests and all(r.get("grant") == "refresh_token" for r in tokens.requests)


def test_pull_with_bearer_token(images, token_registry, tmp_path):
    env = {"FSDGIMG_REGISTRY_USERNAME": USER, "FSDGIMG_REGISTRY_PASSWORD": PASSWORD}
    run("publish", images.src(images.multi), "--to", _dest(token_registry, "tok/pull", "multi"), env=env)
    tokens = token_registry.token
    tokens.requests.clear()
    info = run_json("inspect", _dest(token_registry, "tok/pull", "multi"), env=env)
    assert info["digest"] == images.digest(images.multi)
    assert tokens.requests and all(r["user"] == USER for r in tokens.requests)
    assert any("repository:tok/pull:pull" in r["scopes"] for r in tokens.requests)
    out = tmp_path / "layout"
    run("convert", _dest(token_registry, "tok/pull", "multi"), f"oci:{out}:multi", env=env)
    assert json.loads((out / "index.json").read_text())["manifests"]
    # anonymous: the token service grants nothing, the registry refuses with one line
    proc = run("inspect", _dest(token_registry, "tok/pull", "multi"), "--json", check=False)
    assert proc.returncode == 1 and proc.err.count("\n") == 1 and token_registry.host in proc.err
