"""The refusals of the use cases, besides the store's NotFound and Conflict."""

from __future__ import annotations

from agentpod.services.store import Conflict, StoreError


class Forbidden(StoreError):
    """The caller sees the object but lacks the right (API: 403)."""


class QuotaExceeded(Conflict):
    """The change would take a tenant over one of its quotas (API: 409)."""


class BadInput(ValueError):
    """A request that cannot be right whatever the state (CLI: exit 2; API: 422)."""
