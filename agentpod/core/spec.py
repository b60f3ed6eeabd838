"""The container spec of a pod: everything that, when it changes, forces a recreate (but its
pool, which only says where a new swarm service goes)."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict

from agentpod.core.adapters import get_adapter
from agentpod.core.adapters.base import HealthCheck, PodContext, RenderedFile
from agentpod.core.llm import LlmAccess
from agentpod.core.models import Limits, Pod, TenantSettings
from agentpod.core.netns import holder_name
from agentpod.core.routing import Edge, routing_labels

LABEL = "agentpod"
MANAGED = f"{LABEL}.managed"
INSTANCE = f"{LABEL}.instance"
POD_ID = f"{LABEL}.pod-id"
SPEC_HASH = f"{LABEL}.spec-hash"


class ContainerSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    image: str
    env: dict[str, str]
    command: tuple[str, ...] | None
    user: str | None
    labels: dict[str, str]
    volume: str
    state_dir: str
    state_owner: tuple[int, int]
    files: tuple[RenderedFile, ...]
    network: str
    port: int
    limits: Limits
    read_only: bool
    cap_add: tuple[str, ...]
    image_healthcheck: bool = True  # False: the image's HEALTHCHECK is switched off
    health: HealthCheck
    pool: str | None = None  # where a new swarm service may go; moving one is `pod move`
    netns: str | None = None  # the network holder's name (core/netns.py); None: none

    @property
    def hash(self) -> str:
        # without a holder the field is left out: such pods (swarm services) keep their hash
        left_out = {"pool"} if self.netns else {"pool", "netns"}
        return _digest(self.model_dump(mode="json", exclude=left_out))

    @property
    def holder_hash(self) -> str:
        return holder_hash(self.name, self.network)

    def final_labels(self) -> dict[str, str]:
        return {**self.labels, SPEC_HASH: self.hash}


def holder_hash(container: str, network: str) -> str:
    """What a pod's network holder is made of: another value recreates it (and the pod)."""
    return _digest({"name": holder_name(container), "network": network, "alias": container})


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def build_spec(
    pod: Pod,
    instance: str,
    network: str,
    edge: Edge,
    tenant: TenantSettings | None = None,
    llm: LlmAccess | None = None,
    holder: bool = False,
) -> ContainerSpec:
    """Render a pod into the container AgentPod wants for it (pure); with ``holder``, in the
    network namespace of a holder container of its own."""
    adapter = get_adapter(pod.adapter)
    config = adapter.validate_config(pod.config)
    ctx = PodContext(
        tenant=pod.tenant,
        pod=pod.name,
        gateway_token=pod.gateway_token,
        public_url=edge.public_url(pod.subdomain),
        limits=pod.limits,
        proxy_addresses=edge.proxy_addresses,
        llm=llm,
        front_proxies=edge.front_proxies,
    )
    rendered = adapter.render(ctx, config)
    port = adapter.port(config)
    local = (
        edge.proxy_addresses[0] if adapter.names_local_clients and edge.proxy_addresses else None
    )
    labels = {
        MANAGED: "true",
        INSTANCE: instance,
        POD_ID: str(pod.id),
        f"{LABEL}.tenant": pod.tenant,
        f"{LABEL}.pod": pod.name,
        f"{LABEL}.adapter": adapter.id,
        **routing_labels(
            pod.ref, pod.subdomain, port, network, edge, tenant, tuple(pod.domains), local
        ),
    }
    env = {**rendered.env, "AGENTPOD_TENANT": pod.tenant, "AGENTPOD_POD": pod.name}
    if llm is not None:  # the gateway and the pod's virtual key, never a provider's key
        env.update(llm.env())
    return ContainerSpec(
        name=pod.ref.container,
        image=pod.image,
        env=env,
        command=rendered.command,
        user=adapter.user,
        labels=labels,
        volume=pod.data_source.source if pod.data_source else pod.ref.volume,
        state_dir=adapter.state_dir,
        state_owner=adapter.state_owner,
        files=rendered.files,
        network=network,
        port=port,
        limits=pod.limits,
        read_only=adapter.read_only_rootfs,
        cap_add=adapter.cap_add,
        image_healthcheck=adapter.image_healthcheck,
        health=adapter.health_check(config),
        pool=pod.pool or (tenant.pool if tenant else None),
        netns=holder_name(pod.ref.container) if holder else None,
    )
