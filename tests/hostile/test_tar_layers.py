"""Layers built to climb out of the directory they are extracted into.

Every layer fsdgimg accepts must be safe for the naive extractors users have: GNU tar and Python's
tarfile (with no filter), extracting into a scratch root, write nothing outside it. The checker
applies tar's own semantics (global and local pax headers, GNU long names and links, links followed
through the symbolic links earlier members made) and refuses what two tar readers would read
differently.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
from fixtures.cli import fsdgimg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fsdgimg.errors import InputError
from fsdgimg.oci.tarwalk import TarReader, TarWalker
from hostile import tarcraft as t

DEPTH = 24  # the scratch root sits this deep in the sandbox, deeper than any generated climb


def verdict(data: bytes) -> str | None:
    """None when the push walker (layers) accepts the stream, else its one-line message. The pull
    reader (a docker archive's own tar) must judge every stream the same way."""
    walker = TarWalker("layer")
    message = None
    try:
        for i in range(0, len(data), 777):  # odd chunks: headers fall across feeds
            walker.feed(data[i:i + 777])
        walker.finish()
    except InputError as e:
        message = str(e)
    try:
        for _ in TarReader(io.BytesIO(data), "layer"):
            pass
        pulled = None
    except InputError as e:
        pulled = str(e)
    assert (message is None) == (pulled is None), (message, pulled)
    if message is not None:
        assert "\n" not in message and message.startswith("layer: ")
    return message


def refused(data: bytes, *words: str) -> str:
    message = verdict(data)
    assert message is not None, "accepted"
    for w in words:
        assert w in message, message
    return message


class Sandbox:
    """A directory with a canary file and a deep scratch root; snapshot() is everything outside the root."""

    def __init__(self):
        self.top = Path(tempfile.mkdtemp(prefix="h", dir="/tmp"))
        (self.top / "canary").write_bytes(b"canary\n")
        os.chmod(self.top / "canary", 0o600)
        self.root = self.top.joinpath(*["d"] * DEPTH, "root")

    def snapshot(self) -> dict[str, tuple]:
        seen = {}
        for dirpath, dirnames, filenames in os.walk(self.top):
            if Path(dirpath) == self.root.parent:
                dirnames[:] = [d for d in dirnames if d != "root"]
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                st_ = os.lstat(p)
                content = Path(p).read_bytes() if os.path.isfile(p) and not os.path.islink(p) else b""
                seen[p] = (st_.st_mode, st_.st_uid, hashlib.sha256(content).hexdigest())
        return seen

    def fresh_root(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)

    def remove(self) -> None:
        shutil.rmtree(self.top, ignore_errors=True)


def extract_with_gnu_tar(data: bytes, root: Path) -> None:
    subprocess.run(["tar", "-xf", "-", "-C", str(root)], input=data, capture_output=True, timeout=60)


def extract_with_tarfile(data: bytes, root: Path) -> None:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), errorlevel=0) as tf:
            tf.extractall(root, filter="fully_trusted")
    except Exception:  # noqa: BLE001 - tarfile giving up half-way is fine; writing outside is not
        pass


def assert_stays_inside(data: bytes, sandbox: Sandbox) -> None:
    for extract in (extract_with_gnu_tar, extract_with_tarfile):
        sandbox.fresh_root()
        before = sandbox.snapshot()
        extract(data, sandbox.root)
        after = sandbox.snapshot()
        assert after == before, f"{extract.__name__} wrote outside the root: " \
                                f"{sorted(set(after.items()) ^ set(before.items()))}"


# --- the probes of the issue and their relatives: each refused with a line naming the member ---

def test_link_chain_climbing_out_is_refused_and_would_escape():
    chain = t.archive(t.symlink("a", "."), t.symlink("a/a/a/b", "../../.."), t.file("b/f", b"owned\n"))
    refused(chain, "'a/a/a/b'", "escapes the root")
    # ...and it is no theoretical danger: tarfile without a filter writes three levels up.
    sandbox = Sandbox()
    try:
        sandbox.fresh_root()
        extract_with_tarfile(chain, sandbox.root)
        assert (sandbox.root.parent.parent.parent / "f").read_bytes() == b"owned\n"
    finally:
        sandbox.remove()


def test_global_pax_path_applies_to_later_members():
    refused(t.archive(t.global_pax(path="../../../tmp/x"), t.file("harmless")), "'../../../tmp/x'", "'..'")


