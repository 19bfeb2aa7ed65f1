"""The dockerd fixture and its images: two tags whose /version answers differ, one broken."""
from __future__ import annotations

import time

import pytest

from tests.fixtures.procs import http_get

pytestmark = pytest.mark.xdist_group("docker")


_get = http_get


def _wait_health(client, cid: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = client.api.inspect_container(cid)["State"].get("Health", {}).get("Status", "")
        if status in ("healthy", "unhealthy"):
            return status
        time.sleep(0.2)
    return status


def test_daemon_is_private_and_negotiated(dockerd, docker_client):
    assert str(dockerd.sock).startswith("/tmp/cockpit-dockerd-")
    info = docker_client.info()
    assert info["DockerRootDir"] == str(dockerd.root / "data")
    assert info["Driver"] == "vfs"
    assert docker_client.api.api_version == docker_client.version()["ApiVersion"]


@pytest.mark.parametrize("tag,expected_health", [("1.0", "healthy"), ("2.0", "healthy"), ("3.0-broken", "unhealthy")])
def test_images_answer_their_version(dockerd, docker_client, free_port, cleanup_containers, tag, expected_health):
    c = docker_client.containers.run(
        dockerd.image(tag), detach=True, name=f"img-{tag}", network=dockerd.network,
        ports={"8080/tcp": ("127.0.0.1", free_port)},
    )
    assert _get(f"http://127.0.0.1:{free_port}/version") == tag
    assert _wait_health(docker_client, c.id) == expected_health
