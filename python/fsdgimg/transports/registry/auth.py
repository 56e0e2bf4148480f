"""Registry credentials and the two challenge flows of the distribution spec (Basic, Bearer token).

Credentials come, in this order, from the command line (--username + --password-stdin), the
environment (FSDGIMG_REGISTRY_USERNAME / FSDGIMG_REGISTRY_PASSWORD), or the auth files the
containers tools and docker share: $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json,
$DOCKER_CONFIG/config.json or ~/.docker/config.json. A secret never appears in a message: Credentials
hides its password from repr(), and errors name the registry and the status, never a header.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.errors import FsdgimgError, UsageError

ENV_USERNAME = "FSDGIMG_REGISTRY_USERNAME"
ENV_PASSWORD = "FSDGIMG_REGISTRY_PASSWORD"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    origin: str = "command line"
    identity_token: bool = False  # docker's "identitytoken": an OAuth2 refresh token

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")


def auth_files() -> list[Path]:
    """The auth files consulted, most specific first (the order podman and skopeo use)."""
    out: list[Path] = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        out.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if os.environ.get("XDG_RUNTIME_DIR"):
        out.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    else:
        out.append(Path(f"/run/containers/{os.getuid()}/auth.json"))
    docker_config = os.environ.get("DOCKER_CONFIG")
    out.append(Path(docker_config) / "config.json" if docker_config
               else Path.home() / ".docker" / "config.json")
    return out


def _normalize_key(key: str) -> str:
    """'https://host:5000/v1/' -> 'host:5000'; 'host/ns' stays (a per-namespace entry)."""
    key = re.sub(r"^[a-z]+://", "", key)
    return key.rstrip("/").removesuffix("/v1").removesuffix("/v2")


def _from_entry(entry: dict, origin: str) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("identitytoken"):
        return Credentials("<token>", str(entry["identitytoken"]), origin, identity_token=True)
    if entry.get("auth"):
        try:
            user, sep, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise FsdgimgError(f"{origin}: the 'auth' entry is not base64 of user:password") from None
        if sep:
            return Credentials(user, password, origin)
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]), origin)
    return None


def lookup_auth_file(path: Path, registry: str, repository: str | None = None) -> Credentials | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise FsdgimgError(f"{path}: unreadable auth file ({type(e).__name__})") from None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        return None
    entries = {_normalize_key(k): v for k, v in auths.items()}
    # The most specific key wins: host/ns/repo, host/ns, host (containers-auth.json(5)).
    candidates = []
    if repository:
        parts = repository.split("/")
        candidates = [f"{registry}/{'/'.join(parts[:i])}" for i in range(len(parts), 0, -1)]
    for key in (*candidates, registry):
        if key in entries:
            creds = _from_entry(entries[key], str(path))
            if creds:
                return creds
    return None


def find_credentials(registry: str, repository: str | None = None, *, username: str | None = None,
                     password: str | None = None) -> Credentials | None:
    if username is not None or password is not None:
        if not username or password is None:
            raise UsageError("--username and --password-stdin go together")
        return Credentials(username, password, "command line")
    env_user, env_password = os.environ.get(ENV_USERNAME), os.environ.get(ENV_PASSWORD)
    if env_user and env_password is not None:
        return Credentials(env_user, env_password, "environment")
    for path in auth_files():
        creds = lookup_auth_file(path, registry, repository)
        if creds:
            return creds
    return None


_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^",\s]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic" or "bearer"
    params: dict[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """WWW-Authenticate (RFC 7235): one or more `Scheme k=v, k="v"` challenges."""
    out: list[Challenge] = []
    pos = 0
    header = header or ""
    while pos < len(header):
        m = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9_-]*)").match(header, pos)
        if not m:
            break
        scheme, pos = m.group(1).lower(), m.end()
        params: dict[str, str] = {}
        while True:
            p = _PARAM.match(header, pos)
            # A bare token followed by a space is the next challenge's scheme, not a parameter.
            if not p:
                break
            params[p.group(1).lower()] = (re.sub(r"\\(.)", r"\1", p.group(2)) if p.group(2) is not None
                                          else p.group(3))
            pos = p.end()
        out.append(Challenge(scheme, params))
    return out
