"""A pod's config: read it, change it (validated against its agent type's schema; provider keys
refused), the pod then recreated with it (data kept). Fields the type's schema marks
``writeOnly`` are secrets: sealed at rest by the store, shown masked; revealing them needs
pods:write and is audited; a masked value written back keeps the secret it stood for.

pod_config.get(ctx: Context, caller: Principal, ref: str | PodRef, key: str | None = None,
               reveal: bool = False) -> Any   (secret fields masked unless revealed)
pod_config.shown(pod: Pod) -> dict   (the config with its secret fields masked)
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
from agentpod.core.models import Pod
from agentpod.core.names import PodRef

Config = dict[str, Any]


def get(
    ctx: Context,
    caller: Principal,
    ref: str | PodRef,
    key: str | None = None,
    reveal: bool = False,
) -> Any:
    from agentpod.core.configpath import get_path

    if reveal:
        with audited_pod(ctx, caller, "config.reveal", ref):
            config = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE).config
    else:
        config = shown(guard.pod_of(ctx, caller, ref, Scope.PODS_READ))
    return get_path(config, key) if key else config


def shown(pod: Pod) -> Config:
    from agentpod.core.adapters import secret_paths_of
    from agentpod.core.configsecrets import masked

    return masked(pod.config, secret_paths_of(pod.adapter))


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
    from agentpod.core.adapters import get_adapter, secret_paths_of
    from agentpod.core.configsecrets import unmasked

    with audited_pod(ctx, caller, "config.set", ref):
        p = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        new = unmasked(new_of(p.config), p.config, secret_paths_of(p.adapter))
        get_adapter(p.adapter).validate_config(new)
        refuse_provider_keys(new)
        if new == p.config:
            return Changed(p, changed=False)
        p = ctx.store.set_config(p, new)
    return Changed(p, warnings=apply(ctx, [p]))
