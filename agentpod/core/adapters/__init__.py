"""Adapters: built-in ones plus third-party ones from the ``agentpod.adapters`` entry points."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from agentpod.core.adapters.base import AgentAdapter, ConfigError
from agentpod.core.adapters.generic import GenericAdapter
from agentpod.core.adapters.openclaw import OpenClawAdapter
from agentpod.core.adapters.openwebui import OpenWebUIAdapter

BUILTIN: tuple[type[AgentAdapter], ...] = (OpenClawAdapter, OpenWebUIAdapter, GenericAdapter)

__all__ = ["AgentAdapter", "ConfigError", "UnknownAdapter", "all_adapters", "get_adapter"]


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
