"""Pods' memory and CPU over time (table pod_usage): one sample per pod and minute, written by
the first health round of the minute, deleted after ``RETENTION``.

usage_samples.keep(conn, minute, rows) -> None      rows: (pod id, memory bytes, CPU %)
usage_samples.since(conn, ref, start) -> list[dict] oldest first: minute, memory_bytes, cpu_percent
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from agentpod.core.names import PodRef
from agentpod.core.usage import RETENTION_MINUTES

RETENTION = timedelta(minutes=RETENTION_MINUTES)
KEEP = """
INSERT INTO pod_usage (pod_id, minute, memory_bytes, cpu_percent)
SELECT u.pod_id, %s, u.memory, u.cpu
FROM unnest(%s::bigint[], %s::bigint[], %s::float8[]) AS u(pod_id, memory, cpu)
WHERE u.memory IS NOT NULL AND u.pod_id IN (SELECT id FROM pods)
ON CONFLICT (pod_id, minute) DO NOTHING
"""
SINCE = """
SELECT u.minute, u.memory_bytes, u.cpu_percent
FROM pod_usage u JOIN pods p ON p.id = u.pod_id JOIN tenants t ON t.id = p.tenant_id
WHERE t.name = %s AND p.name = %s AND u.minute >= %s
ORDER BY u.minute
"""


def keep(
    conn: psycopg.Connection, minute: datetime, rows: Sequence[tuple[int, int | None, float | None]]
) -> None:
    """Store this minute's samples (measured ones only) and drop those past the retention."""
    ids, memory, cpu = (list(column) for column in zip(*rows, strict=True))
    conn.execute(KEEP, (minute, ids, memory, cpu))
    conn.execute("DELETE FROM pod_usage WHERE minute < %s", (minute - RETENTION,))


def since(conn: psycopg.Connection, ref: PodRef, start: datetime) -> list[dict[str, Any]]:
    return conn.execute(SINCE, (ref.tenant, ref.name, start)).fetchall()
