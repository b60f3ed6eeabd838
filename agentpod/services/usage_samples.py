"""Pods' memory and CPU over time (table pod_usage): one sample per pod and minute (its first
measured health round of that minute), deleted after ``RETENTION``.

usage_samples.keep(conn, minute, rows) -> None   rows: (pod id, memory bytes, CPU %)
usage_samples.since(conn, pod_id, start) -> list[dict]   oldest first: minute, memory, CPU"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

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
SELECT minute, memory_bytes, cpu_percent FROM pod_usage
WHERE pod_id = %s AND minute >= %s ORDER BY minute
"""


def keep(
    conn: psycopg.Connection, minute: datetime, rows: Sequence[tuple[int, int | None, float | None]]
) -> None:
    """Store this minute's samples (measured ones only) and drop those past the retention."""
    ids, memory, cpu = (list(column) for column in zip(*rows, strict=True))
    conn.execute(KEEP, (minute, ids, memory, cpu))
    conn.execute("DELETE FROM pod_usage WHERE minute < %s", (minute - RETENTION,))


def since(conn: psycopg.Connection, pod_id: int, start: datetime) -> list[dict[str, Any]]:
    return conn.execute(SINCE, (pod_id, start)).fetchall()
