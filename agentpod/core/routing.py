"""Traefik routing labels for a pod: one router and one service per pod, matched by Host().

Each router gets two middlewares of its own (named after the pod's container, so pods of one
tenant never fight over a shared definition while their settings change): a rate limit from the
tenant's settings, and headers: security headers chosen not to break the agents' own web UIs,
plus the client-address request headers (see ``client_headers``). Nothing that buffers,
compresses or retries: those break WebSockets and server-sent events.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from agentpod.core.models import TenantSettings
from agentpod.core.names import PodRef, public_url, url_parts, validate_domain, validate_label

HSTS_SECONDS = 31_536_000


class Edge(BaseModel):
    """How pods are reached from outside: the domain, scheme and the proxy in front."""

    model_config = ConfigDict(frozen=True)

    domain: str = "localhost"
    scheme: str = "http"
    public_port: int | None = None
    entrypoint: str = "web"
    cert_resolver: str | None = None
    # where the proxy on this machine reaches pods from: their network's gateway address
    proxy_addresses: tuple[str, ...] = ()
    # front proxies (CIDRs) trusted to name the client in X-Forwarded-For; nobody else is
    front_proxies: tuple[str, ...] = ()

    @field_validator("domain")
    @classmethod
    def _dns_name(cls, value: str) -> str:
        return validate_domain(value)

    def host(self, subdomain: str) -> str:
        return f"{subdomain}.{self.domain}"

    def public_url(self, subdomain: str) -> str:
        return public_url(self.scheme, self.domain, self.public_port, subdomain)

    def url_parts(self) -> tuple[str, str]:
        """What comes before and after a subdomain in its public URL."""
        return url_parts(self.scheme, self.domain, self.public_port)


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


def client_headers(local_client: str | None = None) -> dict[str, str]:
    """Request headers about the client, set at the edge (an empty value removes the header).

    Traefik rebuilds X-Forwarded-* and X-Real-Ip from the connection unless it comes from a
    trusted front proxy, but passes RFC 7239 ``Forwarded`` through: removed, so that no client
    names itself to a pod. ``local_client``: the X-Real-Ip to send instead of the client's own,
    for agents that read it only when X-Forwarded-For names no client but loopback, i.e. for
    a client on this machine (OpenClaw refuses a loopback client behind a proxy).
    """
    headers = {"Forwarded": ""}
    if local_client:
        headers["X-Real-Ip"] = local_client
    return headers


def routing_labels(
    ref: PodRef,
    subdomain: str,
    port: int,
    network: str,
    edge: Edge,
    tenant: TenantSettings | None = None,
    domains: tuple[str, ...] = (),
    local_client: str | None = None,
) -> dict[str, str]:
    """One router (Host of the subdomain, plus any custom domains), one service, two
    middlewares of the pod's own (rate limit from its tenant, headers)."""
    tenant = tenant or TenantSettings()
    hosts = [edge.host(validate_label(subdomain, "subdomain"))]
    hosts += [validate_domain(d, "custom domain") for d in domains]
    name = ref.container
    router = f"traefik.http.routers.{name}"
    service = f"traefik.http.services.{name}"
    limit = f"traefik.http.middlewares.{name}-ratelimit.ratelimit"
    headers = f"traefik.http.middlewares.{name}-headers.headers"
    labels = {
        "traefik.enable": "true",
        "traefik.docker.network": network,
        f"{router}.rule": " || ".join(f"Host(`{h}`)" for h in hosts),
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
    request = client_headers(local_client)
    labels.update({f"{headers}.customrequestheaders.{k}": v for k, v in request.items()})
    if edge.cert_resolver:
        labels[f"{router}.tls.certresolver"] = edge.cert_resolver
    return labels
