"""Image manifests and image indexes, OCI and Docker schema 2, read and written.

A manifest keeps the exact bytes it was read from: its digest is the digest of those bytes,
and re-serialising someone else's JSON would change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fsdgimg.errors import InputError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.descriptor import Descriptor, Platform, _annotations
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import dump_json, load_json


class _Serialized:
    """Exact bytes, made once (or kept as read), and the digest and descriptor that follow from them."""

    media_type: str
    raw: bytes | None

    def _json(self) -> dict:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        if self.raw is None:
            obj = {"schemaVersion": 2, "mediaType": self.media_type, **self._json()}
            if self.annotations:
                obj["annotations"] = dict(sorted(self.annotations.items()))
            self.raw = dump_json(obj)
        return self.raw

    @property
    def digest(self) -> Digest:
        return Digest.of(self.to_bytes())

    def descriptor(self, annotations: dict | None = None, platform: Platform | None = None) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.to_bytes()), annotations or {}, platform)


@dataclass
class ImageManifest(_Serialized):
    media_type: str
    config: Descriptor
    layers: list[Descriptor]
    annotations: dict[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    raw: bytes | None = None

    @property
    def is_docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST

    def _json(self) -> dict:
        obj: dict = {"config": self.config.to_json(), "layers": [d.to_json() for d in self.layers]}
        if self.subject:
            obj["subject"] = self.subject.to_json()
        return obj


@dataclass
class ImageIndex(_Serialized):
    media_type: str
    manifests: list[Descriptor]
    annotations: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None

    @property
    def is_docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST_LIST

    def _json(self) -> dict:
        return {"manifests": [d.to_json() for d in self.manifests]}


def parse_manifest(data: bytes, where: str, media_type: str | None = None) -> ImageManifest | ImageIndex:
    """Parse manifest or index bytes. `media_type` is what the transport said (Content-Type, descriptor)."""
    obj = load_json(data, where)
    if not isinstance(obj, dict):
        raise InputError(f"{where}: a manifest must be a JSON object")
    if obj.get("schemaVersion") != 2:
        raise InputError(f"{where}: schemaVersion {obj.get('schemaVersion')!r} is not supported (need 2)")
    declared = obj.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise InputError(f"{where}: mediaType must be a string")
    if declared and media_type and declared != media_type:
        raise InputError(f"{where}: says it is {declared} but was given as {media_type}")
    kind = declared or media_type
    if kind is None:
        # OCI allows mediaType to be absent; tell the two shapes apart by their fields.
        kind = mt.OCI_INDEX if "manifests" in obj else mt.OCI_MANIFEST
    if kind in mt.IMAGE_MANIFESTS:
        layers = obj.get("layers")
        if not isinstance(layers, list):
            raise InputError(f"{where}: 'layers' missing or not a list")
        return ImageManifest(
            kind, Descriptor.from_json(obj.get("config"), f"{where} config"),
            [Descriptor.from_json(d, f"{where} layer {i}") for i, d in enumerate(layers)],
            _annotations(obj, where),
            Descriptor.from_json(obj["subject"], f"{where} subject") if obj.get("subject") else None,
            raw=bytes(data))
    if kind in mt.INDEXES:
        manifests = obj.get("manifests")
        if not isinstance(manifests, list):
            raise InputError(f"{where}: 'manifests' missing or not a list")
        return ImageIndex(kind, [Descriptor.from_json(d, f"{where} manifest {i}")
                                 for i, d in enumerate(manifests)],
                          _annotations(obj, where), raw=bytes(data))
    raise InputError(f"{where}: unsupported manifest media type {kind[:100]!r}")


def to_docker(manifest: ImageManifest) -> ImageManifest:
    """The same image as a Docker schema 2 manifest (zstd layers have no Docker media type)."""
    if manifest.is_docker:
        return manifest
    layers = []
    for d in manifest.layers:
        comp = mt.layer_compression(d.media_type)
        if comp is None or comp not in mt.DOCKER_LAYERS:
            raise InputError(f"layer {d.digest.short} ({d.media_type}) cannot be expressed in a Docker manifest")
        layers.append(Descriptor(mt.layer_media_type(comp, docker=True), d.digest, d.size, {}, None, d.urls))
    config = Descriptor(mt.DOCKER_CONFIG, manifest.config.digest, manifest.config.size)
    return ImageManifest(mt.DOCKER_MANIFEST, config, layers)


def to_oci(manifest: ImageManifest) -> ImageManifest:
    if not manifest.is_docker:
        return manifest
    layers = [Descriptor(mt.layer_media_type(mt.layer_compression(d.media_type) or "none"),
                         d.digest, d.size, dict(d.annotations), None, d.urls) for d in manifest.layers]
    config = Descriptor(mt.OCI_CONFIG, manifest.config.digest, manifest.config.size)
    return ImageManifest(mt.OCI_MANIFEST, config, layers, dict(manifest.annotations))
