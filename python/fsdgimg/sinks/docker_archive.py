"""Writer for docker archives (`docker load`, `podman load`, skopeo's docker-archive:), reproducibly:
fixed member order, owners, modes and times. Written beside the target and renamed into place."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from fsdgimg import mediatypes as mt
from fsdgimg.compression import open_decompressed
from fsdgimg.digest import CHUNK, Digest
from fsdgimg.errors import DigestMismatch, InputError, UsageError
from fsdgimg.image import Artifact, Image
from fsdgimg.jsonio import dump_json


def _info(name: str, size: int = 0, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if directory:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = size
        info.mode = 0o644
    return info


def _uncompressed_layer(image: Image, i: int, scratch: Path) -> Path:
    """A temporary file holding layer i as plain tar, checked against its diff ID."""
    desc = image.layers[i]
    compression = mt.layer_compression(desc.media_type)
    if compression is None:
        raise InputError(f"{image.where}: layer {i} has media type {desc.media_type}, not a layer tar")
    expected = image.diff_ids[i]
    path = scratch / f"layer-{i}.tar"
    h = hashlib.sha256()
    with image.blobs.open(desc, f"{image.where}: layer {i}") as raw, open(path, "wb") as out:
        plain = open_decompressed(raw, compression, f"{image.where}: layer {i}")
        while chunk := plain.read(CHUNK):
            h.update(chunk)
            out.write(chunk)
        raw.read()  # reach EOF of the blob so that its digest is checked
    if Digest.from_hash(h) != expected:
        raise DigestMismatch(f"{image.where}: layer {i} has diff ID {Digest.from_hash(h)}, the config says {expected}")
    return path


def write_docker_archive(path: Path, artifact: Artifact, repo_tag: str) -> dict:
    if not isinstance(artifact, Image):
        raise UsageError(f"{path}: a docker archive holds one image; choose a platform with --platform")
    image = artifact
    image.check()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".fsdgimg-archive-", dir=path.parent))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        config_name = f"{image.manifest.config.digest.hex}.json"
        layer_names = []
        with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.USTAR_FORMAT) as tf:
            for i, diff_id in enumerate(image.diff_ids):
                layer_path = _uncompressed_layer(image, i, scratch)
                directory = diff_id.hex
                name = f"{directory}/layer.tar"
                if name not in layer_names:
                    tf.addfile(_info(directory, directory=True))
                    with open(layer_path, "rb") as lf:
                        tf.addfile(_info(name, layer_path.stat().st_size), lf)
                layer_names.append(name)
                layer_path.unlink()
            tf.addfile(_info(config_name, len(image.config_bytes)), io.BytesIO(image.config_bytes))
            manifest = dump_json([{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}])
            tf.addfile(_info("manifest.json", len(manifest)), io.BytesIO(manifest))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"digest": str(image.manifest.config.digest), "layers": len(layer_names)}

