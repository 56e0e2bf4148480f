"""Media types of the OCI image spec and of Docker's image manifest v2 schema 2."""

OCI_LAYOUT_VERSION = "1.0.0"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

IMAGE_MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFESTS = IMAGE_MANIFESTS + INDEXES

# compression name -> layer media type, per manifest format
OCI_LAYERS = {"none": OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}
DOCKER_LAYERS = {"none": DOCKER_LAYER, "gzip": DOCKER_LAYER_GZIP}

_LAYER_COMPRESSION = {
    OCI_LAYER: "none", OCI_LAYER_GZIP: "gzip", OCI_LAYER_ZSTD: "zstd",
    DOCKER_LAYER: "none", DOCKER_LAYER_GZIP: "gzip", DOCKER_FOREIGN_LAYER_GZIP: "gzip",
    # Non-distributable variants (deprecated, still met in the wild).
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "none",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
}


def layer_compression(media_type: str) -> str | None:
    """'none', 'gzip' or 'zstd' for a known layer media type, else None."""
    return _LAYER_COMPRESSION.get(media_type)


def layer_media_type(compression: str, docker: bool = False) -> str:
    table = DOCKER_LAYERS if docker else OCI_LAYERS
    if compression not in table:
        from fsdgimg.errors import InputError
        raise InputError(f"{compression} layers have no {'Docker' if docker else 'OCI'} media type")
    return table[compression]
