"""A pod's container joins its network holder's namespace: its networks are the holder's."""

from __future__ import annotations

from typing import Any

import docker
from docker.models.containers import Container


def holder_of(client: docker.DockerClient, container: Container) -> Container:
    """The container whose network namespace ``container`` joins (itself if none)."""
    mode = str(container.attrs["HostConfig"]["NetworkMode"])
    if not mode.startswith("container:"):
        return container
    return client.containers.get(mode.removeprefix("container:"))


def pod_networks(client: docker.DockerClient, container: Container) -> dict[str, Any]:
    """The networks a pod is on, by name, as ``NetworkSettings.Networks`` shows them."""
    return holder_of(client, container).attrs["NetworkSettings"]["Networks"]
