"""Who belongs to a tenant. Whoever may change the tenant (admins and operators: tenants:write)
adds and removes its members and viewers; admins and operators see every tenant already and
belong to none. Creating users and changing roles stays with admins (``users``).

members.list_(ctx: Context, caller: Principal, tenant: str) -> dict
    {"tenant": name, "members": [{"name", "role"}], "others": [names of users who could join]}
members.change(ctx: Context, caller: Principal, tenant: str, add: Sequence[str] = (),
               remove: Sequence[str] = ()) -> dict   (the same, after the change)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentpod.control import guard
from agentpod.control.audit import audited
from agentpod.control.context import Context
from agentpod.control.errors import BadInput
from agentpod.core.authz import ALL_TENANTS_ROLES, Principal, Scope
from agentpod.services.accounts_store import AccountStore


def list_(ctx: Context, caller: Principal, tenant: str) -> dict[str, Any]:
    guard.tenant_of(ctx, caller, tenant, Scope.TENANTS_WRITE)
    people = [u for u in AccountStore(ctx.store).users() if u.role not in ALL_TENANTS_ROLES]
    return {
        "tenant": tenant,
        "members": [{"name": u.name, "role": u.role.value} for u in people if tenant in u.tenants],
        "others": [u.name for u in people if tenant not in u.tenants],
    }


def change(
    ctx: Context,
    caller: Principal,
    tenant: str,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> dict[str, Any]:
    """Add and remove members; each user must exist and be a member or viewer."""
    with audited(ctx, caller, "tenant.members", tenant, tenant):
        guard.tenant_of(ctx, caller, tenant, Scope.TENANTS_WRITE)
        accounts = AccountStore(ctx.store)
        for name in (*add, *remove):
            role = accounts.user(name).role  # NotFound: no such user
            if role in ALL_TENANTS_ROLES:
                raise BadInput(f"{name} is {role.value}: that role sees every tenant already")
        for name in add:
            accounts.update_user(name, None, frozenset({tenant}), frozenset())
        for name in remove:
            accounts.update_user(name, None, frozenset(), frozenset({tenant}))
    return list_(ctx, caller, tenant)
