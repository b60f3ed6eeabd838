"""The audit log: every write use case records who did what to which object, from where, and
how it ended (ok, refused with the one-line reason, or failed). Secrets never go in: only
actions, object names and error messages, which never hold a token or key.

audit.record(ctx: Context, caller: Principal | str, action: str, target: str, outcome: str,
             reason: str | None = None, tenant: str | None = None,
             address: str | None = None) -> None
audit.audited(ctx: Context, caller: Principal, action: str, target: str,
              tenant: str | None = None) -> ContextManager[Outcome]
audit.audited_pod(ctx: Context, caller: Principal, action: str,
                  ref: str | PodRef) -> ContextManager[Outcome]
audit.tail(ctx: Context, caller: Principal, n: int = 20) -> list[AuditEntry]
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from agentpod.control.context import Context
from agentpod.control.guard import require
from agentpod.core.authz import Principal, Scope
from agentpod.core.names import PodRef
from agentpod.services.audit_store import AuditEntry, AuditStore
from agentpod.services.store import StoreError

OUTCOMES = ("ok", "refused", "failed")
REFUSALS = (StoreError, ValueError)  # the request's fault: missing, forbidden, over quota, bad
log = logging.getLogger(__name__)


def record(
    ctx: Context,
    caller: Principal | str,
    action: str,
    target: str,
    outcome: str,
    reason: str | None = None,
    tenant: str | None = None,
    address: str | None = None,
) -> None:
    """One row. ``caller`` is a Principal, or the actor's name as it is when there is none
    (a failed login: e.g. ``user:bob``); ``address`` defaults to the caller's."""
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    actor = caller.actor if isinstance(caller, Principal) else caller
    if address is None and isinstance(caller, Principal):
        address = caller.address
    AuditStore(ctx.store).add(actor, action, target, tenant, outcome, reason, address)


@dataclass
class Outcome:
    """What ``audited`` yields: set ``failed`` to a reason when the use case failed without
    raising (its result says so)."""

    failed: str | None = None


@contextmanager
def audited(
    ctx: Context, caller: Principal, action: str, target: str, tenant: str | None = None
) -> Iterator[Outcome]:
    """Record how the block ends: ok, refused (the request's fault) or failed."""
    outcome = Outcome()
    try:
        yield outcome
    except REFUSALS as exc:
        _record_quietly(ctx, caller, action, target, "refused", _one_line(exc), tenant)
        raise
    except Exception as exc:
        _record_quietly(ctx, caller, action, target, "failed", _one_line(exc), tenant)
        raise
    verdict = "failed" if outcome.failed else "ok"
    _record_quietly(ctx, caller, action, target, verdict, outcome.failed, tenant)


def audited_pod(
    ctx: Context, caller: Principal, action: str, ref: str | PodRef
) -> AbstractContextManager[Outcome]:
    """``audited`` on a pod given as TENANT/POD (checked inside, so bad names are audited)."""
    return audited(ctx, caller, action, str(ref), str(ref).partition("/")[0] or None)


def _record_quietly(
    ctx: Context,
    caller: Principal,
    action: str,
    target: str,
    outcome: str,
    reason: str | None,
    tenant: str | None,
) -> None:
    """A log row that cannot be written (the database is gone) never hides the outcome."""
    try:
        record(ctx, caller, action, target, outcome, reason, tenant)
    except Exception as exc:
        log.warning("audit row for %s %s not written: %s", action, target, _one_line(exc))


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:500]


def tail(ctx: Context, caller: Principal, n: int = 20) -> list[AuditEntry]:
    """The latest ``n`` rows the caller may read (its tenants' only, unless it sees all)."""
    require(caller, Scope.AUDIT_READ)
    with ctx.store.scoped(caller.tenants):
        return AuditStore(ctx.store).tail(n, caller.tenants)
