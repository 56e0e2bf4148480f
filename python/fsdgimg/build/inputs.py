"""`build --publish-inputs`: the locked binary packages published beside the image, as one OCI 1.1
artifact whose subject is the image — config the lock itself, one layer per .deb under its own
SHA256 (the digest the lock already names), so that any registry, static tree or mirror that
carries the image can carry what it was built from, and a rebuild years later needs nothing else
(build/rebuild.py fetches each package from the image's repository by that digest).

`read_inputs` is the bounded reader of such an artifact (a hostile one may list 100,000 layers).
"""

from __future__ import annotations

from pathlib import Path

from fsdgimg.build import lock as lockmod
from fsdgimg.errors import InputError
from fsdgimg.oci.jsonio import bounded_list, load_json
from fsdgimg.signature import artifacts

INPUTS_TYPE = "application/vnd.fsdgimg.inputs.v1+json"
DEB_TYPE = "application/vnd.debian.binary-package"
MAX_LAYERS = lockmod.MAX_PACKAGES


def inputs_manifest(subject: dict, lock: lockmod.Lock) -> tuple[bytes, bytes]:
    """(manifest, config): the artifact listing every locked .deb, the lock as its config."""
    config = lock.to_bytes()
    layers = [{"mediaType": DEB_TYPE, "digest": f"sha256:{p.sha256}", "size": p.size,
               "annotations": {artifacts.TITLE: p.deb_name}}
              for p in sorted(lock.debian.packages, key=lambda p: p.filename)]
    manifest = artifacts.manifest_bytes(config, lockmod.MEDIA_TYPE, layers, subject=subject,
                                        artifact_type=INPUTS_TYPE)
    return manifest, config


def publish_inputs(target, lock: lockmod.Lock, packages_dir: Path) -> dict:
    """Attach the inputs artifact to the image `target` names; the .debs from `packages_dir` (the
    build's own download), each checked against the lock before it goes."""
    from fsdgimg.build.debian_archive import debs_by_sha256
    from fsdgimg.trust.attachments import attach_artifact, subject_of
    subject, _ = subject_of(target)
    manifest, config = inputs_manifest(subject, lock)
    have = debs_by_sha256(packages_dir)
    debs = []
    for p in sorted(lock.debian.packages, key=lambda p: p.filename):
        if p.sha256 not in have:
            raise InputError(f"{target.display}: the build's copy of {p.deb_name} is missing or differs from the lock")
        debs.append(have[p.sha256])
    done = attach_artifact(target, manifest, INPUTS_TYPE, "inputs", [config, *(p.read_bytes() for p in debs)])
    return {"inputs": done["digest"], "packages": len(debs), "bytes": sum(p.size for p in lock.debian.packages),
            "via": done["via"]}


def read_inputs(data: bytes, where: str) -> tuple[dict, list[dict]]:
    """An inputs artifact's manifest: (config descriptor, .deb layers), bounded and typed."""
    obj = load_json(data, where, 8 << 20)
    if not isinstance(obj, dict) or obj.get("artifactType") != INPUTS_TYPE:
        raise InputError(f"{where}: not an fsdgimg inputs artifact")
    layers = bounded_list(obj, "layers", where, MAX_LAYERS, "inputs artifact")
    config = obj.get("config")
    if not isinstance(config, dict) or config.get("mediaType") != lockmod.MEDIA_TYPE:
        raise InputError(f"{where}: its config is not a lock")
    for layer in layers:
        if not isinstance(layer, dict) or layer.get("mediaType") != DEB_TYPE:
            raise InputError(f"{where}: a layer that is not a Debian binary package")
    return config, layers
