"""Traefik routing labels for a pod: one router and one service per pod, matched by Host().

Each router gets two middlewares of its own (named after the pod's container, so pods of one
tenant never fight over a shared definition while their settings change): a rate limit from the
tenant's settings, and security headers chosen not to break the agents' own web UIs. Nothing
that buffers, compresses or retries: those break WebSockets and server-sent events.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from agentpod.core.models import TenantSettings
from agentpod.core.names import PodRef, validate_label

HSTS_SECONDS = 31_536_000


class Edge(BaseModel):
    """How pods are reached from outside: the domain, scheme and the proxy in front."""

    model_config = ConfigDict(frozen=True)

    domain: str = "localhost"
    scheme: str = "http"
    public_port: int | None = None
    entrypoint: str = "web"
    cert_resolver: str | None = None
    proxy_addresses: tuple[str, ...] = ()

    @field_validator("domain")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        """The domain ends up in every Host() rule: DNS labels separated by dots, nothing else."""
        value = value.strip().lower().rstrip(".")
        if len(value) > 253:
            raise ValueError(f"domain {value[:30]!r}... is longer than 253 characters")
        for label in value.split("."):
            validate_label(label, f"domain label in {value!r}")
        return value

    def host(self, subdomain: str) -> str:
        return f"{subdomain}.{self.domain}"

    def public_url(self, subdomain: str) -> str:
        default = 443 if self.scheme == "https" else 80
        port = f":{self.public_port}" if self.public_port and self.public_port != default else ""
        return f"{self.scheme}://{self.host(subdomain)}{port}"


def security_headers(edge: Edge) -> dict[str, str]:
    """Headers middleware options: anti-sniffing, anti-framing by other sites, no referrer leak.

    Not set on purpose: a Content-Security-Policy (agent UIs use inline scripts and connect
    to their own WebSocket), X-Frame-Options DENY (some UIs frame their own pages; SAMEORIGIN
    still stops clickjacking by other sites), and request header rewrites (the pod must see
    Host and Origin as the browser sent them).
    """
    headers = {
        "contenttypenosniff": "true",
        "customframeoptionsvalue": "SAMEORIGIN",
        "referrerpolicy": "strict-origin-when-cross-origin",
    }
    if edge.scheme == "https":
        headers["stsseconds"] = str(HSTS_SECONDS)
    return headers


def routing_labels(
    ref: PodRef,
    subdomain: str,
    port: int,
    network: str,
    edge: Edge,
    tenant: TenantSettings | None = None,
) -> dict[str, str]:
    tenant = tenant or TenantSettings()
    name = ref.container
    router = f"traefik.http.routers.{name}"
    service = f"traefik.http.services.{name}"
    limit = f"traefik.http.middlewares.{name}-ratelimit.ratelimit"
    headers = f"traefik.http.middlewares.{name}-headers.headers"
    labels = {
        "traefik.enable": "true",
        "traefik.docker.network": network,
        f"{router}.rule": f"Host(`{edge.host(validate_label(subdomain, 'subdomain'))}`)",
        f"{router}.entrypoints": edge.entrypoint,
        f"{router}.service": name,
        f"{router}.middlewares": f"{name}-ratelimit,{name}-headers",
        f"{service}.loadbalancer.server.port": str(port),
        f"{service}.loadbalancer.passhostheader": "true",
        f"{limit}.average": str(tenant.rate_average),
        f"{limit}.burst": str(tenant.rate_burst),
        f"{limit}.period": "1s",
    }
    labels.update({f"{headers}.{k}": v for k, v in security_headers(edge).items()})
    if edge.cert_resolver:
        labels[f"{router}.tls.certresolver"] = edge.cert_resolver
    return labels