def test_global_pax_linkpath_applies_to_later_links():
    refused(t.archive(t.global_pax(linkpath="../../../etc"), t.symlink("s", "fine")), "'s'", "escapes")


def test_global_pax_size_is_refused():
    refused(t.archive(t.global_pax(size="0"), t.file("f", b"a" * 600)), "global pax header sets 'size'")


def test_local_pax_path_and_linkpath():
    refused(t.archive(t.pax(path="x/../../evil"), t.file("harmless")), "'x/../../evil'")
    refused(t.archive(t.pax(linkpath="../.."), t.symlink("d/s", "fine")), "'d/s'", "escapes")
    refused(t.archive(t.pax(path="/etc/cron.d/x"), t.file("harmless")), "absolute path")


def test_gnu_long_names_and_links():
    deep = "a/" * 60 + "../" * 62 + "evil"
    refused(t.archive(t.long_name(deep), t.file("harmless")), "'..'")
    refused(t.archive(t.long_link("../" * 70 + "etc"), t.symlink("s", "fine")), "'s'", "escapes")
    refused(t.archive(t.long_name("h"), t.long_link("/etc/shadow"), t.hardlink("x", "y")), "absolute path")


def test_readers_disagreeing_on_a_name_are_refused():
    # tarfile lets the first of L/x win, GNU tar lets x win; with g, tarfile takes L, GNU tar g.
    refused(t.archive(t.long_name("one"), t.pax(path="two"), t.file("f")), "tar readers disagree")
    refused(t.archive(t.global_pax(path="one"), t.long_name("two"), t.file("f")), "tar readers disagree")
    refused(t.archive(t.long_name("one"), t.long_name("two"), t.file("f")), "two GNU long path headers")
    refused(t.archive(t.pax(path="one"), t.pax(path="two"), t.file("f")), "two pax headers")
    refused(t.archive(t.pax(path=""), t.file("f")), "empty 'path'")


def test_framing_tricks_are_refused():
    # A symlink or device with data: GNU tar skips the data, tarfile reads it as the next header.
    hidden = t.file("hidden")
    refused(t.header("s", tarfile.SYMTYPE, 512, "t") + t.pad(hidden) + t.END, "declares 512 bytes")
    refused(t.header("c", tarfile.CHRTYPE, 512) + t.pad(hidden) + t.END, "declares 512 bytes")
    # tarfile reads '0o1' as a size, GNU tar hunts for the next valid header.
    block = bytearray(t.header("g", tarfile.REGTYPE, 1))
    block[124:136] = b"0o000000001\0"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    refused(bytes(block) + t.pad(b"x") + t.END, "not an octal number")
    # A name prefix in an old GNU header: tarfile prepends it, GNU tar does not.
    block = bytearray(t.header("f", tarfile.REGTYPE, 1))
    block[257:265], block[345:350] = b"ustar  \0", b"evil\0"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    refused(bytes(block) + t.pad(b"x") + t.END, "name prefix")
    # A regular file named 'd/' with data: GNU tar makes a directory, tarfile a file.
    hidden = t.header("hidden", tarfile.REGTYPE, 0)
    refused(t.header("d/", tarfile.REGTYPE, 512) + hidden + t.file("after") + t.END, "named like a directory")
    refused(t.archive(t.pax(path="d/"), t.file("d", b"x")), "named like a directory")
    refused(t.archive(t.pax(**{"GNU.sparse.name": "../x"}), t.file("f")), "sparse")
    refused(t.archive(t.pax(size="+1"), t.file("f")), "malformed size")


def test_writing_through_links():
    refused(t.archive(t.symlink("s", "/tmp"), t.file("s/f")), "'s/f'", "absolute path")
    refused(t.archive(t.symlink("abs", "/etc"), t.symlink("rel", "abs"), t.file("rel/passwd")), "'rel/passwd'")
    refused(t.archive(t.symlink("a", "b"), t.symlink("b", "a"), t.file("a/f")), "'a/f'", "loops")
    refused(t.archive(t.symlink("d", "."), t.symlink("up", "d/.."), t.file("up/f")), "'up'", "escapes the root")
    # A link harmless when made, turned into a way out by a later one, is caught where it is used.
    refused(t.archive(t.symlink("up", "d/.."), t.symlink("d", "."), t.file("up/f")), "'up/f'", "out of the root")
    # A member landing on an existing link through another name is a duplicate.
    refused(t.archive(t.symlink("s", "/etc/passwd"), t.symlink("a", "."), t.file("a/s")), "duplicate member")
    # A directory members were written into cannot become a link afterwards.
    refused(t.archive(t.file("d/f"), t.symlink("d", "/etc")), "replaces a directory")


