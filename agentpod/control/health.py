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
from agentpod.services import prober
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
    failures: dict[int, int] = field(default_factory=dict)
    _started: dict[str, float] = field(default_factory=dict)
    _cpu: dict[str, tuple[int, int]] = field(default_factory=dict)

    def check(
        self, pods: list[Pod], with_stats: bool = True, stop: threading.Event | None = None
    ) -> list[HealthResult]:
        """Probe every pod that should run; once ``stop`` is set, the pods not yet probed are
        skipped (a stopping serve must not wait for a whole round of probes and stats)."""
        adopted = {p.adopted_container_id: p.id for p in pods if p.adopted_container_id}
        actual = {}
        for a in self.runtime.list_pods(list(adopted)):  # adopted ones carry no labels
            pod_id = a.pod_id if a.pod_id is not None else adopted.get(a.container_id)
            if pod_id is not None:
                actual[pod_id] = a
        targets = [p for p in pods if p.desired_status is DesiredStatus.RUNNING]
        if not targets:
            return []

        def one(pod: Pod) -> HealthResult | None:
            if stop is not None and stop.is_set():
                return None
            return self._check_one(pod, actual.get(pod.id), with_stats)

        with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
            return [r for r in pool.map(one, targets) if r is not None]

    def _check_one(self, pod: Pod, container: Actual | None, with_stats: bool) -> HealthResult:
        ref = str(pod.ref)
        if container is None or container.state != "running" or not container.ip:
            state = container.state if container else "missing"
            result = HealthResult(ref, False, f"container {state}")
            self._record(pod, result)
            return result
        adapter = get_adapter(pod.adapter)
        check = adapter.health_check(adapter.validate_config(pod.config))
        started = time.monotonic()
        ok, message = prober.probe(container.ip, check)
        self.hooks.probed(pod, time.monotonic() - started, ok)
        mem, cpu = self._usage(container.container_id) if with_stats else (None, None)
        result = HealthResult(ref, ok, message, mem, cpu)
        self._record(pod, result)
        self._judge(pod, container, ok, message, check.start_period_s, check.failure_threshold)
        return result

    def _record(self, pod: Pod, result: HealthResult) -> None:
        fields: dict[str, object] = {
            "ready": result.ready,
            "health_message": result.message,
            "last_health_at": datetime.fromtimestamp(self.clock(), UTC),
        }
        if result.memory_bytes is not None:
            fields["memory_bytes"] = result.memory_bytes
            fields["cpu_percent"] = result.cpu_percent
        previous = self.store.get_status(pod.id)
        event = None
        if previous.ready != result.ready:
            event = ("healthy", result.message) if result.ready else ("unready", result.message)
        self.store.update_status(pod, event, **fields)

    def _judge(
        self, pod: Pod, c: Actual, ok: bool, message: str, start_period: float, threshold: int
    ) -> None:
        """Count failures after the start period; past the threshold, restart the pod."""
        if ok or pod.adopted_container_id:  # never restart a container we only adopted
            self.failures.pop(pod.id, None)
            return
        started = self._started_at(c.container_id)
        if started is None or self.clock() - started < start_period:
            return  # gone since the list: the reconciler recreates it, no restart here
        count = self.failures.get(pod.id, 0) + 1
        self.failures[pod.id] = count
        if count >= threshold and self.restart is not None:
            self.failures.pop(pod.id, None)
            self.hooks.restarted(pod, "unhealthy")
            self.restart(pod, f"unhealthy {count} times in a row: {message}")

    def _started_at(self, cid: str) -> float | None:
        if cid not in self._started:
            info = self.runtime.inspect(cid)
            if info is None:
                return None
            raw = info["State"]["StartedAt"]
            stamp = datetime.fromisoformat(raw[:26].rstrip("Z") + "+00:00")
            self._started[cid] = stamp.timestamp()
        return self._started[cid]

    def _usage(self, cid: str) -> tuple[int | None, float | None]:
        try:
            stats = self.runtime.stats(cid)
        except Exception as exc:
            log.debug("stats of %s failed: %s", cid[:12], exc)
            return None, None
        if stats is None:  # gone since the list
            return None, None
        mem = stats.get("memory_stats") or {}
        usage = mem.get("usage")
        cache = (mem.get("stats") or {}).get("total_inactive_file") or 0
        cpu = stats.get("cpu_stats") or {}
        total = (cpu.get("cpu_usage") or {}).get("total_usage")
        system = cpu.get("system_cpu_usage")
        percent = None
        if total is not None and system is not None:
            before = self._cpu.get(cid)
            self._cpu[cid] = (total, system)
            if before and system > before[1]:
                cores = cpu.get("online_cpus") or 1
                percent = round((total - before[0]) / (system - before[1]) * cores * 100, 2)
        return (usage - cache if usage is not None else None), percent
