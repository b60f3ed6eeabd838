"""The edge as the rest of AgentPod sees it, and the Traefik that ``serve --with-proxy`` runs."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from agentpod.core.adapters import get_adapter
from agentpod.core.models import DesiredStatus, Pod
from agentpod.core.routing import Edge
from agentpod.services import traefik
from agentpod.settings import Settings

log = logging.getLogger("agentpod.proxy")

CERT_RESOLVER = traefik.CERT_RESOLVER
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


def tls_for(domain: str, acme_email: str | None) -> bool:
    """HTTPS with ACME only for a real domain: ``*.localhost`` cannot get a certificate."""
    local = domain == "localhost" or domain.endswith(".localhost")
    return bool(acme_email) and not local


def uses_tls(settings: Settings) -> bool:
    return tls_for(settings.domain, settings.acme_email)


def edge_for(settings: Settings, running: traefik.ProxyState | None = None) -> Edge:
    """The public side of pods; the port of a running ``serve --with-proxy`` wins."""
    if uses_tls(settings):
        return Edge(
            domain=settings.domain,
            scheme="https",
            public_port=settings.proxy_https_port,
            entrypoint="websecure",
            cert_resolver=CERT_RESOLVER,
            front_proxies=settings.trusted_front_proxies,
        )
    port = running.http_port if running else settings.proxy_http_port
    return Edge(
        domain=settings.domain, public_port=port, front_proxies=settings.trusted_front_proxies
    )


def proxy_address(settings: Settings, running: traefik.ProxyState | None = None) -> str:
    """Where this machine reaches the proxy's HTTP entrypoint (for end-to-end route checks)."""
    if running:
        return running.http_address
    return f"127.0.0.1:{settings.proxy_http_port}"


def proxy_config(
    settings: Settings, instance: str, http_address: str, ping_address: str, directory: Path
) -> traefik.ProxyConfig:
    tls = uses_tls(settings)
    return traefik.ProxyConfig(
        instance=instance,
        http_address=http_address,
        ping_address=ping_address,
        https_address=f":{settings.proxy_https_port}" if tls else None,
        acme_email=settings.acme_email if tls else None,
        acme_storage=str(directory / "acme.json"),
        cert_resolver=CERT_RESOLVER,
        docker_endpoint=traefik.docker_endpoint(),
        trusted_ips=settings.trusted_front_proxies,
    )


@dataclass
class ProxySupervisor:
    """Runs Traefik for ``serve``: start, restart it when it dies, stop it on the way out."""

    settings: Settings
    instance: str
    http_address: str
    stop_event: threading.Event = field(default_factory=threading.Event)
    process: traefik.TraefikProcess | None = None
    restarts: int = 0
    _thread: threading.Thread | None = None

    @property
    def directory(self) -> Path:
        return self.settings.home / "traefik"

    def start(self) -> traefik.ProxyState:
        binary = traefik.find_binary()
        ping_address = f"127.0.0.1:{traefik.free_port()}"
        cfg = proxy_config(
            self.settings, self.instance, self.http_address, ping_address, self.directory
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        config_file = self.directory / "traefik.yml"
        config_file.write_text(traefik.render(cfg))
        self.process = traefik.TraefikProcess(
            binary, config_file, self.directory / "traefik.log", ping_address
        )
        self.process.start(fresh_log=True)
        state = traefik.ProxyState(
            os.getpid(), self.process.pid or 0, self.http_address, ping_address
        )
        traefik.write_state(self.settings.home, state)
        self._thread = threading.Thread(target=self._watch, name="proxy", daemon=True)
        self._thread.start()
        log.info('{"event": "proxy.started", "address": "%s"}', self.http_address)
        return state

    def _watch(self) -> None:
        while not self.stop_event.wait(1.0):
            proc = self.process
            if proc is None or proc.alive():
                continue
            delay = RESTART_DELAYS[min(self.restarts, len(RESTART_DELAYS) - 1)]
            log.warning(
                '{"event": "proxy.died", "detail": "%s", "restart_in": %s}',
                proc.last_log_line().replace('"', "'"),
                delay,
            )
            if self.stop_event.wait(delay):
                return
            try:
                proc.start()
            except traefik.ProxyFailed as exc:
                log.warning('{"event": "proxy.restart.failed", "error": "%s"}', exc)
            self.restarts += 1
            if proc.alive():
                traefik.write_state(
                    self.settings.home,
                    traefik.ProxyState(
                        os.getpid(), proc.pid or 0, self.http_address, proc.ping_address
                    ),
                )

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.process is not None:
            self.process.stop()
        traefik.clear_state(self.settings.home)
        log.info('{"event": "proxy.stopped"}')


@dataclass(frozen=True)
class RouteResult:
    pod: str
    ok: bool | None  # None: not checked (no proxy runs here)
    message: str


def check_routes(
    pods: list[Pod], edge: Edge, address: str, expected: bool
) -> dict[str, RouteResult]:
    """GET each running pod's health path through the proxy, by its Host header.

    ``expected``: a proxy is known to run (``serve --with-proxy``). Otherwise a proxy is only
    assumed where something listens on the address, and its absence is reported, not failed.
    """
    running = [p for p in pods if p.desired_status is DesiredStatus.RUNNING]
    if running and not expected and not traefik.listening(address):
        note = f"not checked: no proxy listening on {address}"
        return {str(p.ref): RouteResult(str(p.ref), None, note) for p in running}
    results: dict[str, RouteResult] = {}
    for pod in running:
        adapter = get_adapter(pod.adapter)
        check = adapter.health_check(adapter.validate_config(pod.config))
        host = edge.host(pod.subdomain)
        ok, message = traefik.probe_route(address, host, check.path, headers=check.headers)
        results[str(pod.ref)] = RouteResult(str(pod.ref), ok, message)
    return results
