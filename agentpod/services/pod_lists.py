"""Pod lists kept between requests while nothing they show has changed (migration 0015).

A list is kept with the change counter read *before* it, and only when no writer ran between
that and the list's read: a writer advances the counter before it commits, so a list read while
one ran might lack a change that the counter already counts. (A writer holds the lock on its
own transaction id until it ends: none in ``pg_locks``, none running. A snapshot's xmin/xmax
cannot tell: the newest running transaction is not in it.) A list is answered again only while
the counter still has the value it was kept with.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import psycopg

CHANGES = "SELECT last_value FROM pod_changes"
NO_WRITER = "SELECT NOT EXISTS (SELECT FROM pg_locks WHERE locktype = 'transactionid') AS none"
KEEP = 256  # lists kept at most (a page, a tenant, a caller's scope each make one)


class PodLists:
    def __init__(self) -> None:
        self._kept: dict[Hashable, tuple[int, str]] = {}

    def answer(self, conn: psycopg.Connection, key: Hashable, read: Callable[[], str]) -> str:
        """The list ``key`` as kept, if nothing changed since; else ``read()``'s, kept when
        no writer ran."""
        changes = conn.execute(CHANGES).fetchone()["last_value"]  # type: ignore[index]
        kept = self._kept.get(key)
        if kept is not None and kept[0] == changes:
            return kept[1]
        settled = conn.execute(NO_WRITER).fetchone()["none"]  # type: ignore[index]
        body = read()
        if settled:
            if len(self._kept) >= KEEP:
                self._kept.clear()
            self._kept[key] = (changes, body)
        return body
