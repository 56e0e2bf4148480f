"""The command line against hostile input: one line (escaped), the right exit status, no traceback,
nothing left behind — for names that act on terminals, values of the wrong type, out-of-range
numbers, deep nesting, signals, full disks and truncated blobs."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from fixtures.cli import fsdgimg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fsdgimg.cli import main
from hostile import generators as g

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RAW_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def run(*args, env: dict | None = None) -> tuple[int, str, str]:
    """fsdgimg in this process (hypothesis runs it many times): exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_term = dict(os.environ), signal.getsignal(signal.SIGTERM)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:  # argparse
                code = e.code
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        signal.signal(signal.SIGTERM, saved_term)
    return code, out.getvalue(), err.getvalue()


def assert_one_line(code: int, err: str, *, status: tuple = (1, 2)) -> str:
    assert code in status, (code, err)
    assert "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert not RAW_CONTROL.search(err[:-1]), repr(err)
    return err


# --- item 7: names that act on terminals are escaped, one failure is one line ---

@SETTINGS
@given(g.hostile_text)
def test_hostile_file_names_are_escaped(tmp_path_factory, name):
    src = tmp_path_factory.getbasetemp() / ("missing-" + name.replace("/", "_").replace("\0", "0"))
    code, _, err = run("convert", src, "oci:/nonexistent-dir/out")
    assert_one_line(code, err)


@SETTINGS
@given(g.hostile_text)
def test_hostile_tags_and_locations_are_usage_errors(tag):
    code, _, err = run("inspect", f"oci:/nonexistent:{tag}x")
    assert_one_line(code, err)


@SETTINGS
@given(g.json_values)
def test_hostile_repo_tags(value):
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "a.tar"
        src.write_bytes(g.docker_archive(repo_tags=value))
        code, out, err = run("convert", src, f"oci:{d}/out", "--json")
        if code != 0:
            assert_one_line(code, err, status=(1,))
            assert not (Path(d) / "out").exists()


@SETTINGS
@given(st.sampled_from(["architecture", "os", "variant", "os.version", "created"]), g.json_values)
def test_hostile_config_values_are_refused_when_read_or_printed_escaped(key, value):
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "a.tar"
        src.write_bytes(g.docker_archive(config_extra={key: value}))
        code, _, err = run("convert", src, f"oci:{d}/out:t")
        if code != 0:
            assert_one_line(code, err, status=(1,))
            assert not isinstance(value, str) and value is not None
            return
        code, out, err = run("inspect", f"oci:{d}/out:t")
        assert code == 0, err
        assert not RAW_CONTROL.search(out.replace("\n", "")), repr(out)


def test_issue_probes_for_archives(tmp_path):
    for bad, words in [(g.docker_archive(repo_tags=5), "RepoTags"),
                       (g.docker_archive(repo_tags=[5]), "RepoTags"),
                       (g.docker_archive(config_extra={"architecture": 7}), "'architecture' must be a string"),
                       (g.docker_archive(config_extra={"os": ["linux"]}), "'os' must be a string"),
                       (g.docker_archive(config_extra={"variant": {"v": 8}}), "'variant' must be a string")]:
        src = tmp_path / "a.tar"
        src.write_bytes(bad)
        proc = fsdgimg("convert", src, f"oci:{tmp_path / 'out'}", check=False)
        err = assert_one_line(proc.returncode, proc.stderr.decode(), status=(1,))
        assert words in err and not (tmp_path / "out").exists()


