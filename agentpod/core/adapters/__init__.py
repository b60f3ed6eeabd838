"""Adapters: built-in ones plus third-party ones from the ``agentpod.adapters`` entry points."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from agentpod.core.adapters.base import AgentAdapter, ConfigError
from agentpod.core.adapters.generic import GenericAdapter
from agentpod.core.adapters.openclaw import OpenClawAdapter
from agentpod.core.adapters.openwebui import OpenWebUIAdapter
from agentpod.core.configsecrets import Path, secret_paths

BUILTIN: tuple[type[AgentAdapter], ...] = (OpenClawAdapter, OpenWebUIAdapter, GenericAdapter)

__all__ = [
    "AgentAdapter",
    "ConfigError",
    "UnknownAdapter",
    "all_adapters",
    "get_adapter",
    "secret_paths_of",
]


class UnknownAdapter(LookupError):
    pass


@cache
def all_adapters() -> dict[str, AgentAdapter]:
    found: dict[str, AgentAdapter] = {cls.id: cls() for cls in BUILTIN}
    for ep in entry_points(group="agentpod.adapters"):
        if ep.name not in found:
            found[ep.name] = ep.load()()
    return found


def get_adapter(adapter_id: str) -> AgentAdapter:
    adapters = all_adapters()
    if adapter_id not in adapters:
        known = ", ".join(sorted(adapters))
        raise UnknownAdapter(f"unknown agent type {adapter_id!r}: use one of {known}")
    return adapters[adapter_id]


@cache
def secret_paths_of(adapter_id: str) -> tuple[Path, ...]:
    """Where the type's config holds secrets (``writeOnly`` in its schema); none for a type
    that is not installed (any more)."""
    adapter = all_adapters().get(adapter_id)
    return secret_paths(adapter.json_schema()) if adapter else ()
