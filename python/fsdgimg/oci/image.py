"""The one image model every source and sink speaks: an Image (manifest + config + blobs)
or an Index of them. Where the blobs live is hidden behind `blobs` (a BlobStore-like source)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union

from fsdgimg.errors import InputError
from fsdgimg.oci import imageconfig
from fsdgimg.oci.blobstore import BlobStore
from fsdgimg.oci.descriptor import Descriptor, Platform
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import load_json
from fsdgimg.oci.layer import Layer
from fsdgimg.oci.manifest import ImageIndex, ImageManifest

MAX_CONFIG = 8 << 20


@dataclass
class Image:
    manifest: ImageManifest
    config_bytes: bytes
    blobs: BlobStore
    name: str | None = None
    tag: str | None = None
    where: str = "image"
    # Blobs this process wrote and hashed moments ago: they can be linked instead of re-read.
    fresh: bool = False
    _config: dict | None = field(default=None, repr=False)
    # What the import pass collected of each layer, by diff ID (fsdgimg.sbom.files.LayerFiles): the
    # SBOM of an image imported in this process reads no layer again. Not a constructor field.
    collected: dict | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def config(self) -> dict:
        if self._config is None:
            obj = load_json(self.config_bytes, f"{self.where}: config", MAX_CONFIG)
            if not isinstance(obj, dict):
                raise InputError(f"{self.where}: config is not a JSON object")
            self._config = imageconfig.check(obj, self.where)
        return self._config

    @property
    def digest(self) -> Digest:
        return self.manifest.digest

    @property
    def layers(self) -> list[Descriptor]:
        return self.manifest.layers

    def layer(self, i: int) -> Layer:
        """Layer i as an object (its bytes are read only when one of its streams is opened)."""
        ids = self.diff_ids
        return Layer(self.blobs, self.layers[i], ids[i] if i < len(ids) else None, f"{self.where}: layer {i}")

    def layer_objects(self) -> list[Layer]:
        return [self.layer(i) for i in range(len(self.layers))]

    @property
    def diff_ids(self) -> list[Digest]:
        rootfs = self.config.get("rootfs")
        ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
        if not isinstance(ids, list):
            raise InputError(f"{self.where}: config has no rootfs.diff_ids list")
        return [Digest.parse(d) for d in ids]

    @property
    def platform(self) -> Platform:
        c = self.config
        return Platform(c.get("os") or "unknown", c.get("architecture") or "unknown",
                        c.get("variant") or None, c.get("os.version") or None)

    @property
    def created(self) -> str | None:
        return self.manifest.annotations.get("org.opencontainers.image.created") or self.config.get("created")

    def check(self) -> None:
        """The config blob matches its descriptor and the layers match the diff IDs in number."""
        if Digest.of(self.config_bytes) != self.manifest.config.digest:
            raise InputError(f"{self.where}: config does not match the manifest's config digest")
        if len(self.diff_ids) != len(self.layers):
            raise InputError(f"{self.where}: manifest has {len(self.layers)} layers but the config "
                             f"lists {len(self.diff_ids)} diff IDs")


@dataclass
class Index:
    index: ImageIndex
    children: list[Union[Image, "Index"]]
    blobs: BlobStore
    name: str | None = None
    tag: str | None = None
    where: str = "index"
    fresh: bool = False

    @property
    def digest(self) -> Digest:
        return self.index.digest

    @property
    def manifest(self) -> ImageIndex:
        return self.index


Artifact = Union[Image, Index]


def walk(x: Artifact) -> Iterator[Artifact]:
    """Every image and index, children before their parents (the order to push them in)."""
    if isinstance(x, Index):
        for child in x.children:
            yield from walk(child)
    yield x


def blob_descriptors(image: Image) -> list[Descriptor]:
    return [image.manifest.config, *image.layers]
