"""Bounded, strict JSON reading and deterministic JSON writing."""

from __future__ import annotations

import json

from fsdgimg.errors import InputError

# Distribution refuses manifests over 4 MiB; configs of real images are far below this.
MAX_JSON = 4 << 20


def _reject_constant(name: str):
    raise ValueError(f"invalid JSON constant {name}")


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_json(data: bytes, where: str, limit: int = MAX_JSON):
    if len(data) > limit:
        raise InputError(f"{where}: JSON of {len(data)} bytes exceeds the {limit}-byte limit")
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant,
                          object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply") from None
    except ValueError as e:
        raise InputError(f"{where}: malformed JSON ({e})") from None


def dump_json(obj) -> bytes:
    """Compact JSON, keys in the order given: the same object always gives the same bytes."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