def test_inspect_of_a_layout_with_a_bad_config_is_one_line(tmp_path):
    """A layout written by something else (or an older fsdgimg) with `"architecture": 7`."""
    src = tmp_path / "a.tar"
    src.write_bytes(g.docker_archive())
    fsdgimg("convert", src, f"oci:{tmp_path / 'out'}:t")
    index = json.loads((tmp_path / "out" / "index.json").read_bytes())
    blobs = tmp_path / "out" / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    config_path = blobs / manifest["config"]["digest"].split(":")[1]
    config = json.loads(config_path.read_bytes())
    config["architecture"] = 7
    data = json.dumps(config).encode()
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    manifest["config"].update(digest="sha256:" + digest, size=len(data))
    mdata = json.dumps(manifest).encode()
    mdigest = hashlib.sha256(mdata).hexdigest()
    (blobs / mdigest).write_bytes(mdata)
    index["manifests"][0].update(digest="sha256:" + mdigest, size=len(mdata))
    (tmp_path / "out" / "index.json").write_text(json.dumps(index))
    proc = fsdgimg("inspect", f"oci:{tmp_path / 'out'}:t", check=False)
    assert "'architecture' must be a string" in assert_one_line(proc.returncode, proc.stderr.decode(), status=(1,))


def test_summary_lines_are_escaped(tmp_path):
    src = tmp_path / "a.tar"
    src.write_bytes(g.docker_archive())
    code, out, err = run("convert", src, f"oci:{tmp_path}/e\x1b[31m\rx:t")
    assert code == 0, err
    assert out.count("\n") == 1 and not RAW_CONTROL.search(out[:-1]) and "\\x1b[31m\\rx" in out, repr(out)


@pytest.mark.parametrize("value,words", [(b"1e400", "out of range"), (b'"\\udcff"', "lone UTF-16 surrogate"),
                                         (b"9" * 5000, "malformed JSON"), (b"NaN", "NaN")])
def test_json_values_no_writer_can_write_back(tmp_path, value, words):
    """Read, such a config could not be written again (json refuses inf, UTF-8 a lone surrogate)."""
    config = (b'{"architecture":"amd64","os":"linux","config":{"env":["A=1"]},"author":' + value +
              b',"rootfs":{"type":"layers","diff_ids":["sha256:' + hashlib.sha256(g.LAYER).hexdigest().encode() + b'"]}}')
    src = tmp_path / "a.tar"
    src.write_bytes(g.tar_bytes({"abc/layer.tar": g.LAYER, "config.json": config, "manifest.json":
                                 json.dumps([{"Config": "config.json", "Layers": ["abc/layer.tar"]}]).encode()}))
    code, _, err = run("convert", src, f"oci:{tmp_path / 'o'}")
    assert words in assert_one_line(code, err, status=(1,))


def test_endless_input_is_refused(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fsdgimg", "convert", "/dev/zero", f"oci:{tmp_path / 'o'}"],
                          capture_output=True, timeout=120)
    assert "after the tar archive's end-of-archive block" in assert_one_line(proc.returncode, proc.stderr.decode())
    assert list(tmp_path.iterdir()) == []


# --- item 6: numbers out of range and deep nesting ---

@pytest.mark.parametrize("value", ["99999999999999", "253402300800", "1e5", "-1", "\u0661\u0662", ""])
def test_source_date_epoch_out_of_range_or_malformed(tmp_path, value):
    src = tmp_path / "a.tar"
    src.write_bytes(g.docker_archive())
    if value:
        code, _, err = run("convert", src, f"oci:{tmp_path / 'o1'}", f"--source-date-epoch={value}")
        assert_one_line(code, err, status=(2,))
    code, _, err = run("convert", src, f"oci:{tmp_path / 'o2'}", env={"SOURCE_DATE_EPOCH": value})
    if value == "":  # unset, as reproducible-builds.org says
        assert code == 0, err
    else:
        assert "SOURCE_DATE_EPOCH" in assert_one_line(code, err, status=(2,))
    assert not (tmp_path / "o1").exists()


def test_largest_epoch_is_accepted(tmp_path):
    src = tmp_path / "a.tar"
    src.write_bytes(g.docker_archive())
    code, _, err = run("convert", src, f"oci:{tmp_path / 'o'}:t", "--source-date-epoch", "253402300799")
    assert code == 0, err
    code, out, _ = run("inspect", f"oci:{tmp_path / 'o'}:t", "--json")
    assert "9999-12-31T23:59:59Z" in out


