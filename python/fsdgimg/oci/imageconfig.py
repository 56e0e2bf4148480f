"""Image configuration (OCI image-spec config.md): normalising what builders write, creating new ones."""

from __future__ import annotations

import datetime as _dt

from fsdgimg.errors import InputError, UsageError
from fsdgimg.oci.descriptor import Platform
from fsdgimg.oci.digest import Digest

# Guix writes the container config with lowercase keys ("env", "entrypoint"); Go clients read
# them case-insensitively, but the OCI spec names them in CamelCase, and other readers match exactly.
_CONFIG_KEYS = {k.lower(): k for k in (
    "User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
    "StopSignal", "ArgsEscaped", "Memory", "MemorySwap", "CpuShares", "Healthcheck", "Shell", "OnBuild")}

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The last second RFC 3339 can write (9999-12-31T23:59:59Z): later epochs have no date to put in
# `created`.
MAX_EPOCH = 253402300799
_STRING_KEYS = ("architecture", "os", "variant", "os.version", "created", "author")


def check(config: dict, where: str) -> dict:
    """Refuse, when an image is read, config values every later step takes for strings: a config
    with `"architecture": 7` would otherwise be accepted and break whoever reads it next."""
    for key in _STRING_KEYS:
        if key in config and config[key] is not None and not isinstance(config[key], str):
            raise InputError(f"{where}: config {key!r} must be a string, not {type(config[key]).__name__}")
    features = config.get("os.features")
    if features is not None and not (isinstance(features, list) and all(isinstance(f, str) for f in features)):
        raise InputError(f"{where}: config 'os.features' must be a list of strings")
    return config


def parse_epoch(text: str, what: str) -> int:
    """Seconds since the epoch, as SOURCE_DATE_EPOCH and --source-date-epoch give them."""
    if not (text.isascii() and text.isdigit()):
        raise UsageError(f"{what}={text[:40]!r} is not a number of seconds since the epoch")
    value = int(text)
    if value > MAX_EPOCH:
        raise UsageError(f"{what}={text[:40]} is out of range (at most {MAX_EPOCH}, the end of year 9999)")
    return value


def normalize(config: dict) -> tuple[dict, bool]:
    """A copy of `config` with spec key names and without legacy nulls; and whether it changed."""
    out = dict(config)
    changed = False
    inner = out.get("config")
    if isinstance(inner, dict):
        fixed = {_CONFIG_KEYS.get(k.lower(), k): v for k, v in inner.items()}
        if list(fixed) != list(inner):
            out["config"] = fixed
            changed = True
    for legacy in ("container_config", "config"):
        if legacy in out and out[legacy] is None:
            del out[legacy]
            changed = True
    return out, changed


def rfc3339(epoch: int) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_created(text) -> int | None:
    """Seconds since the epoch for an RFC 3339 `created` value, or None when absent or unparsable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return int(value.timestamp())


def new_config(diff_ids: list[Digest], platform: Platform, created_epoch: int,
               env: list[str] | None = None, cmd: list[str] | None = None,
               entrypoint: list[str] | None = None, created_by: str = "fsdgimg") -> dict:
    created = rfc3339(created_epoch)
    inner: dict = {"Env": env if env is not None else [DEFAULT_PATH]}
    if entrypoint:
        inner["Entrypoint"] = entrypoint
    if cmd:
        inner["Cmd"] = cmd
    config: dict = {"created": created, "architecture": platform.architecture, "os": platform.os}
    if platform.variant:
        config["variant"] = platform.variant
    config["config"] = inner
    config["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in diff_ids]}
    config["history"] = [{"created": created, "created_by": created_by}]
    return config
