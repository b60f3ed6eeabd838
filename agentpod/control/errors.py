"""The refusals of the use cases, besides the store's NotFound and Conflict."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from agentpod.services.errors import Conflict, StoreError

T = TypeVar("T")


class Forbidden(StoreError):
    """The caller sees the object but lacks the right (API: 403)."""


class QuotaExceeded(Conflict):
    """The change would take a tenant over one of its quotas (API: 409)."""


class BadInput(ValueError):
    """A request that cannot be right whatever the state (CLI: exit 2; API: 422)."""


def checked(make: Callable[[], T]) -> T:
    """``make()``, its ValueError turned into one line of BadInput (``field: why`` for a
    model's validation)."""
    try:
        return make()
    except ValueError as exc:
        from pydantic import ValidationError  # loaded already if a model raised it

        if isinstance(exc, ValidationError):
            errors = exc.errors()
            where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
            raise BadInput(where) from None
        raise BadInput(str(exc).splitlines()[0]) from None
