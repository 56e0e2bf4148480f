"""One license expression -> free / nonfree / unknown, from the license table (audit.table).

Exceptions (`WITH`) only add permissions, so the license they modify decides. `A OR B` is free
when either is; `A AND B` only when both are: a package's expression is all its files' licenses
together, free if all are free, nonfree if any is.
"""

from __future__ import annotations

import functools
import re

from fsdgimg.audit.table import FREE, NONFREE, UNKNOWN, data_versions, judge_license  # noqa: F401  (re-exported)

_RANK = {FREE: 0, UNKNOWN: 1, NONFREE: 2}


@functools.lru_cache(maxsize=1)
def _licensing():
    """license-expression's parser (imported when first needed: it takes longer to import than
    the usual expressions take to judge without it)."""
    from license_expression import Licensing
    return Licensing()


def worst(*verdicts: str) -> str:
    return max(verdicts, key=_RANK.__getitem__) if verdicts else FREE


def best(*verdicts: str) -> str:
    return min(verdicts, key=_RANK.__getitem__) if verdicts else UNKNOWN


def _combine(is_or: bool, results: list[tuple[str, list[str]]]) -> tuple[str, list[str]]:
    verdicts = [v for v, _ in results]
    if is_or:
        verdict = best(*verdicts)
        # Free through one alternative: only the alternatives that make it so are worth saying.
        reasons = [r for v, rs in results if v == verdict for r in rs]
    else:
        verdict = worst(*verdicts)
        reasons = [r for v, rs in results if v != FREE for r in rs] if verdict != FREE else \
            [r for _, rs in results for r in rs]
    return verdict, reasons


def _walk(node) -> tuple[str, list[str]]:
    """A license_expression tree."""
    from license_expression import LicenseSymbol, LicenseWithExceptionSymbol
    if isinstance(node, LicenseWithExceptionSymbol):
        return _walk(node.license_symbol)
    if isinstance(node, LicenseSymbol):
        verdict, reason = judge_license(node.key)
        return verdict, [reason]
    return _combine(isinstance(node, _licensing().OR), [_walk(arg) for arg in node.args])


# The expressions SBOMs carry, as fsdgimg writes them: SPDX ids (`ID+` too), upper-case operators,
# parentheses. Their trees are built here; anything else goes to license_expression's parser, whose
# reading (and error messages) stay the reference. Either way an AND or OR chain gives the same
# verdict and reasons however it nests: both combinations are associative.
_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*\+?\Z")


class _NotSimple(Exception):
    pass


def _plain_id(token: str | None) -> bool:
    # license_expression takes operators in any case: 'and' is no license name to it.
    return token is not None and token.lower() not in ("and", "or", "with") and _ID.match(token) is not None


def _parse_simple(expression: str):
    """("sym", key) / ("and" | "or", [nodes]) for a plain expression; raises _NotSimple otherwise."""
    tokens = _TOKEN.findall(expression)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def operand():
        nonlocal pos
        token = peek()
        if token == "(":
            pos += 1
            node = disjunction()
            if peek() != ")":
                raise _NotSimple
            pos += 1
            return node
        if not _plain_id(token):
            raise _NotSimple
        pos += 1
        if peek() == "WITH":             # an exception only adds permissions: the license decides
            pos += 1
            if not _plain_id(peek()):
                raise _NotSimple
            pos += 1
        return ("sym", token)

    def chain(kind: str, word: str, part):
        nonlocal pos
        nodes = [part()]
        while peek() == word:
            pos += 1
            nodes.append(part())
        return nodes[0] if len(nodes) == 1 else (kind, nodes)

    def conjunction():
        return chain("and", "AND", operand)

    def disjunction():
        return chain("or", "OR", conjunction)

    if not tokens:
        raise _NotSimple
    tree = disjunction()
    if pos != len(tokens):
        raise _NotSimple
    return tree


def _walk_simple(node) -> tuple[str, list[str]]:
    if node[0] == "sym":
        verdict, reason = judge_license(node[1])
        return verdict, [reason]
    return _combine(node[0] == "or", [_walk_simple(n) for n in node[1]])


def _judge_parsed(expression: str) -> tuple[str, tuple[str, ...]]:
    """Through license_expression's parser: the reference reading, for any expression."""
    try:
        tree = _licensing().parse(expression)
    except Exception as e:  # noqa: BLE001  ExpressionError, and assertions of boolean.py on '( AND X'
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        return UNKNOWN, (f"license expression {expression[:120]!r} does not parse: {why}",)
    if tree is None:
        return UNKNOWN, ("empty license expression",)
    verdict, reasons = _walk(tree)
    return verdict, tuple(dict.fromkeys(reasons))


@functools.lru_cache(maxsize=4096)
def _judge(expression: str) -> tuple[str, tuple[str, ...]]:
    try:
        verdict, reasons = _walk_simple(_parse_simple(expression))
    except _NotSimple:
        return _judge_parsed(expression)
    return verdict, tuple(dict.fromkeys(reasons))


def judge_expression(expression: str | None) -> tuple[str, list[str]]:
    if not expression or expression in ("NOASSERTION", "NONE"):
        return UNKNOWN, ["no machine-readable license"]
    verdict, reasons = _judge(expression)
    return verdict, list(reasons)
