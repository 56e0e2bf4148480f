"""The image catalog and `fsdgimg list`, and the build command's answers to bad input."""

from __future__ import annotations

import json

import pytest

from .conftest import REPO, assert_one_line_error, run_cli

SHIPPED = {"guix-minimal", "guix-registry", "guix-hello", "guix-registry-tools",
           "trisquel-minimal", "pureos-minimal", "parabola-minimal"}


def test_list_json_shows_every_entry_with_distribution_pin_and_architectures():
    proc = run_cli("list", "--json")
    assert proc.returncode == 0, proc.stderr
    images = {i["name"]: i for i in json.loads(proc.stdout)["images"]}
    assert set(images) == SHIPPED
    for item in images.values():
        assert item["distribution"] and item["pin"] and item["architectures"][0] == "amd64"
        assert len(item["platforms"]) == len(item["architectures"])
    # what each distribution ships
    assert images["trisquel-minimal"]["architectures"] == ["amd64", "arm64", "arm/v7", "ppc64le"]
    assert images["trisquel-minimal"]["platforms"] == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7",
                                                       "linux/ppc64le"]
    assert images["pureos-minimal"]["architectures"] == ["amd64", "arm64"]
    assert images["parabola-minimal"]["architectures"] == ["amd64", "386", "arm/v7"]
    assert images["guix-minimal"]["systems"] == {
        "amd64": "x86_64-linux", "386": "i686-linux", "arm64": "aarch64-linux", "arm/v7": "armhf-linux",
        "ppc64le": "powerpc64le-linux", "riscv64": "riscv64-linux"}
    assert images["guix-minimal"]["builder"] == "guix-system"
    assert images["guix-hello"]["builder"] == "guix-pack" and images["guix-hello"]["max-layers"] >= 1
    assert images["trisquel-minimal"]["pin"] == "trisquel aramo"
    assert images["trisquel-minimal"]["keyring-package"] == "trisquel-keyring"
    assert images["pureos-minimal"]["suite"] == "byzantium"
    assert images["parabola-minimal"]["builder"] == "pacstrap"
    # Every file a Guix entry names is in the repository.
    for item in images.values():
        for key in ("file", "manifest"):
            if key in item:
                assert (REPO / item[key]).is_file(), item[key]


def test_list_text_is_a_table():
    proc = run_cli("list")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["NAME", "BUILDER", "DISTRIBUTION", "PIN", "ARCHITECTURES", "TAG"]
    assert {l.split()[0] for l in lines[1:]} == SHIPPED
    assert "amd64,arm64,arm/v7,ppc64le" in next(l for l in lines if l.startswith("trisquel-minimal"))


BAD = [
    ("[images.x]\nbuilder = 'docker'\ndistribution = 'd'\narchitecture = 'amd64'\n", "builder 'docker'"),
    ("[images.x]\nbuilder = 'debootstrap'\ndistribution = 'd'\narchitecture = 'amd64'\n", "missing 'mirror'"),
    ("[images.x]\nbuilder = 'debootstrap'\ndistribution = 'd'\narchitecture = 'amd64'\n"
     "mirror = 'http://m'\nsuite = 's'\ninclude = 'bash'\n", "'include' must be a list"),
    ("[images.x]\nbuilder = 'debootstrap'\ndistribution = 'd'\narchitecture = 'amd64'\n"
     "mirror = 'http://m'\nsuite = 's'\nsuit = 'typo'\n", "unknown key 'suit'"),
    ("[images.X_Y]\nbuilder = 'debootstrap'\n", "invalid name"),
    ("[images.x]\nbuilder = 'guix-pack'\ndistribution = 'guix'\narchitecture = 'arm64'\n"
     "manifest = 'm.scm'\nchannels = 'host'\nsystem = 'x86_64-linux'\n", "does not build arm64"),
    ("[images.x]\nbuilder = 'debootstrap'\ndistribution = 'd'\narchitecture = 'vax'\n"
     "mirror = 'http://m'\nsuite = 's'\n", "unknown architecture 'vax'"),
    ("[images.x]\nbuilder = 'debootstrap'\ndistribution = 'd'\narchitectures = ['amd64', 'armhf']\n"
     "mirror = 'http://m'\nsuite = 's'\n", "unknown architecture 'armhf': the OCI name is 'arm/v7'"),
    ("[images.x]\nbuilder = 'debootstrap'\ndistribution = 'd'\narchitectures = ['arm64', 'arm64/v8']\n"
     "mirror = 'http://m'\nsuite = 's'\n", "architecture arm64 is listed twice"),
    ("[images.x]\nbuilder = 'debootstrap'\ndistribution = 'd'\narchitectures = []\n"
     "mirror = 'http://m'\nsuite = 's'\n", "'architectures' is empty"),
    ("[images.x]\nbuilder = 'debootstrap'\ndistribution = 'd'\n"
     "mirror = 'http://m'\nsuite = 's'\n", "give 'architectures'"),
    ("[images.x]\nbuilder = 'pacstrap'\ndistribution = 'p'\narchitectures = ['amd64', 'ppc64le']\n"
     "mirror = 'http://m'\npackages = ['bash']\n", "builder pacstrap cannot build ppc64le images"),
    ("[images.x]\nbuilder = 'guix-pack'\ndistribution = 'guix'\narchitectures = ['amd64', 'arm64']\n"
     "manifest = 'm.scm'\nchannels = 'host'\nsystems = { riscv64 = 'x86_64-linux' }\n",
     "systems names riscv64, which is not in its architectures"),
    ("[images.x]\nbuilder = 'guix-pack'\ndistribution = 'guix'\narchitectures = ['amd64', 'arm64']\n"
     "manifest = 'm.scm'\nchannels = 'host'\nsystems = { arm64 = 'aarch64-hurd' }\n",
     "unknown Guix system 'aarch64-hurd'"),
    ("[images.x\nbuilder = 1\n", "malformed TOML"),
    ("title = 'no images'\n", "no [images.NAME] tables"),
]


