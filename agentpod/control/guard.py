"""Who may touch what: a tenant or pod the caller does not see is missing (the same NotFound as
one that does not exist), one it sees without the right scope is Forbidden. A caller's reads
run in its scope: row-level security shows the database's rows of its tenants only.

guard.require(caller: Principal, scope: Scope, tenant: str | None = None) -> None
guard.tenant_of(ctx: Context, caller: Principal, name: str, scope: Scope) -> Tenant
guard.pod_of(ctx: Context, caller: Principal, ref: str | PodRef, scope: Scope) -> Pod
guard.seen_pod(caller: Principal, ref: str | PodRef) -> PodRef
guard.visible(caller: Principal, tenant: str | None) -> None
guard.require_all(caller: Principal, scope: Scope) -> None
guard.in_scope(ctx: Context, caller: Principal) -> ContextManager[None]
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from agentpod.control.errors import Forbidden
from agentpod.core.authz import Principal, Scope
from agentpod.core.names import PodRef, validate_label
from agentpod.services.errors import no_pod, no_tenant

if TYPE_CHECKING:  # the CLI's lean reads use the checks here without models or the store
    from agentpod.control.context import Context
    from agentpod.core.models import Pod, Tenant


def require(caller: Principal, scope: Scope, tenant: str | None = None) -> None:
    if not caller.may(scope, tenant):
        where = f" on tenant {tenant}" if tenant else ""
        raise Forbidden(f"{caller.actor} ({caller.role.value}) lacks {scope.value}{where}")


def require_all(caller: Principal, scope: Scope) -> None:
    """``scope`` over every tenant: for what spans the machine (backups, adoption)."""
    require(caller, scope)
    if caller.tenants is not None:
        raise Forbidden(f"{caller.actor} ({caller.role.value}) does not see every tenant")


def tenant_of(ctx: Context, caller: Principal, name: str, scope: Scope) -> Tenant:
    validate_label(name, "tenant name")
    if not caller.sees(name):
        raise no_tenant(name)
    with in_scope(ctx, caller):
        found = ctx.store.get_tenant(name)
    require(caller, scope, name)
    return found


def seen_pod(caller: Principal, ref: str | PodRef) -> PodRef:
    """The pod's parsed name; NotFound when the caller does not see its tenant."""
    ref = PodRef.parse(ref) if isinstance(ref, str) else ref
    if not caller.sees(ref.tenant):
        raise no_pod(ref)
    return ref


def pod_of(ctx: Context, caller: Principal, ref: str | PodRef, scope: Scope) -> Pod:
    ref = seen_pod(caller, ref)
    with in_scope(ctx, caller):
        found = ctx.store.get_pod(ref)
    require(caller, scope, ref.tenant)
    return found


def visible(caller: Principal, tenant: str | None) -> None:
    """A tenant filter the caller may not see: NotFound, as if it did not exist."""
    if tenant and not caller.sees(tenant):
        raise no_tenant(tenant)


def in_scope(ctx: Context, caller: Principal) -> AbstractContextManager[None]:
    """The caller's reads in this block see its tenants' rows only (row-level security)."""
    return ctx.store.scoped(caller.tenants)
