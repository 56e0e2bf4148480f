"""The Docker daemon fixture: Debian's dockerd started by hand pulls what fsdgimg publishes."""

from __future__ import annotations

import json
import os

import pytest
from conftest import fsdgimg
from servers import Dockerd, Registry, have

pytestmark = pytest.mark.skipif(not have("/usr/sbin/dockerd", "docker-registry"),
                                reason="needs docker.io and docker-registry (scripts/setup.sh)")


def test_docker_pulls_a_published_image_by_tag_and_digest(tmp_path, oci_image):
    with Registry(tmp_path / "registry") as registry, \
            Dockerd(tmp_path / "dockerd", insecure_registries=[registry.host]) as dockerd:
        ref = f"{registry.host}/fixture/hello:1"
        report = json.loads(fsdgimg("publish", f"oci:{oci_image}:latest", "--to", f"docker://{ref}",
                                    "--json").stdout)
        assert dockerd.pull(ref) == report["digest"]
        assert dockerd.pull(f"{registry.host}/fixture/hello@{report['digest']}") == report["digest"]
        assert dockerd.image_platform(ref) == "linux/amd64"
        pid = dockerd.proc.pid
    # stopped by its PID and reaped, its own containerd with it: nothing of it is left running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not (tmp_path / "dockerd" / "docker.pid").exists()
