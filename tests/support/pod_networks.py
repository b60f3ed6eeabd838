"""Where a pod's container is on the network: its own endpoints, or (the usual case) those of
its network holder, whose namespace it joins (``network_mode=container:<holder>``)."""

from __future__ import annotations

from typing import Any

import docker


def pod_networks(client: docker.DockerClient, container: Any) -> dict[str, dict[str, Any]]:
    """The networks (name -> endpoint, with ``IPAddress``) of the container's namespace."""
    mode = container.attrs["HostConfig"]["NetworkMode"]
    if mode.startswith("container:"):
        container = client.containers.get(mode.split(":", 1)[1])
    return container.attrs["NetworkSettings"]["Networks"]


def pod_address(client: docker.DockerClient, container: Any) -> str:
    """The pod's address on its (one) network."""
    return next(iter(pod_networks(client, container).values()))["IPAddress"]
