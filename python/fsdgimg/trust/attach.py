"""Write a small image (a signature, an attestation) beside a published image, through the one
writer: a registry push or a static tree publish, under a tag of the image's repository."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fsdgimg.trust.remote import Target


def write(target: Target, tag: str | None, manifest: bytes, blobs: list[bytes], *,
          unseen: list[bytes] = ()) -> str:
    """Publish `manifest` (whose config and layers are among `blobs`) as TAG of the target's
    repository (untagged when TAG is None); returns the manifest digest. `unseen`:
    those of `blobs` made just now around a fresh signature, which a registry is not asked about."""
    target.listings.clear()          # what refers to what may change: no listing read before holds
    # Writing loads the image model and the writer; reading signatures and attachments does not.
    from fsdgimg.oci.blobstore import BlobStore, MemoryBlobs
    from fsdgimg.oci.image import Image
    from fsdgimg.oci.manifest import parse_manifest
    from fsdgimg.transports.write import publish_artifact
    parsed = parse_manifest(manifest, f"{target.display}: {tag or 'attachment'}")
    parsed.raw = manifest

    def image_of(store) -> tuple[Image, frozenset]:
        new = frozenset(store.put_bytes(b) for b in unseen)
        for b in blobs:
            store.put_bytes(b)
        return Image(parsed, store.read_bytes(parsed.config), store, name=target.name, tag=tag,
                     where=f"{target.display} {tag}"), new

    if target.kind == "docker":
        import dataclasses

        from fsdgimg.transports.options import RegistryOptions
        image, new = image_of(MemoryBlobs())     # a few small blobs, pushed at once: no disk
        # Pushed with the target's client (the one that read the image): no second /v2/ probe.
        options = dataclasses.replace(target.options or RegistryOptions(insecure=target.insecure),
                                      client=target.client(), unseen=new)
        # Untagged (a referrer): pushed by its digest.
        ref = f":{tag}" if tag is not None else f"@{parsed.digest}"
        return publish_artifact(image, f"docker://{target.registry}/{target.name}{ref}", registry=options).digest
    from fsdgimg.transports.static.writer import StaticPublisher
    with tempfile.TemporaryDirectory(prefix=".fsdgimg-attach-", dir=target.root) as tmp:
        image, _ = image_of(BlobStore(Path(tmp)))
        return StaticPublisher(target.root).publish(image, target.name, tag).digest
