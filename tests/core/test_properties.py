"""Property-based tests of the readers: whatever the bytes, the answer is an image or an InputError."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.test_bad_input import docker_archive, tar_bytes
from fsdgimg.errors import FsdgimgError, InputError
from fsdgimg.oci.blobstore import BlobStore
from fsdgimg.oci.compression import Compression
from fsdgimg.oci.descriptor import Descriptor
from fsdgimg.oci.digest import Digest
from fsdgimg.oci.jsonio import dump_json, load_json
from fsdgimg.oci.layer import import_layer
from fsdgimg.oci.manifest import ImageIndex, ImageManifest, parse_manifest
from fsdgimg.oci.reference import Reference
from fsdgimg.transports.archive import load_docker_archive

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)


@SETTINGS
@given(json_values)
def test_json_round_trip(value):
    assert load_json(dump_json(value), "x") == value


@SETTINGS
@given(st.binary(max_size=300))
def test_json_reader_never_crashes(data):
    try:
        load_json(data, "x")
    except InputError:
        pass


@SETTINGS
@given(json_values)
def test_manifest_parser_accepts_or_rejects_cleanly(value):
    try:
        parse_manifest(json.dumps(value).encode(), "m")
    except InputError:
        pass


digests = st.binary(min_size=1, max_size=8).map(Digest.of)
descriptors = st.builds(Descriptor, st.sampled_from(["application/vnd.oci.image.layer.v1.tar+gzip",
                                                     "application/vnd.oci.image.config.v1+json"]),
                        digests, st.integers(0, 2**40),
                        st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=3))


@SETTINGS
@given(descriptors, st.lists(descriptors, max_size=5),
       st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=3))
def test_manifest_write_then_read(config, layers, annotations):
    m = ImageManifest("application/vnd.oci.image.manifest.v1+json", config, layers, annotations)
    back = parse_manifest(m.to_bytes(), "m")
    assert back.config == config and back.layers == layers and back.annotations == annotations
    assert [d.annotations for d in back.layers] == [d.annotations for d in layers]
    assert back.digest == m.digest
    index = ImageIndex("application/vnd.oci.image.index.v1+json", [m.descriptor()])
    assert parse_manifest(index.to_bytes(), "i").manifests == [m.descriptor()]


@SETTINGS
@given(st.text(max_size=80))
def test_reference_parser_accepts_or_rejects_cleanly(text):
    try:
        ref = Reference.parse(text)
    except FsdgimgError:   # InputError, or UsageError for credentials in a reference ('@/')
        return
    assert Reference.parse(str(ref)) == ref


member_names = st.lists(st.sampled_from(["a", "b", "..", ".", "", "etc", "x y", "é"]), min_size=1, max_size=4) \
    .map("/".join)
members = st.lists(st.tuples(member_names, st.binary(max_size=64)), max_size=6)


@SETTINGS
@given(members, st.integers(0, 2000), st.binary(max_size=16))
def test_layer_import_is_an_image_or_an_input_error(entries, cut, junk):
    try:
        data = tar_bytes(entries)
    except (ValueError, UnicodeError):
        return
    data = (data[:cut] + junk) if cut < len(data) else data
    with tempfile.TemporaryDirectory() as d:
        store = BlobStore(Path(d))
        try:
            blob = import_layer(io.BytesIO(data), store, Compression("gzip"), "layer")
        except InputError:
            return
        assert store.has(blob.descriptor.digest)
        assert blob.diff_id == Digest.of(data)


@SETTINGS
@given(st.integers(0, 12000), st.binary(min_size=1, max_size=8))
def test_archive_reader_on_damaged_archives(position, patch):
    """Any byte damage anywhere: a clean image (when the damage hit nothing that matters) or a clean error."""
    layer = tar_bytes([("etc/hostname", b"fsdg\n"), ("bin/sh", b"#!" * 100)])
    data = bytearray(docker_archive(layer))
    position %= len(data)
    data[position:position + len(patch)] = patch
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "a.tar"
        src.write_bytes(bytes(data))
        try:
            image = load_docker_archive(src, BlobStore(Path(d) / "store"))
        except FsdgimgError:
            return
        image.check()
        assert image.diff_ids == [Digest.of(layer)] or len(image.layers) == 1
