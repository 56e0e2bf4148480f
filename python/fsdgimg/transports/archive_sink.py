"""Writer for docker archives (`docker load`, `podman load`, skopeo's docker-archive:), reproducibly:
fixed member order, owners, modes and times. Written beside the target and renamed into place."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from fsdgimg.oci.digest import CHUNK
from fsdgimg.errors import UsageError
from fsdgimg.oci.image import Artifact, Image
from fsdgimg.oci.jsonio import dump_json


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
    """A temporary file holding layer i as plain tar (checked against its diff ID as it is read):
    a tar member's size goes before its bytes, and only the end of the stream tells it."""
    path = scratch / f"layer-{i}.tar"
    with image.layer(i).open_uncompressed() as plain, open(path, "wb") as out:
        while chunk := plain.read(CHUNK):
            out.write(chunk)
    return path


def write(artifact, loc, options) -> "Written":
    """fsdgimg.transports.write.write() for docker-archive:FILE. The digest reported is the manifest's,
    as for every destination (the archive itself holds the config and the uncompressed layers)."""
    from fsdgimg.transports.write import Written, default_tag
    from fsdgimg.transports.sinks import realized
    tag = loc.tag or default_tag(artifact, options)
    name = loc.reference.name if loc.reference is not None else artifact.name or 'image'
    repo_tag = f"{name}:{tag}"
    with realized(artifact, Path(loc.path).resolve().parent) as image:
        report = write_docker_archive(loc.path, image, repo_tag)
    report = {"destination": f"docker-archive:{loc.path}", "format": "docker-archive", "tag": tag,
              "digest": str(image.digest), "config": report["config"], "layers": report["layers"]}
    return Written(f"docker-archive:{loc.path}", str(image.digest), report)


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
    return {"digest": str(image.digest), "config": str(image.manifest.config.digest), "layers": len(layer_names)}

