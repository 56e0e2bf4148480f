"""The one exception type the command line turns into a single line on stderr."""

import re


class FsdgimgError(Exception):
    """An expected failure: bad input, an unreachable host, a failed build.

    The message must name what failed (a file, a host, an image) and why, in one line.
    """

    exit_code = 1


class InputError(FsdgimgError):
    """The input (archive, layout, JSON, name) is malformed or unsafe."""


class DigestMismatch(InputError):
    """Content does not hash to the digest that names it."""


class UsageError(FsdgimgError):
    """The command line itself is wrong (an option's value, a location's syntax): exit status 2."""

    exit_code = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM: raised like Ctrl-C so that every clean-up written for an interrupt also runs."""


# Control characters (C0, DEL, C1), line and paragraph separators and the bidirectional overrides
# that reorder what a terminal shows. Names from archives and registries' error text reach
# messages; on a terminal they could move the cursor, recolour, clear the screen or forge lines.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    c = match.group()
    if "\udc80" <= c <= "\udcff":  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{ord(c) - 0xdc00:02x}"
    return c.encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
    """`text` with every character that could act on a terminal written as an escape (\\x1b, \\n)."""
    return _UNPRINTABLE.sub(_escape, text)
