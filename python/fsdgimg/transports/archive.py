"""The docker-archive: transport. Reading: what `guix pack -f docker` and `guix system image --image-type=docker`
write (with and without --max-layers, plain or compressed) and what `docker save` writes.

The archive is read once, front to back, as a stream: a compressed archive cannot be sought in, and
Guix puts manifest.json after the layers it names. Every large member is imported as a layer on the
spot (diff ID, compression and blob in one pass); small members are kept; once the end is reached,
manifest.json says which members are the layers and in what order.

Writing: archives for `docker load`, `podman load` and skopeo's docker-archive:, reproducibly
(fixed member order, owners, modes and times), written beside the target and renamed into place.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fsdgimg.errors import DigestMismatch, InputError, UsageError
from fsdgimg.oci import mediatypes as mt
from fsdgimg.oci import tarsafety
from fsdgimg.oci.blobstore import BlobStore
from fsdgimg.oci.compression import Compression, detect, open_decompressed
from fsdgimg.oci.descriptor import Descriptor
from fsdgimg.oci.digest import CHUNK, Digest
from fsdgimg.oci.image import Artifact, Image
from fsdgimg.oci.imageconfig import check as check_config
from fsdgimg.oci.imageconfig import normalize
from fsdgimg.oci.jsonio import MAX_JSON, dump_json, load_json
from fsdgimg.oci.layer import LayerBlob, import_layer
from fsdgimg.oci.manifest import ImageManifest
from fsdgimg.oci.reference import Reference
from fsdgimg.oci.tarwalk import TarReader
from fsdgimg.progress import CountingReader, Progress
from fsdgimg.transports.options import Written, default_tag

# Members at most this large are kept in memory until manifest.json tells what they are.
SMALL = 256 << 10
# ...and all of them together may not exceed this (an archive of a million tiny files is not an image).
SMALL_TOTAL = 64 << 20
_METADATA = {"manifest.json", "repositories", "index.json", "oci-layout"}
_DIGEST_NAMED = [
    # Guix --max-layers: the layer directory is named by the layer's diff ID.
    (re.compile(r"(?:^|/)sha256:([0-9a-f]{64})/layer\.tar\Z"), "diff_id"),
    # docker save (OCI style): blobs/sha256/<hex> holds exactly that digest's content.
    (re.compile(r"(?:^|/)blobs/sha256/([0-9a-f]{64})\Z"), "blob"),
    # docker save (legacy): the config is <image id>.json, the image ID being the config's digest.
    (re.compile(r"(?:^|/)([0-9a-f]{64})\.json\Z"), "blob"),
]
_ARCHIVE_HINT = re.compile(r"(?:^|/)(?:manifest\.json|repositories|oci-layout|index\.json|"
                           r"(?:sha256:)?[0-9a-f]{64}(?:/|\.json\Z)|blobs/sha256/)")


def _open(path: Path, progress: Progress | None):
    try:
        raw = open(path, "rb")
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None
    head = raw.read(4)
    raw.seek(0)
    counted = CountingReader(raw, progress)
    return raw, open_decompressed(counted, detect(head), str(path))


def looks_like_docker_archive(path: Path) -> bool:
    """Judge by the first few member names: docker archives start with image-shaped names."""
    raw, stream = _open(path, None)
    try:
        for i, (name, _, _) in enumerate(TarReader(stream, str(path))):
            if _ARCHIVE_HINT.search(name):
                return True
            if i >= 8:
                break
    finally:
        raw.close()
    return False


@dataclass
class _Scan:
    small: dict[str, bytes]
    layers: dict[str, LayerBlob]
    aliases: dict[str, str]


def _scan(path: Path, store: BlobStore, compression: Compression, docker: bool,
          progress: Progress | None, collect=None) -> _Scan:
    what = str(path)
    raw, stream = _open(path, progress)
    small: dict[str, bytes] = {}
    layers: dict[str, LayerBlob] = {}
    aliases: dict[str, str] = {}
    small_total = 0
    try:
        for name, member, data in TarReader(stream, what):
            if member.issym():
                aliases[name] = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
                continue
            if member.islnk():
                aliases[name] = tarsafety.normalize(member.linkname, what)
                continue
            if not member.isreg():
                continue
            base = posixpath.basename(name)
            is_meta = name in _METADATA or base in ("json", "VERSION") or base.endswith(".json")
            if is_meta and member.size > MAX_JSON:
                raise InputError(f"{what}: {name} is {member.size} bytes, too large for image metadata")
            if is_meta or member.size <= SMALL:
                small_total += member.size
                if small_total > SMALL_TOTAL:
                    raise InputError(f"{what}: more than {SMALL_TOTAL} bytes of small members; not an image archive")
                small[name] = data.read()
                continue
            layers[name] = import_layer(data, store, compression, f"{what}: {name}", docker, collect)
    finally:
        raw.close()
    return _Scan(small, layers, aliases)


def _resolve(scan: _Scan, name: str, what: str) -> str:
    name = posixpath.normpath(name).lstrip("/")
    for _ in range(16):
        if name not in scan.aliases:
            return name
        name = scan.aliases[name]
    raise InputError(f"{what}: too many links resolving {name!r}")


def _check_named_digest(name: str, actual: Digest, kind: str, what: str) -> None:
    for pattern, named_kind in _DIGEST_NAMED:
        m = pattern.search(name)
        if m and named_kind == kind and m.group(1) != actual.hex:
            raise DigestMismatch(f"{what}: {name} has digest {actual}, but its name says sha256:{m.group(1)}")


def load_docker_archive(path: Path, store: BlobStore, compression: Compression = Compression(), *,
                        tag: str | None = None, docker: bool = False,
                        progress: Progress | None = None, collect=None) -> Image:
    """Import the image of a docker archive into `store`.

    With several images in the archive, `tag` (NAME:TAG or TAG) chooses one by its RepoTags.
    `collect(what)`: a collector for each layer's members (fsdgimg.sbom.generate.collector), whose
    findings the image carries as `collected`, by diff ID.
    """
    what = str(path)
    scan = _scan(path, store, compression, docker, progress, collect)
    if "manifest.json" not in scan.small:
        raise InputError(f"{what}: manifest.json is missing (not a docker archive)")
    entries = load_json(scan.small["manifest.json"], f"{what}: manifest.json")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise InputError(f"{what}: manifest.json must be a non-empty list of objects")
    for e in entries:
        tags = e.get("RepoTags")
        if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            raise InputError(f"{what}: manifest.json RepoTags must be a list of strings")
    entry = _select(entries, tag, what)

    config_name = entry.get("Config")
    layer_names = entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list) \
            or not all(isinstance(n, str) for n in layer_names):
        raise InputError(f"{what}: manifest.json entry needs a Config string and a Layers list")
    config_name = _resolve(scan, config_name, what)
    if config_name not in scan.small:
        raise InputError(f"{what}: config {config_name} named in manifest.json is absent")
    config_bytes = scan.small[config_name]
    _check_named_digest(config_name, Digest.of(config_bytes), "blob", what)
    config = load_json(config_bytes, f"{what}: {config_name}")
    if not isinstance(config, dict):
        raise InputError(f"{what}: {config_name} is not a JSON object")
    check_config(config, f"{what}: {config_name}")

    blobs: list[LayerBlob] = []
    for i, layer_name in enumerate(layer_names):
        name = _resolve(scan, layer_name, what)
        if name in scan.layers:
            blob = scan.layers[name]
        elif name in scan.small:
            blob = import_layer(io.BytesIO(scan.small[name]), store, compression, f"{what}: {name}", docker,
                                collect)
        else:
            raise InputError(f"{what}: layer {layer_name} named in manifest.json is absent")
        _check_named_digest(name, blob.diff_id, "diff_id", what)
        if mt.layer_compression(blob.descriptor.media_type) == "none":
            _check_named_digest(name, blob.descriptor.digest, "blob", what)
        blobs.append(blob)

    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(blobs):
        raise InputError(f"{what}: config lists {len(diff_ids) if isinstance(diff_ids, list) else 'no'} "
                         f"diff IDs for {len(blobs)} layers")
    for i, (expected, blob) in enumerate(zip(diff_ids, blobs)):
        if not isinstance(expected, str):
            raise InputError(f"{what}: {config_name}: diff ID {i} is not a string")
        if Digest.parse(expected) != blob.diff_id:
            raise DigestMismatch(f"{what}: layer {i} ({layer_names[i]}) has diff ID {blob.diff_id}, "
                                 f"but the config says {expected}")

    config, changed = normalize(config)
    if changed:
        config_bytes = dump_json(config)
    config_desc = Descriptor(mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG,
                             store.put_bytes(config_bytes), len(config_bytes))
    manifest = ImageManifest(mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST, config_desc,
                             [b.descriptor for b in blobs])
    name, image_tag = _repo_tag(entry, what)
    image = Image(manifest, config_bytes, store, name, image_tag, what, fresh=True)
    if collect is not None:
        image.collected = {b.diff_id: b.collected for b in blobs if b.collected is not None}
    return image


def _select(entries: list[dict], tag: str | None, what: str) -> dict:
    if tag is None:
        if len(entries) > 1:
            tags = [t for e in entries for t in (e.get("RepoTags") or [])]
            raise InputError(f"{what}: holds {len(entries)} images; choose one with a tag ({', '.join(tags) or 'none tagged'})")
        return entries[0]
    for e in entries:
        for t in e.get("RepoTags") or []:
            if t == tag or t.rpartition(":")[2] == tag:
                return e
    if len(entries) == 1:
        return entries[0]
    raise InputError(f"{what}: no image tagged {tag!r}")


def _repo_tag(entry: dict, what: str) -> tuple[str | None, str | None]:
    tags = entry.get("RepoTags") or []
    if not isinstance(tags, list) or not tags or not isinstance(tags[0], str):
        return None, None
    try:
        ref = Reference.parse(tags[0])
    except InputError:
        raise InputError(f"{what}: manifest.json has an invalid RepoTags entry {tags[0][:200]!r}") from None
    return ref.name, ref.tag or "latest"


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


def write(artifact, loc, options) -> Written:
    """fsdgimg.transports.write.write() for docker-archive:FILE. The digest reported is the manifest's,
    as for every destination (the archive itself holds the config and the uncompressed layers)."""
    from fsdgimg.oci.mutate import realized
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
