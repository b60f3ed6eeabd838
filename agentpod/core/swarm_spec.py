"""A pod's container spec rendered as a Docker Swarm service (pure): one replica pinned to the
node that holds its volume, on its tenant's overlay network, with the container's hardening,
limits, labels and spec hash. The Engine API's ServiceSpec, as a dict."""

from __future__ import annotations

from typing import Any

from agentpod.core.spec import INSTANCE, MANAGED, ContainerSpec
from agentpod.core.states import EndpointMode

DOCKER_NETWORK = "traefik.docker.network"
NODE_LABEL = "agentpod.node"  # the node a pod's volume lives on, on its service
SECOND = 1_000_000_000  # the Engine API counts durations in nanoseconds
STOP_GRACE_S = 10


def service_spec(
    spec: ContainerSpec,
    node_id: str,
    endpoint: EndpointMode = EndpointMode.DNSRR,
    stop_grace_s: int = STOP_GRACE_S,
) -> dict[str, Any]:
    """The ServiceSpec of the pod's one-replica service, pinned to ``node_id``."""
    labels = {k: v for k, v in spec.final_labels().items() if k != DOCKER_NETWORK}
    # Traefik's Swarm provider skips a service with a Docker provider's label among its own
    labels.update({NODE_LABEL: node_id, "traefik.swarm.network": spec.network})
    if endpoint is EndpointMode.DNSRR:  # Traefik then routes to the task's own address
        labels["traefik.swarm.lbswarm"] = "false"
    return {
        "Name": spec.name,
        "Labels": labels,
        "TaskTemplate": {
            "ContainerSpec": _container(spec, stop_grace_s),
            "Resources": _resources(spec),
            "RestartPolicy": {"Condition": "any", "Delay": SECOND, "MaxAttempts": 0},
            "Placement": {"Constraints": [f"node.id=={node_id}"]},
            "Networks": [{"Target": spec.network, "Aliases": [spec.name]}],
            "LogDriver": {"Name": "json-file", "Options": {"max-size": "10m", "max-file": "3"}},
        },
        "Mode": {"Replicated": {"Replicas": 1}},
        "EndpointSpec": {"Mode": endpoint.value},
    }


def _container(spec: ContainerSpec, stop_grace_s: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Image": spec.image,
        # stable across recreates, as for a container (OpenClaw's lease is by hostname, pid)
        "Hostname": spec.name[:63],
        "Env": [f"{k}={v}" for k, v in sorted(spec.env.items())],
        "Labels": spec.final_labels(),
        "Mounts": _mounts(spec),
        "ReadOnly": spec.read_only,
        "CapabilityDrop": ["ALL"],
        "StopGracePeriod": stop_grace_s * SECOND,
    }
    if spec.command:
        body["Args"] = list(spec.command)  # a container's CMD; the image's entrypoint stays
    if spec.user:
        body["User"] = spec.user
    if spec.cap_add:
        body["CapabilityAdd"] = list(spec.cap_add)
    if not spec.image_healthcheck:
        body["Healthcheck"] = {"Test": ["NONE"]}
    return body


def _mounts(spec: ContainerSpec) -> list[dict[str, Any]]:
    if spec.volume.startswith("/"):  # an adopted pod's bind mount
        state = {"Type": "bind", "Source": spec.volume, "Target": spec.state_dir}
    else:
        state = {
            "Type": "volume",
            "Source": spec.volume,
            "Target": spec.state_dir,
            "VolumeOptions": {"Labels": {MANAGED: "true", INSTANCE: spec.labels[INSTANCE]}},
        }
    mounts = [state]
    if spec.read_only:
        size = 256 * 1024 * 1024
        mounts.append({"Type": "tmpfs", "Target": "/tmp", "TmpfsOptions": {"SizeBytes": size}})
    return mounts


def _resources(spec: ContainerSpec) -> dict[str, Any]:
    memory = spec.limits.memory_mb * 1024 * 1024
    return {
        "Limits": {
            "MemoryBytes": memory,
            "NanoCPUs": int(spec.limits.cpus * 1e9),
            "Pids": spec.limits.pids,
        },
        # reserved too: Swarm's own scheduler then never puts it on a node without room
        "Reservations": {"MemoryBytes": memory},
    }
