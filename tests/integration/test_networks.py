"""Tenant networks come from AgentPod's own subnet pool: far more tenants than Docker's default
pools hold (about 30 bridges), and creating them from several processes at once is safe."""

from __future__ import annotations

import ipaddress
import uuid
from concurrent.futures import ThreadPoolExecutor

import docker

from agentpod.core.netpool import SubnetPool
from agentpod.services.docker_runtime import DockerRuntime

TENANTS = 40  # more than Docker's default address pools can give bridge networks


def test_forty_tenant_networks_in_parallel_get_distinct_subnets_of_the_pool(
    docker_client: docker.DockerClient,
) -> None:
    instance = f"nettest-{uuid.uuid4().hex[:8]}"
    pool = SubnetPool("10.213.0.0/16", 26)
    names = [f"agentpod-net-{instance}-{i}" for i in range(TENANTS)]
    runtimes = [DockerRuntime(instance, subnets=pool) for _ in range(4)]  # 4 "processes"
    try:
        with ThreadPoolExecutor(8) as workers:
            # every name asked for twice, by different runtimes, at the same time
            ids = list(
                workers.map(
                    lambda i: runtimes[i % 4].ensure_network(names[i % TENANTS]), range(2 * TENANTS)
                )
            )
        assert ids[:TENANTS] == ids[TENANTS:]
        nets = docker_client.networks.list(filters={"label": f"agentpod.instance={instance}"})
        assert sorted(n.name for n in nets) == sorted(names)
        subnets = [ipaddress.ip_network(n.attrs["IPAM"]["Config"][0]["Subnet"]) for n in nets]
        assert all(
            s.subnet_of(ipaddress.ip_network(pool.pool)) and s.prefixlen == 26 for s in subnets
        )
        assert len(set(subnets)) == TENANTS
        gateways = {runtimes[0].network_gateway(name) for name in names}
        assert gateways == {str(next(s.hosts())) for s in subnets}  # known, for trustedProxies
    finally:
        for net in docker_client.networks.list(filters={"label": f"agentpod.instance={instance}"}):
            net.remove()
