"""The health checker: probe running pods, record readiness and usage, restart the stuck ones."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agentpod.control.hooks import Hooks
from agentpod.core.adapters import get_adapter
from agentpod.core.models import DesiredStatus, Pod
from agentpod.core.planner import Actual
from agentpod.services import cgroups, prober
from agentpod.services.docker_runtime import DockerRuntime
from agentpod.services.store import Store

log = logging.getLogger("agentpod.health")


@dataclass(frozen=True)
class HealthResult:
    pod: str
    ready: bool
    message: str
    memory_bytes: int | None = None
    cpu_percent: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "pod": self.pod,
            "ready": self.ready,
            "message": self.message,
            "memory_bytes": self.memory_bytes,
            "cpu_percent": self.cpu_percent,
        }


@dataclass
class HealthChecker:
    store: Store
    runtime: DockerRuntime
    clock: Callable[[], float] = time.time
    restart: Callable[[Pod, str], bool] | None = None
    hooks: Hooks = field(default_factory=Hooks)  # serve's metrics
    domain: str = "localhost"  # pods' Host through the edge: <subdomain>.<domain>
    failures: dict[int, int] = field(default_factory=dict)
    # by container id, for the containers of the last round only (others are dropped); a
    # container started again keeps its id, so a start is only trusted within its start period
    _started: dict[str, float] = field(default_factory=dict)
    _cpu_seconds: dict[str, tuple[float, float]] = field(default_factory=dict)  # cpu s, at
    _sampled: dict[int, datetime] = field(default_factory=dict)  # pod id: its last sample's minute

    def check(
        self, pods: list[Pod], with_stats: bool = True, stop: threading.Event | None = None
    ) -> list[HealthResult]:
        """Probe every pod that should run; once ``stop`` is set, the pods not yet probed are
        skipped (a stopping serve must not wait for a whole round of probes and stats)."""
        adopted = {p.adopted_container_id: p.id for p in pods if p.adopted_container_id}
        actual = {}
        for a in self.runtime.list_pods(list(adopted)):  # adopted ones carry no labels
            pod_id = a.pod_id if a.pod_id is not None else adopted.get(a.container_id)
            if pod_id is not None and not a.holder:
                actual[pod_id] = a
        self._forget_except({a.container_id for a in actual.values()})
        targets = [p for p in pods if p.desired_status is DesiredStatus.RUNNING]
        if not targets:
            return []

        def one(pod: Pod) -> tuple[Pod, HealthResult] | None:
            if stop is not None and stop.is_set():
                return None
            return pod, self._check_one(pod, actual.get(pod.id), with_stats)

        with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
            done = [r for r in pool.map(one, targets) if r is not None]
        self._record(done)
        return [result for _, result in done]

    def _forget_except(self, live: set[str]) -> None:
        """Drop the samples of containers gone since (they would grow with churn)."""
        for samples in (self._started, self._cpu_seconds):
            for cid in samples.keys() - live:
                del samples[cid]

    def _check_one(self, pod: Pod, container: Actual | None, with_stats: bool) -> HealthResult:
        ref = str(pod.ref)
        if container is None or container.state != "running" or not container.ip:
            state = container.state if container else "missing"
            return HealthResult(ref, False, f"container {state}")
        adapter = get_adapter(pod.adapter)
        check = adapter.health_check(adapter.validate_config(pod.config))
        started = time.monotonic()
        edge = self.runtime.edge_address
        if edge is not None:  # a swarm's task on an overlay: through the edge, by its Host
            ok, message = prober.probe_via(edge, f"{pod.subdomain}.{self.domain}", check)
        else:
            ok, message = prober.probe(container.ip, check)
        self.hooks.probed(pod, time.monotonic() - started, ok)
        mem, cpu = self._usage(container.container_id) if with_stats else (None, None)
        self._judge(pod, container, ok, message, check.start_period_s, check.failure_threshold)
        return HealthResult(ref, ok, message, mem, cpu)

    def _record(self, done: list[tuple[Pod, HealthResult]]) -> None:
        """One read of the round's pods' health, a write (with its event) for each pod whose
        readiness or message changed, and one statement for every time stamp and usage."""
        if not done:
            return
        before = self.store.health_states([pod.id for pod, _ in done])
        for pod, r in done:
            if before.get(pod.id) == (r.ready, r.message):
                continue
            event = None
            if before.get(pod.id, (False, None))[0] != r.ready:
                event = ("healthy", r.message) if r.ready else ("unready", r.message)
            self.store.update_status(pod, event, ready=r.ready, health_message=r.message)
        at = datetime.fromtimestamp(self.clock(), UTC)
        usage = [(pod.id, r.memory_bytes, r.cpu_percent) for pod, r in done]
        minute = at.replace(second=0, microsecond=0)
        # a pod's first measured figures of a minute are kept as its sample of that minute
        samples = [u for u in usage if u[1] is not None and self._sampled.get(u[0]) != minute]
        self.store.record_usage(at, usage, minute, samples)
        self._sampled = {
            pod_id: self._sampled[pod_id] for pod_id, _, _ in usage if pod_id in self._sampled
        }
        self._sampled.update((pod_id, minute) for pod_id, _, _ in samples)

    def _judge(
        self, pod: Pod, c: Actual, ok: bool, message: str, start_period: float, threshold: int
    ) -> None:
        """Count failures after the start period; past the threshold, restart the pod."""
        if ok or pod.adopted_container_id:  # never restart a container we only adopted
            self.failures.pop(pod.id, None)
            return
        started = self._started_at(c.container_id, start_period)
        if started is None or self.clock() - started < start_period:
            # gone since the list (the reconciler recreates it, no restart here), or starting:
            # the failures of its previous run are not in a row with this run's
            self.failures.pop(pod.id, None)
            return
        count = self.failures.get(pod.id, 0) + 1
        self.failures[pod.id] = count
        if count >= threshold and self.restart is not None:
            self.failures.pop(pod.id, None)
            self.hooks.restarted(pod, "unhealthy")
            self.restart(pod, f"unhealthy {count} times in a row: {message}")

    def _started_at(self, cid: str, start_period: float) -> float | None:
        """When the container last started. Docker starts a killed or restarted container
        again under the same id: a start whose period would be over is read again, else a
        container killed after its first start period would be restarted as unhealthy while
        it starts, again and again (every restart is the same id)."""
        cached = self._started.get(cid)
        if cached is None or self.clock() - cached >= start_period:
            info = self.runtime.inspect(cid)
            if info is None:
                return None
            raw = info["State"]["StartedAt"]
            stamp = datetime.fromisoformat(raw[:26].rstrip("Z") + "+00:00")
            self._started[cid] = stamp.timestamp()
        return self._started[cid]

    def _usage(self, cid: str) -> tuple[int | None, float | None]:
        """Memory and CPU % from the container's cgroup files (~0.1 ms); one Docker stats call
        (~1 s: the engine samples) only where those files are not found."""
        found = cgroups.usage(cid) or self._docker_usage(cid)
        if found is None:
            return None, None
        now = time.monotonic()
        before = self._cpu_seconds.get(cid)
        self._cpu_seconds[cid] = (found.cpu_seconds, now)
        percent = None
        if before and now > before[1]:
            percent = round((found.cpu_seconds - before[0]) / (now - before[1]) * 100, 2)
        return found.memory_bytes, percent

    def _docker_usage(self, cid: str) -> cgroups.Usage | None:
        """The same figures from Docker's stats: memory without the inactive page cache, and
        the CPU seconds the container used since it started."""
        try:
            stats = self.runtime.stats(cid)
        except Exception as exc:
            log.debug("stats of %s failed: %s", cid[:12], exc)
            return None
        mem = (stats or {}).get("memory_stats") or {}
        total = (((stats or {}).get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
        if mem.get("usage") is None or total is None:  # gone since the list, or no metrics
            return None
        cache = (mem.get("stats") or {}).get("total_inactive_file") or 0
        return cgroups.Usage(mem["usage"] - cache, total / 1e9)