def test_hard_links():
    refused(t.archive(t.hardlink("h", "later"), t.file("later")), "'h'", "not yet seen")
    refused(t.archive(t.symlink("s", "/etc/passwd"), t.hardlink("h", "s")), "'h'", "absolute path")
    refused(t.archive(t.file("f"), t.symlink("a", "."), t.hardlink("h", "a/../f")), "'..'")
    refused(t.archive(t.file("f"), t.hardlink("h", "/f")), "absolute path")


def test_real_archives_are_accepted():
    """What real writers produce: merged /usr, absolute and relative links, hard links, long names
    in GNU and pax form, docker save's links between layer directories, './' entries."""
    assert verdict(t.archive(t.directory("."), t.directory("usr"), t.directory("usr/bin"), t.symlink("bin", "usr/bin"),
                             t.file("usr/bin/ls"), t.hardlink("usr/bin/dir", "usr/bin/ls"),
                             t.symlink("usr/bin/sh", "/bin/dash"), t.symlink("usr/lib/x", "../../usr/bin/ls"),
                             t.file("bin/through-a-relative-link"),
                             t.symlink("etc/alternatives/vi", "/usr/bin/nvi"), t.symlink("d", "usr/../usr"))) is None
    assert verdict(t.archive(t.directory("abc"), t.file("abc/layer.tar"), t.directory("def"),
                             t.symlink("def/layer.tar", "../abc/layer.tar"))) is None
    long = "gnu/store/" + "x" * 120 + "/share/doc/" + "y" * 100
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
            info = tarfile.TarInfo(long)
            info.size = 3
            tf.addfile(info, io.BytesIO(b"abc"))
            link = tarfile.TarInfo(long + "-link")
            link.type, link.linkname = tarfile.SYMTYPE, "../" + "z" * 150
            tf.addfile(link)
            hard = tarfile.TarInfo("h")
            hard.type, hard.linkname = tarfile.LNKTYPE, long
            tf.addfile(hard)
        assert verdict(buf.getvalue()) is None
    assert verdict(t.archive(t.global_pax(comment="made by a tool"), t.pax(path="p" * 200, mtime="1.5"),
                             t.file("p" * 99))) is None


