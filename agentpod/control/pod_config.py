"""A pod's config: read it, change it (validated against its agent type's schema; provider keys
refused), the pod then recreated with it (data kept).

pod_config.get(ctx: Context, caller: Principal, ref: str | PodRef, key: str | None = None) -> Any
pod_config.schema(ctx: Context, caller: Principal, ref: str | PodRef) -> dict
pod_config.replace(ctx: Context, caller: Principal, ref: str | PodRef,
                   config: dict[str, Any]) -> Changed
pod_config.set_key(ctx: Context, caller: Principal, ref: str | PodRef, key: str,
                   value: str) -> Changed   (value: JSON, or a bare string)
pod_config.patch(ctx: Context, caller: Principal, ref: str | PodRef,
                 patch: dict[str, Any]) -> Changed   (an RFC 7396 merge patch)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentpod.control import guard
from agentpod.control.audit import audited_pod
from agentpod.control.context import Context
from agentpod.control.pods import Changed, apply
from agentpod.core.authz import Principal, Scope
from agentpod.core.names import PodRef

Config = dict[str, Any]


def get(ctx: Context, caller: Principal, ref: str | PodRef, key: str | None = None) -> Any:
    from agentpod.core.configpath import get_path

    p = guard.pod_of(ctx, caller, ref, Scope.PODS_READ)
    return get_path(p.config, key) if key else p.config


def schema(ctx: Context, caller: Principal, ref: str | PodRef) -> dict[str, Any]:
    from agentpod.core.adapters import get_adapter

    return get_adapter(guard.pod_of(ctx, caller, ref, Scope.PODS_READ).adapter).json_schema()


def replace(ctx: Context, caller: Principal, ref: str | PodRef, config: dict[str, Any]) -> Changed:
    return _change(ctx, caller, ref, lambda _old: config)


def set_key(ctx: Context, caller: Principal, ref: str | PodRef, key: str, value: str) -> Changed:
    from agentpod.core.configpath import parse_value, set_path

    return _change(ctx, caller, ref, lambda old: set_path(old, key, parse_value(value)))


def patch(ctx: Context, caller: Principal, ref: str | PodRef, changes: dict[str, Any]) -> Changed:
    from agentpod.core.configpath import merge_patch

    return _change(ctx, caller, ref, lambda old: merge_patch(old, changes))


def _change(
    ctx: Context, caller: Principal, ref: str | PodRef, new_of: Callable[[Config], Config]
) -> Changed:
    from agentpod.control.llm import refuse_provider_keys
    from agentpod.core.adapters import get_adapter

    with audited_pod(ctx, caller, "config.set", ref):
        p = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        new = new_of(p.config)
        get_adapter(p.adapter).validate_config(new)
        refuse_provider_keys(new)
        if new == p.config:
            return Changed(p, changed=False)
        p = ctx.store.set_config(p, new)
    return Changed(p, warnings=apply(ctx, [p]))
