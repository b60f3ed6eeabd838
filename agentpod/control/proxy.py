"""The edge as the rest of AgentPod sees it, and the Traefik that ``serve --with-proxy`` runs."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agentpod.core.states import DesiredStatus
from agentpod.services import traefik
from agentpod.settings import Settings

if TYPE_CHECKING:  # models: not imported by the lean reads of pods (see control.pod_reads)
    from agentpod.core.models import Pod
    from agentpod.core.routing import Edge
    from agentpod.services.swarm_runtime import SwarmRuntime

log = logging.getLogger("agentpod.proxy")

CERT_RESOLVER = traefik.CERT_RESOLVER
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


def tls_for(domain: str, acme_email: str | None) -> bool:
    """HTTPS with ACME only for a real domain: ``*.localhost`` cannot get a certificate."""
    local = domain == "localhost" or domain.endswith(".localhost")
    return bool(acme_email) and not local


def uses_tls(settings: Settings) -> bool:
    return tls_for(settings.domain, settings.acme_email)


def public_side(
    settings: Settings, running: traefik.ProxyState | None = None
) -> tuple[str, int | None]:
    """The scheme and port pods are reached on; the port of a running ``serve --with-proxy``
    wins."""
    if uses_tls(settings):
        return "https", settings.proxy_https_port
    return "http", running.http_port if running else settings.proxy_http_port


def edge_for(settings: Settings, running: traefik.ProxyState | None = None) -> Edge:
    """The public side of pods (see ``public_side``)."""
    from agentpod.core.routing import Edge  # a model: not for the lean reads' import

    scheme, port = public_side(settings, running)
    if scheme == "https":
        return Edge(
            domain=settings.domain,
            scheme="https",
            public_port=port,
            entrypoint="websecure",
            cert_resolver=CERT_RESOLVER,
            front_proxies=settings.trusted_front_proxies,
        )
    return Edge(
        domain=settings.domain, public_port=port, front_proxies=settings.trusted_front_proxies
    )


def proxy_address(settings: Settings, running: traefik.ProxyState | None = None) -> str:
    """Where this machine reaches the proxy's HTTP entrypoint (for end-to-end route checks)."""
    if running:
        return running.http_address
    return f"127.0.0.1:{settings.proxy_http_port}"


def proxy_config(
    settings: Settings,
    instance: str,
    http_address: str,
    ping_address: str,
    directory: Path,
    dynamic_file: Path | None = None,
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
        dynamic_file=str(dynamic_file) if dynamic_file else None,
        trusted_ips=settings.trusted_front_proxies,
    )