def test_convert_refuses_the_chain_in_one_line(tmp_path):
    src = tmp_path / "rootfs.tar"
    src.write_bytes(t.archive(t.symlink("a", "."), t.symlink("a/a/a/b", "../../.."), t.file("b/f")))
    proc = fsdgimg("convert", src, f"oci:{tmp_path / 'out'}:latest", check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and len(err.splitlines()) == 1 and "'a/a/a/b'" in err, err
    assert not (tmp_path / "out").exists()


# --- the property: whatever fsdgimg accepts, extractors keep inside the root ---

# Mostly ordinary members with a few hostile ones: an archive refused at its first member would
# teach nothing about the ones after it.
names = st.one_of(st.lists(st.sampled_from(["a", "b", "c", "."]), min_size=1, max_size=4).map("/".join),
                  st.sampled_from(["L" * 60 + "/a", "a/" + "L" * 60, "L" * 60 + "/" + "L" * 60]))
paths = st.lists(st.sampled_from(["a", "b", "..", "..", ".", "L" * 60]), min_size=1, max_size=4).map("/".join)
# '@' stands for the sandbox's own absolute path: absolute links aim at it, never at the host.
targets = st.one_of(st.sampled_from([".", "..", "../..", "../../..", "a", "b", "a/b", "a/..", "@", "@/a", "/"]),
                    names, paths, paths.map(lambda p: "@/" + p))
NAMING = ["plain"] * 12 + ["gnu-long", "pax", "pax-decoy"] * 2 + ["gnu-and-pax", "pax-and-gnu", "global"]
_files = st.tuples(st.sampled_from(["file", "dir"]), names, st.just(""), st.sampled_from(NAMING), st.just("plain"),
                   paths)
_symlinks = st.tuples(st.just("symlink"), names, targets, st.sampled_from(NAMING), st.sampled_from(NAMING), paths)
# "^" is the member before: a hard link to something that exists, most of the time.
_hardlinks = st.tuples(st.just("hardlink"), names, st.one_of(st.just("^"), st.just("^"), st.just("^"), names),
                       st.sampled_from(NAMING), st.sampled_from(NAMING), paths)
ops = st.one_of(_files, _files, _symlinks, _symlinks, _hardlinks)
CHAINS = [  # the chain and its relatives, always among the examples
    [("symlink", "a", ".", "plain", "plain", "a"), ("symlink", "a/a/a/b", "../../..", "plain", "plain", "a"),
     ("file", "b/f", "", "plain", "plain", "a")],
    [("symlink", "b", "a/..", "plain", "plain", "a"), ("symlink", "a", ".", "plain", "plain", "a"),
     ("file", "b/f", "", "plain", "plain", "a")],
    [("file", "../../x", "", "global", "plain", "x")],
    [("file", "x", "", "pax-and-gnu", "plain", "../../x")],
    [("symlink", "s", "@", "plain", "plain", "a"), ("file", "s/f", "", "plain", "plain", "a")],
    # Found by this property: a symlink written "into" a file (a/a -> ..), then a hard link to it,
    # which Python's tarfile extracts as a copy of the symlink at b, where ".." is outside.
    [("file", "a", "", "plain", "plain", "a"), ("symlink", "a/a", "..", "plain", "plain", "a"),
     ("hardlink", "b", "^", "plain", "plain", "a")],
    # The same hard link to a symlink, without the file in the way.
    [("symlink", "d/s", "..", "plain", "plain", "a"), ("hardlink", "b", "^", "plain", "plain", "a")],
]


def build(members, sandbox: str) -> bytes:
    out = []
    previous = "a"
    for i, (kind, name, target, naming, linking, other) in enumerate(members):
        target = target.replace("@", sandbox, 1) if target.startswith("@") else target
        target = previous if target == "^" else target
        previous = name
        if i < len(members) - 1:  # a global path names every later member: only the last may have one
            naming = "pax" if naming == "global" else naming
            linking = "pax" if linking == "global" else linking
        header_name, header_link = name, target
        if naming == "gnu-long":
            out.append(t.long_name(name))
            header_name = other
        elif naming == "pax":
            out.append(t.pax(path=name))
        elif naming == "pax-decoy":
            out.append(t.pax(path=name))
            header_name = other
        elif naming == "gnu-and-pax":
            out.append(t.long_name(name) + t.pax(path=other))
        elif naming == "pax-and-gnu":
            out.append(t.pax(path=other) + t.long_name(name))
        elif naming == "global":
            out.append(t.global_pax(path=name))
            header_name = other
        if kind in ("symlink", "hardlink"):
            if linking == "gnu-long":
                out.append(t.long_link(target))
                header_link = other
            elif linking.startswith("pax") and not naming.startswith(("pax", "gnu-and")):
                out.append(t.pax(linkpath=target))
                header_link = other if linking == "pax-decoy" else target
            elif linking == "global":
                out.append(t.global_pax(linkpath=target))
                header_link = other
        if kind == "file":
            out.append(t.file(header_name, b"data"))
        elif kind == "dir":
            out.append(t.directory(header_name))
        elif kind == "symlink":
            out.append(t.symlink(header_name, header_link))
        else:
            out.append(t.hardlink(header_name, header_link))
    return t.archive(*out)


def _with_examples(test):
    for chain in CHAINS:
        test = example(chain)(test)
    return test


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=7))
@_with_examples
def test_accepted_layers_stay_inside_the_root(members):
    sandbox = Sandbox()
    try:
        data = build(members, str(sandbox.top))
        if verdict(data) is None:
            assert_stays_inside(data, sandbox)
    finally:
        sandbox.remove()


@pytest.mark.parametrize("case", ["chain", "global-path", "absolute-link"])
def test_refused_layers_do_escape_without_the_checker(case):
    """What the checker refuses is a real escape for tarfile (a property that never meets one proves nothing)."""
    sandbox = Sandbox()
    try:
        data = t.archive(*{
            "chain": [t.symlink("a", "."), t.symlink("a/a/b", "../.."), t.file("b/f")],
            "global-path": [t.global_pax(path="../x"), t.file("f")],
            "absolute-link": [t.symlink("s", str(sandbox.top)), t.file("s/f")],
        }[case])
        assert verdict(data) is not None
        sandbox.fresh_root()
        before = sandbox.snapshot()
        extract_with_tarfile(data, sandbox.root)
        assert sandbox.snapshot() != before
    finally:
        sandbox.remove()