@pytest.mark.parametrize("entry,words", [
    ({"cmd": g.raw("[" * 5000 + "]" * 5000)}, "nested too deeply"),
    ({"tag": "../../x"}, "invalid tag"),
    ({"tag": "a\x1b[2Jb"}, "holds a control character"),
    ({"tag": 7}, "'tag' must be a str"),
])
def test_hostile_catalogs(tmp_path, entry, words):
    path = tmp_path / "catalog.toml"
    path.write_text(g.catalog(**entry))
    code, _, err = run("list", "--catalog", path)
    assert words in assert_one_line(code, err, status=(1,))


# --- item 9: locations, exit statuses, signals, full disks, truncated blobs ---

def test_oci_location_with_a_path_as_tag_writes_nothing(tmp_path):
    src = tmp_path / "a.tar"
    src.write_bytes(g.docker_archive())
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "fsdgimg", "convert", str(src), "oci:DIR:../../x"],
                          cwd=work, capture_output=True)
    assert "invalid tag" in assert_one_line(proc.returncode, proc.stderr.decode(), status=(2,))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "a.tar", "b"]


def test_a_colon_in_an_existing_path_is_still_a_path(tmp_path):
    src = tmp_path / "a.tar"
    src.write_bytes(g.docker_archive())
    fsdgimg("convert", src, f"oci:{tmp_path / 'with:colon/layout'}:t")
    code, out, err = run("inspect", f"oci:{tmp_path / 'with:colon/layout'}:t")
    assert code == 0, err


@pytest.mark.parametrize("args", [
    ["convert"],
    ["convert", "a.tar", "oci:out:bad/tag"],
    ["convert", "a.tar", "oci:out", "--tag", "-bad"],
    ["convert", "a.tar", "oci:out", "--platform", "nonsense"],
    ["inspect", "oci:out", "--platform", "a/b/c/d/e"],
    ["convert", "a.tar", "docker://no-registry-here"],
    ["convert", "a.tar", "nosuchtransport:x"],
    ["convert", "a.tar", "oci:out", "--compression", "zstd", "--level", "99"],
    ["nosuchcommand"],
    ["publish", "oci:out", "--to", "static:tree", "--name", "Bad Name:v1"],
    ["publish", "oci:out", "--to", "static:tree", "--name", "ok/name:-tag"],
    ["publish", "oci:out", "--to", "static:tree", "--additional-tag", "../x"],
])
def test_usage_errors_exit_2(tmp_path, args):
    (tmp_path / "a.tar").write_bytes(g.docker_archive())
    proc = subprocess.run([sys.executable, "-m", "fsdgimg", *args], cwd=tmp_path, capture_output=True)
    assert_one_line(proc.returncode, proc.stderr.decode(), status=(2,))
    assert not (tmp_path / "out").exists()


def big_archive(path: Path) -> Path:
    # incompressible data: gzip -9 of it keeps the conversion busy for seconds
    path.write_bytes(g.docker_archive(layer=g.tar_bytes({"data": os.urandom(96 << 20)})))
    return path


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("big")
    archive = big_archive(d / "big.tar")
    fsdgimg("convert", archive, f"oci:{d / 'layout'}:t", "--compression", "none")
    return {"docker-archive": str(archive), "oci": f"oci:{d / 'layout'}:t"}


@pytest.mark.parametrize("source", ["docker-archive", "oci"])
@pytest.mark.parametrize("delay", [0.05, 0.5, 1.5])
def test_sigterm_cleans_up_like_sigint(tmp_path, big_inputs, source, delay):
    """No scratch store, temporary layout or half-written blob is left, whenever SIGTERM comes."""
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "fsdgimg", "convert", big_inputs[source], f"oci:{out / 'layout'}:t",
                             "--compression", "gzip", "--level", "9"], cwd=out, stderr=subprocess.PIPE)
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("finished before the signal")  # pragma: no cover - a very fast machine
    assert proc.returncode in (143, -15), err
    assert b"Traceback" not in err, err
    assert proc.returncode == -15 or err.decode().endswith("terminated\n"), err
    assert list(out.iterdir()) == [], list(out.iterdir())


