"""Write a small image (a signature, an attestation) beside a published image, through the one
writer: a registry push or a static tree publish, under a tag of the image's repository."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from fsdgimg.trust.remote import Target

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def manifest_bytes(config: bytes, config_type: str, layers: list[dict], *, subject: dict | None = None,
                   artifact_type: str | None = None, annotations: dict | None = None) -> bytes:
    from fsdgimg.oci.digest import Digest
    obj = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type:
        obj["artifactType"] = artifact_type
    obj["config"] = {"mediaType": config_type, "size": len(config), "digest": str(Digest.of(config))}
    obj["layers"] = layers
    if subject:
        obj["subject"] = subject
    if annotations:
        obj["annotations"] = annotations
    return json.dumps(obj, separators=(",", ":")).encode()


def write(target: Target, tag: str | None, manifest: bytes, blobs: list[bytes]) -> str:
    """Publish `manifest` (whose config and layers are among `blobs`) as TAG of the target's
    repository (static trees: untagged when TAG is None); returns the manifest digest."""
    # Writing loads the image model and the writer; reading signatures and attachments does not.
    from fsdgimg.oci.blobstore import BlobStore
    from fsdgimg.oci.image import Image
    from fsdgimg.oci.manifest import parse_manifest
    from fsdgimg.transports.write import publish_artifact
    with tempfile.TemporaryDirectory(prefix=".fsdgimg-attach-",
                                     dir=target.root if target.kind == "static" else None) as tmp:
        store = BlobStore(Path(tmp))
        for b in blobs:
            store.put_bytes(b)
        parsed = parse_manifest(manifest, f"{target.display}: {tag or 'attachment'}")
        parsed.raw = manifest
        image = Image(parsed, store.read_bytes(parsed.config), store, name=target.name, tag=tag,
                      where=f"{target.display} {tag}")
        if target.kind == "docker":
            import dataclasses
            from fsdgimg.transports.write import RegistryOptions
            # Pushed with the target's client (the one that read the image): no second /v2/ probe.
            options = dataclasses.replace(target.options or RegistryOptions(insecure=target.insecure),
                                          client=target.client())
            done = publish_artifact(image, f"docker://{target.registry}/{target.name}:{tag}", registry=options)
            return done.digest
        from fsdgimg.transports.static.writer import StaticPublisher
        return StaticPublisher(target.root).publish(image, target.name, tag).digest