@dataclass
class ProxySupervisor:
    """Runs Traefik for ``serve``: start, restart it when it dies, stop it on the way out."""

    settings: Settings
    instance: str
    http_address: str
    console_backend: str | None = None  # the HTTP API, routed at console.<domain>
    stop_event: threading.Event = field(default_factory=threading.Event)
    process: traefik.TraefikProcess | None = None
    restarts: int = 0
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)  # start and stop, in turn

    @property
    def directory(self) -> Path:
        return self.settings.home / "traefik"

    def start(self, keep_trying: bool = False) -> None:
        """Start Traefik and watch it. ``keep_trying`` (a takeover from a leader that just
        died): a failed first start is retried like a crash instead of raised."""
        with self._lock:
            if not self.stop_event.is_set():  # stopped while a takeover was on its way
                self._start(keep_trying)

    def _start(self, keep_trying: bool) -> None:
        binary = traefik.find_binary()
        ping_address = f"127.0.0.1:{traefik.free_port()}"
        self.directory.mkdir(parents=True, exist_ok=True)
        cfg = proxy_config(
            self.settings,
            self.instance,
            self.http_address,
            ping_address,
            self.directory,
            self._write_console_route(),
        )
        config_file = self.directory / "traefik.yml"
        orphan = traefik.stop_orphan(self.settings.home, config_file)
        if orphan:
            log.info('{"event": "proxy.orphan.stopped", "pid": %d}', orphan)
        config_file.write_text(traefik.render(cfg))
        self.process = traefik.TraefikProcess(
            binary, config_file, self.directory / "traefik.log", ping_address
        )
        try:
            self.process.start(fresh_log=True)
        except traefik.ProxyFailed as exc:
            if not keep_trying:
                raise
            log.warning('{"event": "proxy.start.failed", "error": "%s"}', exc)
        else:
            self._started(self.process)
        self._thread = threading.Thread(target=self._watch, name="proxy", daemon=True)
        self._thread.start()

    def _write_console_route(self) -> Path | None:
        if self.console_backend is None:
            return None
        path = self.directory / "dynamic.yml"
        acme = self.settings.acme_email if uses_tls(self.settings) else None
        path.write_text(traefik.render_console(self.settings.domain, acme, self.console_backend))
        return path

    def _started(self, proc: traefik.TraefikProcess) -> None:
        state = traefik.ProxyState(os.getpid(), proc.pid or 0, self.http_address, proc.ping_address)
        traefik.write_state(self.settings.home, state)
        log.info('{"event": "proxy.started", "address": "%s"}', self.http_address)

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
                self._started(proc)

    def stop(self) -> None:
        self.stop_event.set()
        with self._lock:
            self._stop()

    def _stop(self) -> None:
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
    from agentpod.core.adapters import get_adapter  # its imports: not for edge_for's callers

    results: dict[str, RouteResult] = {}
    for pod in running:
        adapter = get_adapter(pod.adapter)
        check = adapter.health_check(adapter.validate_config(pod.config))
        host = edge.host(pod.subdomain)
        ok, message = traefik.probe_route(address, host, check.path, headers=check.headers)
        results[str(pod.ref)] = RouteResult(str(pod.ref), ok, message)
    return results


@dataclass
class SwarmProxy:
    """Traefik for ``serve --with-proxy`` on a swarm: a container on the manager, on every
    tenant overlay (see services/swarm_edge.py). Docker restarts it if it dies, so there is
    nothing to watch (``keep_trying`` is the process supervisor's)."""

    settings: Settings
    runtime: SwarmRuntime
    bind: str

    @property
    def http_address(self) -> str:
        return f"{self.bind}:{self.settings.proxy_http_port}"

    def start(self, keep_trying: bool = False) -> None:
        from dataclasses import replace

        from agentpod.services import swarm_edge

        if uses_tls(self.settings):
            raise traefik.ProxyFailed("HTTPS on a swarm is not there yet: unset acme_email")
        api = self.runtime.client.api
        cfg = proxy_config(
            self.settings,
            self.runtime.instance,
            f":{swarm_edge.LISTEN_PORT}",
            swarm_edge.PING_ADDRESS,
            Path("/data"),
        )
        cfg = replace(cfg, provider="swarm", docker_endpoint="unix:///var/run/docker.sock")
        edge = swarm_edge.Edge(api, self.runtime.instance)
        try:
            image = swarm_edge.ensure_image(api, traefik.find_binary())
            edge.start(image, traefik.render(cfg), self.bind, self.settings.proxy_http_port)
        except swarm_edge.EdgeFailed as exc:
            raise traefik.ProxyFailed(str(exc)) from None
        self.runtime.attach_edge(edge)
        self.runtime.edge_address = (self._edge_host(), self.settings.proxy_http_port)
        log.info('{"event": "proxy.started", "address": "%s", "swarm": true}', self.http_address)

    def _edge_host(self) -> str:
        """Where this machine reaches the edge's published port: the manager's address."""
        if self.bind not in ("0.0.0.0", "::", ""):
            return self.bind
        from urllib.parse import urlsplit

        engine = urlsplit(self.runtime.client.api.base_url)  # http://HOST:2375 over TCP
        if engine.scheme in ("http", "https") and engine.hostname:
            return engine.hostname
        return "127.0.0.1"  # the local socket

    def stop(self) -> None:
        edge = self.runtime.edge
        self.runtime.attach_edge(None)
        self.runtime.edge_address = None
        if edge is not None:
            edge.stop()
        log.info('{"event": "proxy.stopped"}')