def test_truncated_blob_names_the_file(tmp_path):
    src = tmp_path / "a.tar"
    src.write_bytes(g.docker_archive(layer=g.tar_bytes({"data": os.urandom(1 << 20)})))
    fsdgimg("convert", src, f"oci:{tmp_path / 'l'}:t", "--compression", "none")
    blob = max((tmp_path / "l" / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    with open(blob, "r+b") as f:
        f.truncate(4096)
    for args in (["convert", f"oci:{tmp_path / 'l'}:t", f"oci:{tmp_path / 'm'}:t"],
                 ["convert", f"oci:{tmp_path / 'l'}:t", f"oci:{tmp_path / 'z'}:t", "--compression", "zstd"]):
        proc = fsdgimg(*args, check=False)
        err = assert_one_line(proc.returncode, proc.stderr.decode(), status=(1,))
        assert str(blob.relative_to(tmp_path)) in err or str(blob) in err, err
    assert not (tmp_path / "m").exists() and not (tmp_path / "z").exists()


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)]).returncode != 0:
        pytest.fail("cannot mount a tmpfs (the tests run as root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_names_where_and_leaves_nothing(tmp_path, small_disk):
    src = tmp_path / "a.tar"
    src.write_bytes(g.docker_archive(layer=g.tar_bytes({"data": os.urandom(5 << 20)})))
    for compression in ("gzip", "none"):
        proc = fsdgimg("convert", src, f"oci:{small_disk / 'out'}:t", "--compression", compression, check=False)
        err = assert_one_line(proc.returncode, proc.stderr.decode(), status=(1,))
        assert str(small_disk) in err and "No space left on device" in err, err
        assert list(small_disk.iterdir()) == []


# TOML values of every shape for every key the catalog knows, and keys it does not.
toml_values = st.recursive(
    st.one_of(st.integers(-2**70, 2**70).map(str).map(g.raw), st.sampled_from([g.raw("true"), g.raw("false")]),
              g.hostile_text.map(json.dumps).map(g.raw),
              st.text("abcdefgh-./:", max_size=12).map(json.dumps).map(g.raw),
              st.sampled_from(["1979-05-27T07:32:00Z", "1e400", "inf", "nan", "0x10"]).map(g.raw)),
    lambda inner: st.lists(inner, max_size=3).map(lambda xs: g.raw("[" + ", ".join(xs) + "]"))
    | st.dictionaries(st.sampled_from(["url", "sha256", "member", "x"]), inner, max_size=3).map(
        lambda d: g.raw("{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}")),
    max_leaves=5)
CATALOG_KEYS = ["builder", "distribution", "description", "architecture", "architectures", "tag", "cmd", "entry-point", "file",
                "channels", "system", "systems", "manifest", "max-layers", "mirror", "suite", "components",
                "include", "keyring", "keyring-source", "hooks", "packages", "unknown-key"]


@SETTINGS
@given(st.dictionaries(st.sampled_from(CATALOG_KEYS), toml_values, min_size=1, max_size=3))
@example(entry={"distribution": g.raw(json.dumps("\x1b[31m"))})   # once printed raw by `list`
def test_hostile_catalog_values(tmp_path_factory, entry):
    path = tmp_path_factory.mktemp("catalog") / "catalog.toml"
    path.write_text(g.catalog(**entry))
    for args in (["list", "--catalog", path], ["list", "--catalog", path, "--json"]):
        code, out, err = run(*args)
        if code != 0:
            assert_one_line(code, err, status=(1,))
        else:
            assert not RAW_CONTROL.search(out.replace("\n", "")), repr(out)


def test_a_signal_wrapped_by_python_is_still_a_signal():
    """A SIGTERM that lands while a lazily imported module makes its dataclasses comes out of
    __set_name__ as a RuntimeError: main() must still see the termination (one line, exit 143)."""
    from fsdgimg import cli
    from fsdgimg.errors import Terminated
    try:
        try:
            raise Terminated()
        except Terminated as signalled:
            raise RuntimeError("Error calling __set_name__ on 'Field' instance") from signalled
    except RuntimeError as wrapped:
        assert isinstance(cli._interruption(wrapped), Terminated)
    assert cli._interruption(RuntimeError("a real bug")) is None
