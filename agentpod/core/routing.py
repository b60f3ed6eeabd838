"""Traefik routing labels for a pod: one router and one service per pod, matched by Host()."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from agentpod.core.names import PodRef


class Edge(BaseModel):
    """How pods are reached from outside: the domain, scheme and the proxy in front."""

    model_config = ConfigDict(frozen=True)

    domain: str = "localhost"
    scheme: str = "http"
    public_port: int | None = None
    entrypoint: str = "web"
    cert_resolver: str | None = None
    proxy_addresses: tuple[str, ...] = ()

    def host(self, subdomain: str) -> str:
        return f"{subdomain}.{self.domain}"

    def public_url(self, subdomain: str) -> str:
        default = 443 if self.scheme == "https" else 80
        port = f":{self.public_port}" if self.public_port and self.public_port != default else ""
        return f"{self.scheme}://{self.host(subdomain)}{port}"


def routing_labels(
    ref: PodRef, subdomain: str, port: int, network: str, edge: Edge
) -> dict[str, str]:
    router = f"traefik.http.routers.{ref.container}"
    service = f"traefik.http.services.{ref.container}"
    labels = {
        "traefik.enable": "true",
        "traefik.docker.network": network,
        f"{router}.rule": f"Host(`{edge.host(subdomain)}`)",
        f"{router}.entrypoints": edge.entrypoint,
        f"{router}.service": ref.container,
        f"{service}.loadbalancer.server.port": str(port),
        f"{service}.loadbalancer.passhostheader": "true",
    }
    if edge.cert_resolver:
        labels[f"{router}.tls.certresolver"] = edge.cert_resolver
    return labels
