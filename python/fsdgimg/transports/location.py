"""Image locations in skopeo's transport syntax: oci:DIR[:TAG], docker-archive:FILE[:NAME:TAG],
docker://HOST/NAME[:TAG|@DIGEST], static:DIR, or a bare path recognised by its content."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fsdgimg.errors import InputError, UsageError
from fsdgimg.oci.reference import Reference, check_tag


@dataclass(frozen=True)
class Location:
    kind: str
    path: Path | None = None
    tag: str | None = None
    reference: Reference | None = None

    def __str__(self) -> str:
        if self.kind == "docker":
            return f"docker://{self.reference}"
        if self.kind == "static" and self.reference is not None:
            return f"static:{self.path}/{self.reference}"
        if self.kind == "docker-archive" and self.reference is not None:
            return f"docker-archive:{self.path}:{self.reference.name}:{self.tag}"
        s = f"{self.kind}:{self.path}"
        return f"{s}:{self.tag}" if self.tag else s


def _split_tag(rest: str) -> tuple[str, str | None]:
    # oci:DIR:TAG — the tag is what follows the last ':'. A colon followed by something that is no
    # tag is part of the path only when that path exists: 'oci:DIR:../../x' must not write ./x
    # (after making a directory 'DIR:..').
    head, sep, tail = rest.rpartition(":")
    if not (sep and head):
        return rest, None
    if "/" in tail and os.path.lexists(rest):
        return rest, None
    try:
        return head, check_tag(tail)
    except InputError as e:
        raise UsageError(str(e)) from None


def _split_archive(rest: str) -> tuple[str, str | None, Reference | None]:
    """docker-archive:FILE[:NAME[:TAG]] or FILE[:TAG], split at the first ':' as skopeo does
    (a file whose own name holds ':' is taken whole when it exists). Splitting at the last ':'
    would make 'b.tar:pushed/b:v1' a file 'b' in a directory 'b.tar:pushed'."""
    path, sep, ref = rest.partition(":")
    if not sep or os.path.lexists(rest):
        return rest, None, None
    try:
        if "/" not in ref and ":" not in ref:
            return path, check_tag(ref), None      # FILE:TAG, fsdgimg's short form
        parsed = Reference.parse(ref)
    except InputError as e:
        raise UsageError(f"docker-archive:{path}: {e}") from None
    if parsed.digest is not None:
        raise UsageError(f"docker-archive:{path}: an archive names its images NAME:TAG, not by digest")
    name = f"{parsed.registry}/{parsed.name}" if parsed.registry else parsed.name
    tag = parsed.tag or "latest"
    return path, tag, Reference(None, name, tag)


def parse(text: str, *, for_writing: bool = False) -> Location:
    if not text:
        raise UsageError("empty image location")
    if text.startswith("docker://"):
        try:
            return Location("docker", reference=Reference.parse(text[len("docker://"):], need_registry=True))
        except InputError as e:  # a location is typed by the user: a malformed one is a usage error
            raise UsageError(str(e)) from None
    if text.startswith("static:"):
        return parse_static(text)
    for kind in ("oci", "docker-archive", "rootfs"):
        if text.startswith(kind + ":"):
            rest = text[len(kind) + 1:]
            reference = None
            if kind == "oci":
                path, tag = _split_tag(rest)
            elif kind == "docker-archive":
                path, tag, reference = _split_archive(rest)
            else:
                path, tag = rest, None
            if not path:
                raise UsageError(f"{text!r}: no path after '{kind}:'")
            return Location(kind, Path(path), tag, reference)
    if ":" in text.split("/")[0] and not os.path.exists(text):
        kind, _, rest = text.partition(":")
        if for_writing and rest and _is_destination(kind):   # a destination registered in fsdgimg.transports.write
            return Location(kind, Path(rest))
        raise UsageError(f"unknown transport in {text!r} (use oci:, docker-archive:, docker://, static: or a path)")
    path = Path(text)
    if for_writing:
        return Location("oci", path)
    return Location(detect(path), path)


def _is_destination(kind: str) -> bool:
    from fsdgimg.transports.kinds import WRITERS
    return kind in WRITERS


def parse_static(text: str) -> Location:
    """static:DIR names a tree; static:DIR/NAME[:TAG|@DIGEST] one image (or, for sync, one
    repository) in it, where DIR is the shortest leading path that holds v2/. A path with no v2/
    anywhere along it is a tree still to be written."""
    rest = text[len("static:"):]
    if not rest:
        raise UsageError(f"{text!r}: no path after 'static:'")
    parts = rest.rstrip("/").split("/") if rest.strip("/") else ["/"]
    for i in range(1, len(parts)):
        head = "/".join(parts[:i]) or "/"
        if (Path(head) / "v2").is_dir():
            remainder = "/".join(parts[i:])
            if not remainder:
                break
            ref = Reference.parse(remainder, registry=False)
            return Location("static", Path(head), ref.tag, ref)
    return Location("static", Path(rest))


def detect(path: Path) -> str:
    """What a bare path holds: an OCI layout, a docker/Guix archive, or a root file system."""
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_dir():
        if (path / "oci-layout").is_file():
            return "oci"
        if (path / "v2").is_dir():
            return "static"
        return "rootfs"
    # Docker and Guix archives start with image-shaped member names (manifest.json, <hex>/,
    # sha256:<hex>/, blobs/sha256/); a root file system starts with bin, etc, usr...
    from fsdgimg.transports.archive import looks_like_docker_archive
    return "docker-archive" if looks_like_docker_archive(path) else "rootfs"

