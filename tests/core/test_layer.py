"""Property-based tests of the layer protocol: a Layer opens exactly the bytes it names, compressed and
uncompressed, in any read sizes; any change to its blob or a wrong diff ID is a DigestMismatch or an
InputError by the end of the stream, never silently other bytes."""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsdgimg.errors import FsdgimgError
from fsdgimg.oci.blobstore import BlobStore
from fsdgimg.oci.compression import Compression
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.layer import Layer, import_layer

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
files = st.dictionaries(st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8}){0,2}", fullmatch=True), st.binary(max_size=3000),
                        min_size=0, max_size=6)
compressions = st.sampled_from(["gzip", "zstd", "none"])


def tar_of(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        dirs = sorted({"/".join(p.split("/")[:i]) for p in entries for i in range(1, p.count("/") + 1)})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
        for name, data in sorted(entries.items()):
            if name in dirs:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def read_all(stream, sizes: list[int]) -> bytes:
    parts, i = [], 0
    while True:
        chunk = stream.read(sizes[i % len(sizes)] if sizes else -1)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        i += 1
        if not sizes:
            return b"".join(parts) + read_all(stream, [])


def _layer(store: BlobStore, plain: bytes, algorithm: str) -> Layer:
    blob = import_layer(io.BytesIO(plain), store, Compression(algorithm), "test layer")
    return Layer(store, blob.descriptor, blob.diff_id, "test layer")


@SETTINGS
@given(files, compressions, st.lists(st.integers(1, 5000), max_size=4))
def test_a_layer_opens_exactly_its_bytes(entries, algorithm, sizes):
    plain = tar_of(entries)
    with tempfile.TemporaryDirectory() as d:
        store = BlobStore(Path(d))
        layer = _layer(store, plain, algorithm)
        assert layer.diff_id == Digest.of(plain)
        assert layer.compression == algorithm
        with layer.open_uncompressed() as s:
            assert read_all(s, sizes) == plain
        with layer.open_compressed() as s:
            blob = read_all(s, sizes)
        assert Digest.of(blob) == layer.digest and len(blob) == layer.size


@SETTINGS
@given(files, compressions, st.integers(0, 10**9), st.integers(1, 255))
def test_a_changed_blob_never_reads_as_the_layer(entries, algorithm, where, flip):
    plain = tar_of(entries)
    with tempfile.TemporaryDirectory() as d:
        store = BlobStore(Path(d))
        layer = _layer(store, plain, algorithm)
        path = store.path(layer.digest)
        data = bytearray(path.read_bytes())
        data[where % len(data)] ^= flip
        path.write_bytes(bytes(data))
        for opener in (layer.open_compressed, layer.open_uncompressed):
            try:
                with opener() as s:
                    s.read()
            except FsdgimgError:
                continue
            raise AssertionError(f"{opener.__name__} read a changed blob without a word")


@SETTINGS
@given(files, compressions)
def test_a_wrong_diff_id_is_named_at_the_end_of_the_stream(entries, algorithm):
    plain = tar_of(entries)
    with tempfile.TemporaryDirectory() as d:
        store = BlobStore(Path(d))
        good = _layer(store, plain, algorithm)
        layer = Layer(store, good.descriptor, Digest.of(plain + b"x"), "test layer 3")
        try:
            with layer.open_uncompressed() as s:
                s.read()
        except FsdgimgError as e:
            assert "test layer 3" in str(e) and "diff ID" in str(e)
        else:
            raise AssertionError("a wrong diff ID went unnoticed")
