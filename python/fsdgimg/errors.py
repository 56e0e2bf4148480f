"""The one exception type the command line turns into a single line on stderr."""


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
    exit_code = 2
