"""``agentpod serve``'s Prometheus metrics, in a registry of its own. Counters and histograms
are fed by the loop's hooks; pods' state, readiness and usage are read once per scrape (one
database query, and each running container's cgroup files: no Docker call)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric

from agentpod.control import apikeys, guard, pod_gauges
from agentpod.control.context import Context
from agentpod.control.errors import Forbidden
from agentpod.control.hooks import Hooks
from agentpod.core.authz import Scope
from agentpod.core.models import Pod
from agentpod.services import faults
from agentpod.services.store import Store

if TYPE_CHECKING:
    from agentpod.control.reconciler import Outcome

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
API_REQUESTS = Counter(
    "agentpod_api_requests",
    "HTTP API requests by route (its template), method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)


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


def count_request(route: str, method: str, status: int) -> None:
    API_REQUESTS.labels(route, method, str(status)).inc()


def scrape(ctx: Context, key: str | None) -> bytes:
    """What ``GET /metrics`` answers: to a trusted caller (loopback, or the installer's
    scraper listener: ``key`` None) or to the holder of an API key that sees every tenant."""
    if key is not None:
        caller = apikeys.key_principal(ctx, key)
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
        yield from pod_gauges.collect(self.store)
