"""Wiring: settings -> store, runtime, reconciler, health checker; the CLI's way to apply work."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from agentpod.core.models import DesiredStatus, Pod, PodStatus
from agentpod.core.routing import Edge
from agentpod.services import database
from agentpod.services.secretbox import SecretBox
from agentpod.services.store import Store
from agentpod.settings import Settings

if TYPE_CHECKING:  # the Docker SDK is imported only by commands that need it
    from agentpod.control.health import HealthChecker, HealthResult
    from agentpod.control.reconciler import Outcome, Reconciler
    from agentpod.services.docker_runtime import DockerRuntime
    from agentpod.services.traefik import ProxyState


class WaitFailed(RuntimeError):
    pass


@dataclass
class Context:
    settings: Settings
    db_timeout: float = 30.0  # how long a use case waits for a database connection

    @cached_property
    def store(self) -> Store:
        url = self.settings.database_url or database.database_url(self.settings.home)
        box = SecretBox(self.settings.home / "secret.key")
        store = Store(url, box=box, timeout=self.db_timeout).open(min(10, self.db_timeout))
        if store.pending_migrations():
            store.migrate()
        return store

    @cached_property
    def runtime(self) -> DockerRuntime:
        """The engine's runtime, or the swarm's (a subclass: pods are services there)."""
        from agentpod.services.docker_runtime import DockerRuntime

        instance, subnets = self.store.instance_id(), self.settings.subnets
        if self.settings.runtime == "swarm":
            from agentpod.core.placement import Strategy
            from agentpod.core.swarm_spec import EndpointMode
            from agentpod.services.swarm_runtime import SwarmRuntime

            return SwarmRuntime(
                instance,
                strategy=Strategy(self.settings.placement),
                endpoint=EndpointMode(self.settings.swarm_endpoint_mode),
                encrypted=self.settings.swarm_encrypted == "true",
                subnets=subnets,
            )
        return DockerRuntime(instance, subnets=subnets)

    @cached_property
    def proxy(self) -> ProxyState | None:
        """The Traefik of a running ``serve --with-proxy``, if any."""
        from agentpod.services.traefik import read_state

        return read_state(self.settings.home)

    @cached_property
    def edge(self) -> Edge:
        from agentpod.control.proxy import edge_for

        return edge_for(self.settings, self.proxy)

    @cached_property
    def reconciler(self) -> Reconciler:
        from agentpod.control.reconciler import Reconciler

        return Reconciler(
            self.store,
            self.runtime,
            self.settings.network_mode,
            self.edge,
            llm_port=self.settings.llm_gateway_port,
        )

    @cached_property
    def health(self) -> HealthChecker:
        """Probes only; restarting unhealthy pods is ``serve``'s job (it has the history)."""
        from agentpod.control.health import HealthChecker

        return HealthChecker(self.store, self.runtime, domain=self.settings.domain)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()

    # -- applying CLI writes --------------------------------------------------------------

    def apply(self, pods: list[Pod]) -> list[Outcome]:
        """Wake a running ``serve``, or reconcile these pods here when none runs."""
        ids = [p.id for p in pods]
        if self.store.serve_running():
            self.store.wake(ids)
            return []
        return self.reconciler.run_once(only=set(ids), force=True)

    def restart_pod(self, pod: Pod, reason: str) -> bool:
        """Restart the pod's container; False when it is gone (recorded as missing, and a
        running ``serve`` is woken to recreate it)."""
        status = self.store.get_status(pod.id)
        if not status.container_id:
            raise WaitFailed(f"pod {pod.ref} has no container yet")
        self.reconciler.expected_exits.add(status.container_id)
        if not self.runtime.restart(status.container_id):
            self.store.update_status(pod, None, ready=False, actual_status="missing")
            self.store.wake([pod.id])
            return False
        self.store.update_status(pod, ("restart", reason), ready=False, actual_status="running")
        return True

    def wait_ready(
        self,
        pod: Pod,
        timeout: float,
        tick: Callable[[PodStatus], None] | None = None,
    ) -> PodStatus:
        """Until the pod is running and healthy (probing it here when no ``serve`` runs)."""
        errors = self.wait_all([pod], timeout, tick)
        if errors:
            raise WaitFailed(errors[pod.id])
        return self.store.get_status(pod.id)

    def wait_all(
        self,
        pods: list[Pod],
        timeout: float,
        tick: Callable[[PodStatus], None] | None = None,
    ) -> dict[int, str]:
        """Until every pod is running and healthy or has failed; the error of each that has
        not made it (none: all healthy). Pods are reconciled and probed together."""
        deadline = time.monotonic() + timeout
        pending = {p.id: p for p in pods}
        errors: dict[int, str] = {}
        while pending:
            serving = self.store.serve_running()
            if not serving:
                self.reconciler.run_once(only=set(pending))
            current = [self.store.get_pod_by_id(i) for i in pending]
            self.health.check(current, with_stats=False)
            for pod in current:
                status = self.store.get_status(pod.id)
                if tick:
                    tick(status)
                error = self._verdict(pod, status, time.monotonic() > deadline, timeout)
                if error is not None:
                    del pending[pod.id]
                    if error:
                        errors[pod.id] = error
            if pending:
                time.sleep(0.5 if serving else 1.0)
        return errors

    def _verdict(self, pod: Pod, status: PodStatus, late: bool, timeout: float) -> str | None:
        """'' when the pod is ready, an error when it failed or is late, None to wait on."""
        if status.ready and status.actual_status == "running" and self._current(pod, status):
            return ""
        if status.last_error and status.attempts >= 3:
            return f"pod {pod.ref} failed: {status.last_error}"
        if late:
            detail = status.last_error or status.health_message or status.actual_status
            return f"pod {pod.ref} not ready after {timeout:.0f}s: {detail}"
        return None

    def _current(self, pod: Pod, status: PodStatus) -> bool:
        """Whether the container in ``status`` runs the pod as it is now (a change waits for
        its recreate: until then the old container may still look ready)."""
        if pod.adopted_container_id:
            return True
        try:
            tenant = self.store.get_tenant(pod.tenant).settings
            return status.spec_hash == self.reconciler.spec_hash(pod, False, tenant)
        except Exception:  # an unrenderable config is reported by the reconciler
            return True

    def wait_gone(self, pod: Pod, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(p.id == pod.id for p in self.store.list_pods(pod.tenant)):
            if time.monotonic() > deadline:
                raise WaitFailed(f"pod {pod.ref} still being deleted after {timeout:.0f}s")
            if not self.store.serve_running():
                self.reconciler.run_once(only={pod.id}, force=True)
                continue
            time.sleep(0.3)

    def check_health(self, pods: list[Pod]) -> list[HealthResult]:
        running = [p for p in pods if p.desired_status is DesiredStatus.RUNNING]
        return self.health.check(running)
