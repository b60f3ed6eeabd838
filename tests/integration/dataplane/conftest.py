"""Fixtures of the data-plane tests: one AgentPod instance with its own Traefik per worker."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from tests.support.proxied import Proxied, proxied_instance
from tests.support.wsimage import ws_image


@pytest.fixture(scope="session")
def proxied(docker_client: docker.DockerClient) -> Iterator[Proxied]:
    with proxied_instance(docker_client) as instance:
        yield instance


@pytest.fixture(scope="session")
def ws_test_image(docker_client: docker.DockerClient) -> str:
    return ws_image()