@pytest.mark.parametrize("text,needle", BAD, ids=[n for _, n in BAD])
def test_bad_catalog_is_one_line(tmp_path, text, needle):
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    for args in (["list", "--catalog", path], ["build", "x", "--catalog", path, "--out", tmp_path / "o"]):
        proc = run_cli(*args)
        assert_one_line_error(proc, 1, needle, str(path))
    assert not (tmp_path / "o").exists()


def test_missing_catalog(tmp_path):
    proc = run_cli("list", env={"FSDGIMG_CATALOG": str(tmp_path / "none.toml")})
    assert_one_line_error(proc, 1, "image catalog not found")


def test_unknown_image_names_the_known_ones(tmp_path):
    proc = run_cli("build", "nosuch", "--out", tmp_path / "o")
    assert_one_line_error(proc, 2, "no image 'nosuch'", "guix-minimal", "trisquel-minimal")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args,needle", [
    (["--rounds", "1"], "at least 2"),
    (["--rounds", "two"], "at least 2"),
    (["--source-date-epoch", "yesterday"], "seconds since the epoch"),
])
def test_bad_build_options(tmp_path, args, needle):
    proc = run_cli("build", "trisquel-minimal", "--out", tmp_path / "o", *args)
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr


def test_bad_source_date_epoch_in_environment(tmp_path):
    proc = run_cli("build", "trisquel-minimal", "--out", tmp_path / "o", env={"SOURCE_DATE_EPOCH": "soon"})
    assert_one_line_error(proc, 2, "SOURCE_DATE_EPOCH='soon'")


def test_out_that_is_not_a_layout_is_refused(tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "precious.txt").write_text("keep me")
    proc = run_cli("build", "trisquel-minimal", "--out", tmp_path / "o")
    assert_one_line_error(proc, 2, "not an OCI image layout")
    assert (tmp_path / "o" / "precious.txt").read_text() == "keep me"


def test_parabola_is_not_available_here(tmp_path):
    """pacstrap and pacman are not installed on these machines: one clear line, nothing written."""
    proc = run_cli("build", "parabola-minimal", "--out", tmp_path / "o")
    assert_one_line_error(proc, 1, "parabola-minimal: not available on this host", "pacstrap")
    assert not (tmp_path / "o").exists()
    assert list(tmp_path.iterdir()) == []


def test_host_tools_need_the_distribution_keyring(tmp_path):
    """Trisquel's keyring is not installed here: the host-tools build fetches it from Trisquel (pinned),
    and says in one line when it cannot. A proxy on a closed loopback port makes the archive
    unreachable whatever the network (it is unreachable from these machines anyway)."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HTTP_PROXY": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9"}
    proc = run_cli("build", "trisquel-minimal", "--tools", "host", "--out", tmp_path / "o", env=env)
    assert_one_line_error(proc, 1, "trisquel-minimal: cannot fetch the keyring from http://archive.trisquel.info/")
    assert list(tmp_path.iterdir()) == []


def test_without_guix_the_guix_commands_say_so(tmp_path):
    env = {"FSDGIMG_GUIX": str(tmp_path / "no-guix-here")}
    proc = run_cli("list", "--packages", env=env)
    assert_one_line_error(proc, 1, "guix not found", "FSDGIMG_GUIX")
    proc = run_cli("build", "guix-hello", "--out", tmp_path / "o", env=env)
    assert_one_line_error(proc, 1, "guix-hello: guix pack -f docker -d: guix not found")
    assert list(tmp_path.iterdir()) == []
    proc = run_cli("build", "pureos-minimal", "--derivation")
    assert_one_line_error(proc, 2, "pureos-minimal is built by debootstrap, not by Guix")
