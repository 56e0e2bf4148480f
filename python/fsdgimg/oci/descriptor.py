"""Descriptors and platforms (OCI image-spec descriptor.md, image-index.md)."""

from __future__ import annotations

import platform as _host
import re
from dataclasses import dataclass, field, replace

from fsdgimg.errors import InputError
from fsdgimg.oci.digest import Digest

_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\Z")


def _need(obj: dict, key: str, kind: type, where: str):
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise InputError(f"{where}: field {key!r} missing or not a {kind.__name__}")
    return value


def _annotations(obj: dict, where: str) -> dict[str, str]:
    value = obj.get("annotations")
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InputError(f"{where}: annotations must map strings to strings")
    return dict(value)


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Platform":
        """Parse OS/ARCH[/VARIANT], e.g. linux/arm64/v8."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(re.fullmatch(r"[a-z0-9_.-]+", p) for p in parts):
            raise InputError(f"invalid platform {text!r}: expected OS/ARCH[/VARIANT]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def host(cls) -> "Platform":
        machine = _host.machine()
        arch = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm",
                "ppc64le": "ppc64le", "riscv64": "riscv64", "s390x": "s390x"}.get(machine, machine)
        return cls("linux", arch, "v7" if machine == "armv7l" else None)

    @classmethod
    def from_json(cls, obj, where: str) -> "Platform":
        if not isinstance(obj, dict):
            raise InputError(f"{where}: platform must be an object")
        return cls(_need(obj, "os", str, where), _need(obj, "architecture", str, where),
                   obj.get("variant") or None, obj.get("os.version") or None)

    def to_json(self) -> dict:
        out = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.variant:
            out["variant"] = self.variant
        return out

    def matches(self, other: "Platform") -> bool:
        return (self.os == other.os and self.architecture == other.architecture
                and (self.variant is None or other.variant is None or self.variant == other.variant))

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None

    @classmethod
    def from_json(cls, obj, where: str) -> "Descriptor":
        if not isinstance(obj, dict):
            raise InputError(f"{where}: descriptor must be an object")
        media_type = _need(obj, "mediaType", str, where)
        if not _MEDIA_TYPE.match(media_type):
            raise InputError(f"{where}: invalid media type {media_type[:80]!r}")
        size = _need(obj, "size", int, where)
        if size < 0:
            raise InputError(f"{where}: negative size")
        digest = Digest.parse(_need(obj, "digest", str, where))
        platform = Platform.from_json(obj["platform"], where) if obj.get("platform") else None
        urls = obj.get("urls") or ()
        if not isinstance(urls, (list, tuple)) or not all(isinstance(u, str) for u in urls):
            raise InputError(f"{where}: urls must be a list of strings")
        return cls(media_type, digest, size, _annotations(obj, where), platform, tuple(urls),
                   obj.get("artifactType"))

    def to_json(self) -> dict:
        out: dict = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        if self.platform:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    def with_annotations(self, annotations: dict[str, str]) -> "Descriptor":
        return replace(self, annotations=dict(annotations))

    def with_platform(self, platform: Platform | None) -> "Descriptor":
        return replace(self, platform=platform)
