"""Image names, tags and references, by the OCI distribution spec's grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fsdgimg.errors import InputError, UsageError
from fsdgimg.oci.digest import Digest

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*\Z")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
DOMAIN = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]{{1,5}})?\Z")
MAX_NAME = 255


def check_name(name: str) -> str:
    if not name or len(name) > MAX_NAME or not NAME.match(name):
        raise InputError(f"invalid repository name {name[:300]!r}: lowercase letters, digits and "
                         f"separators (. _ __ -), components joined by '/', at most {MAX_NAME} characters")
    return name


def check_tag(tag: str) -> str:
    if not TAG.match(tag or ""):
        raise InputError(f"invalid tag {tag[:200]!r}: 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'")
    return tag


@dataclass(frozen=True)
class Reference:
    """NAME[:TAG][@DIGEST] with an optional registry host in front."""
    registry: str | None
    name: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str, *, need_registry: bool = False, registry: bool = True) -> "Reference":
        """`registry=False`: NAME[:TAG][@DIGEST] only (a static tree's repositories have no host)."""
        rest = text
        digest = None
        userinfo, at, after = text.partition("@")
        if at and ("/" in after or (":" in userinfo and not after.startswith(("sha256:", "sha512:")))):
            # user:password@HOST/NAME: a URL habit. A digest never holds '/', so this is no digest;
            # the message names the host, never what came before '@'.
            host = after.partition("/")[0]
            raise UsageError(f"{host[:100]!r}: credentials do not go into an image reference "
                             "(user:password@HOST); give --username and --password-stdin, or log in "
                             "with podman or skopeo")
        if "@" in rest:
            rest, _, d = rest.partition("@")
            digest = Digest.parse(d)
        tag = None
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            rest, tag = rest[:colon], check_tag(rest[colon + 1:])
        host = None
        first, sep, remainder = rest.partition("/")
        if registry and sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
            if not DOMAIN.match(first):
                raise InputError(f"invalid registry host {first!r} in {text!r}")
            host, rest = first, remainder
        if need_registry and host is None:
            raise InputError(f"{text!r} names no registry host (expected HOST[:PORT]/NAME[:TAG])")
        return cls(host, check_name(rest), tag, digest)

    @property
    def reference(self) -> str:
        """The tag or digest as it goes into /v2/<name>/manifests/<reference>."""
        return str(self.digest) if self.digest else (self.tag or "latest")

    def __str__(self) -> str:
        s = f"{self.registry}/{self.name}" if self.registry else self.name
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s
