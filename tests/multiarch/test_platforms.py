"""The architecture table and what a Guix archive of a foreign system becomes in the image core."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.guixarchive import make_guix_archive

from fsdgimg import platforms
from fsdgimg.build.builders.base import BuildResult
from fsdgimg.build.pipeline import BuildOptions, import_result
from fsdgimg.catalog import Entry
from fsdgimg.errors import InputError
from fsdgimg.oci.blobstore import scratch_store


def test_one_table_names_each_architecture_for_every_tool():
    arm = platforms.lookup("arm/v7")
    assert (str(arm.platform), arm.debian, arm.guix_system, arm.guix_target, arm.pacman) == \
        ("linux/arm/v7", "armhf", "armhf-linux", "arm-linux-gnueabihf", "armv7h")
    assert str(platforms.lookup("arm64").platform) == "linux/arm64/v8"
    assert platforms.lookup("linux/arm64/v8") is platforms.lookup("arm64/v8") is platforms.lookup("arm64")
    assert platforms.for_guix_system("powerpc64le-linux").name == "ppc64le"
    for other, oci in (("armhf", "arm/v7"), ("aarch64", "arm64"), ("x86_64", "amd64"), ("ppc64el", "ppc64le"),
                       ("i686-linux", "386")):
        with pytest.raises(InputError, match=f"the OCI name is '{oci}'"):
            platforms.lookup(other)
    with pytest.raises(InputError, match="OCI names: amd64, 386, arm64"):
        platforms.lookup("vax")


@pytest.mark.parametrize("arch,expected", [("arm64", "linux/arm64/v8"), ("amd64", "linux/amd64")])
def test_guix_archive_gets_the_variant_of_its_platform(tmp_path, arch, expected):
    """Guix writes `arm64` without the variant the index and every rootfs build spell out."""
    archive = make_guix_archive(tmp_path / "a.tar.gz", arch=arch)
    entry = Entry("g", "guix-pack", "guix", ["amd64", "arm64"], "", {}, Path(".")).for_arch(arch)
    with scratch_store(tmp_path) as store:
        image = import_result(BuildResult("docker-archive", archive), entry, store,
                              BuildOptions(out=tmp_path / "o", progress=False), "build 1")
        assert str(image.platform) == expected
        assert image.config["architecture"] == arch
        image.check()
