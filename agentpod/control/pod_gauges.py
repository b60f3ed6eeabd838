"""Pods' state, readiness, memory and CPU as a scrape finds them: one database query, then each
running container's cgroup files (no Docker call)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from agentpod.core.models import ActualStatus, DesiredStatus
from agentpod.services import cgroups
from agentpod.services.store import Store

log = logging.getLogger("agentpod.metrics")
Row = dict[str, Any]


def collect(store: Store) -> Iterator[Metric]:
    try:
        rows = store.pod_rows()
    except psycopg.Error as exc:  # counted as a database error; the rest of a scrape answers
        log.warning('{"event": "metrics.pods.failed", "error": "%s"}', exc)
        return
    yield _states(rows)
    yield from _per_pod([r for r in rows if r["desired_status"] == DesiredStatus.RUNNING.value])


def _states(rows: list[Row]) -> Metric:
    """Every state of every tenant, zeros included: a state that empties drops to 0."""
    family = GaugeMetricFamily(
        "agentpod_pods", "Pods by tenant and observed state.", labels=["tenant", "state"]
    )
    tally = Counter((r["tenant"], r["actual_status"] or ActualStatus.PENDING.value) for r in rows)
    for tenant in sorted({r["tenant"] for r in rows}):
        for state in ActualStatus:
            family.add_metric([tenant, state.value], tally[(tenant, state.value)])
    return family


def _per_pod(running: list[Row]) -> Iterator[Metric]:
    """Readiness of the pods that should run, and the usage of those with a container."""
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
    for r in running:
        labels = [r["tenant"], r["name"]]
        ready.add_metric(labels, 1.0 if r["ready"] else 0.0)
        used = cgroups.usage(r["container_id"]) if r["container_id"] else None
        if used is not None:
            memory.add_metric(labels, used.memory_bytes)
            cpu.add_metric(labels, used.cpu_seconds)
    yield from (ready, memory, cpu)
