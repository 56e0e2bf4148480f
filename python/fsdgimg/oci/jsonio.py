"""Bounded, strict JSON reading and deterministic JSON writing."""

from __future__ import annotations

import json
import math
import re

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


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: no JSON writer can write it back
        raise ValueError(f"number {text[:40]} is out of range")
    return value


# An escaped UTF-16 surrogate: paired ones make one character, a lone one is no text at all.
_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F]")


def _check_text(obj, where: str) -> None:
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError(f"{where}: malformed JSON (a string holds a lone UTF-16 surrogate)") from None
        elif isinstance(x, dict):
            stack.extend(x)
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)


def load_json(data: bytes, where: str, limit: int = MAX_JSON):
    if len(data) > limit:
        raise InputError(f"{where}: JSON of {len(data)} bytes exceeds the {limit}-byte limit")
    try:
        obj = json.loads(data.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite,
                         object_pairs_hook=_no_duplicates)
        if _SURROGATE_ESCAPE.search(data):
            _check_text(obj, where)
        return obj
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply") from None
    except ValueError as e:
        raise InputError(f"{where}: malformed JSON ({e})") from None


def dump_json(obj) -> bytes:
    """Compact JSON, keys in the order given: the same object always gives the same bytes."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def bounded_list(obj, key: str, where: str, most: int, what: str) -> list:
    """`obj[key]` as a list of at most `most` entries: the list of descriptors (manifests, layers) of
    a document a server sent, bounded before anything walks it; `what` names the document."""
    items = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(items, list):
        raise InputError(f"{where}: {what} has no {key} list")
    if len(items) > most:
        raise InputError(f"{where}: {what} lists {len(items)} {key} (at most {most})")
    return items
