"""``agentpod serve``'s Prometheus metrics, in a registry of its own. Counters and histograms
are fed by the loop's hooks; pods' state, readiness and usage are read once per scrape (one
database query, and each running container's cgroup files: no Docker call)."""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from agentpod.control import accounts, guard
from agentpod.control.context import Context
from agentpod.control.errors import Forbidden
from agentpod.control.hooks import Hooks
from agentpod.core.authz import Scope
from agentpod.core.models import ActualStatus, DesiredStatus, Pod
from agentpod.services import cgroups, faults
from agentpod.services.store import Store

if TYPE_CHECKING:
    from agentpod.control.reconciler import Outcome

log = logging.getLogger("agentpod.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # every Prometheus reads it
REGISTRY = CollectorRegistry()  # not prometheus_client's global one: ours only

PASSES = Histogram(
    "agentpod_reconcile_pass_seconds",
    "Duration of reconcile passes (scope: full, or the pods an event or a write triggered).",
    ["scope"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
ACTIONS = Counter(
    "agentpod_reconcile_actions",
    "Reconcile actions by kind (create, start, stop, recreate, remove) and outcome (ok, error,"
    " skipped: backing off after an error).",
    ["action", "outcome"],
    registry=REGISTRY,
)
RESTARTS = Counter(
    "agentpod_pod_restarts",
    "Pods brought back, by why: their container exited, went missing or failed, or they were"
    " restarted for failing their health checks (unhealthy).",
    ["tenant", "pod", "reason"],
    registry=REGISTRY,
)
PROBES = Histogram(
    "agentpod_health_probe_seconds",
    "Latency of health probes of pods, by agent type and result (ok, failed).",
    ["adapter", "result"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3),
    registry=REGISTRY,
)
RECONNECTS = Counter(
    "agentpod_docker_event_stream_reconnects",
    "Times the Docker event stream was lost and subscribed to again.",
    registry=REGISTRY,
)
ERRORS = {
    system: Counter(
        f"agentpod_{system}_errors",
        f"Failed {title} requests, by reason (an HTTP status or an exception's class).",
        ["reason"],
        registry=REGISTRY,
    )
    for system, title in (("docker", "Docker API"), ("database", "PostgreSQL"))
}
LEADER = Gauge(
    "agentpod_serve_leader", "1 while this serve leads, 0 while it stands by.", registry=REGISTRY
)


def _count_fault(system: str, reason: str) -> None:
    ERRORS[system].labels(reason).inc()


class Metrics(Hooks):
    """The loop's hooks, counted in ``REGISTRY``."""

    def __init__(self, leading: Callable[[], bool]) -> None:
        LEADER.set_function(lambda: float(leading()))
        faults.listen(_count_fault)

    def passed(self, seconds: float, full: bool, outcomes: Sequence[Outcome]) -> None:
        PASSES.labels("full" if full else "pods").observe(seconds)
        for o in outcomes:
            result = "ok" if o.ok else ("skipped" if o.skipped else "error")
            ACTIONS.labels(o.action.kind.value, result).inc()

    def restarted(self, pod: Pod, reason: str) -> None:
        RESTARTS.labels(pod.tenant, pod.name, reason).inc()

    def probed(self, pod: Pod, seconds: float, ok: bool) -> None:
        PROBES.labels(pod.adapter, "ok" if ok else "failed").observe(seconds)

    def reconnected(self) -> None:
        RECONNECTS.inc()


API_REQUESTS = Counter(
    "agentpod_api_requests",
    "HTTP API requests by route (its template), method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)


def count_request(route: str, method: str, status: int) -> None:
    API_REQUESTS.labels(route, method, str(status)).inc()


def scrape(ctx: Context, key: str | None) -> bytes:
    """What ``GET /metrics`` answers: to a trusted caller (loopback, or the installer's
    scraper listener: ``key`` None) or to the holder of an API key that sees every tenant."""
    if key is not None:
        caller = accounts.key_principal(ctx, key)
        guard.require(caller, Scope.PODS_READ)
        if caller.tenants is not None:
            raise Forbidden("metrics show every tenant: use an admin's or operator's key")
    return exposition(ctx.store)


def exposition(store: Store) -> bytes:
    """The text a scraper gets: the registry, then the pods as the database shows them now."""
    return generate_latest(_Scrape(store))


class _Scrape:
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        try:
            rows = self.store.pod_rows()
        except psycopg.Error as exc:  # counted as a database error; the rest still answers
            log.warning('{"event": "metrics.pods.failed", "error": "%s"}', exc)
            return
        yield from _pod_families(rows)


def _pod_families(rows: list[dict[str, Any]]) -> Iterator[Metric]:
    states = GaugeMetricFamily(
        "agentpod_pods", "Pods by tenant and observed state.", labels=["tenant", "state"]
    )
    tally = Tally((r["tenant"], r["actual_status"] or ActualStatus.PENDING.value) for r in rows)
    for tenant in sorted({r["tenant"] for r in rows}):
        for state in ActualStatus:
            states.add_metric([tenant, state.value], tally[(tenant, state.value)])
    ready = GaugeMetricFamily(
        "agentpod_pod_ready",
        "1 when the last health probe of a pod that should run passed, else 0.",
        labels=["tenant", "pod"],
    )
    memory = GaugeMetricFamily(
        "agentpod_pod_memory_bytes",
        "Memory of a pod's container, page cache not counted (as docker stats shows it).",
        labels=["tenant", "pod"],
    )
    cpu = CounterMetricFamily(
        "agentpod_pod_cpu_seconds",
        "CPU time used by a pod's container since it started.",
        labels=["tenant", "pod"],
    )
    for r in rows:
        if r["desired_status"] != DesiredStatus.RUNNING.value:
            continue
        labels = [r["tenant"], r["name"]]
        ready.add_metric(labels, 1.0 if r["ready"] else 0.0)
        used = cgroups.usage(r["container_id"]) if r["container_id"] else None
        if used is not None:
            memory.add_metric(labels, used.memory_bytes)
            cpu.add_metric(labels, used.cpu_seconds)
    yield from (states, ready, memory, cpu)
