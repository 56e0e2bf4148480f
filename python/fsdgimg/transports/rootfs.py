"""Reader for root file systems: a tarball or a directory becomes a one-layer image."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

from fsdgimg.errors import InputError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci.blobstore import BlobStore
from fsdgimg.oci.compression import Compression
from fsdgimg.oci.descriptor import Descriptor, Platform
from fsdgimg.oci.image import Image
from fsdgimg.oci.imageconfig import new_config
from fsdgimg.oci.jsonio import dump_json
from fsdgimg.oci.layer import LayerBlob, import_layer, import_layer_from_writer
from fsdgimg.oci.manifest import ImageManifest
from fsdgimg.progress import CountingReader, Progress


def _tar_directory(root: Path, out, epoch: int, collector=None) -> None:
    """Write `root` as a reproducible tar: sorted names, numeric owners, mtimes clamped to `epoch`.
    `collector` sees each member as TarWalker shows it one (see fsdgimg.oci.tarwalk.TarWalker)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20) as tf:
        def add(path: Path, arcname: str) -> None:
            info = tf.gettarinfo(str(path), arcname)
            info.mtime = min(int(info.mtime), epoch)
            info.uname = info.gname = ""
            wanted = collector is not None and collector.member(arcname, info)
            if info.isreg():
                with open(path, "rb") as f:
                    if wanted:
                        # A small file (the collector's limit): read once, archived and kept.
                        data = f.read(info.size)
                        collector.data(data)
                        f = io.BytesIO(data)
                    tf.addfile(info, f)
            else:
                tf.addfile(info)

        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            base = Path(dirpath)
            rel = base.relative_to(root)
            names = sorted(dirnames + filenames)
            for name in names:
                path = base / name
                arc = str(rel / name) if str(rel) != "." else name
                mode = path.lstat().st_mode
                if stat.S_ISSOCK(mode):
                    continue  # sockets cannot be archived and mean nothing in an image
                add(path, arc)
            # os.walk does not descend into symlinked directories: nothing to do for them.


def load_rootfs(path: Path, store: BlobStore, compression: Compression = Compression(), *,
                platform: Platform | None = None, epoch: int = 0, docker: bool = False,
                cmd: list[str] | None = None, env: list[str] | None = None,
                progress: Progress | None = None, collect=None) -> Image:
    """`collect(what)`: a collector for the layer's members (fsdgimg.sbom.generate.collector), whose
    findings the image carries as `collected`, by diff ID."""
    what = str(path)
    if path.is_dir():
        collector = collect(what) if collect is not None else None
        blob: LayerBlob = import_layer_from_writer(
            lambda out: _tar_directory(path, out, epoch, collector), store, compression, what, docker,
            collector)
    else:
        try:
            raw = open(path, "rb")
        except OSError as e:
            raise InputError(f"{what}: {e.strerror}") from None
        with raw:
            blob = import_layer(CountingReader(raw, progress), store, compression, what, docker, collect)
    platform = platform or Platform.host()
    config = new_config([blob.diff_id], platform, epoch, env=env, cmd=cmd or ["/bin/sh"])
    config_bytes = dump_json(config)
    config_desc = Descriptor(mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG,
                             store.put_bytes(config_bytes), len(config_bytes))
    manifest = ImageManifest(mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST, config_desc,
                             [blob.descriptor])
    image = Image(manifest, config_bytes, store, None, None, what, fresh=True)
    if blob.collected is not None:
        image.collected = {blob.diff_id: blob.collected}
    return image
