"""The store's refusals (light: shells catch them without importing the store)."""

from __future__ import annotations

from agentpod.core.names import PodRef


class StoreError(Exception):
    """A refused write: the message says why and what to do."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    pass


def no_tenant(name: str) -> NotFound:
    return NotFound(f"no tenant {name!r}: see 'agentpod tenant list'")


def no_pod(ref: PodRef) -> NotFound:
    return NotFound(f"no pod {ref}: see 'agentpod pod list'")
