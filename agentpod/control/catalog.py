"""The agent types AgentPod can run (adapters), as the shells show them."""

from __future__ import annotations

from typing import Any

from agentpod.core.adapters import AgentAdapter, all_adapters, get_adapter


def adapter_view(a: AgentAdapter, with_schema: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": a.id,
        "name": a.display_name,
        "image": a.default_image,
        "port": a.primary_port,
        "memory_mb": a.default_limits.memory_mb,
    }
    if with_schema:
        view["config_schema"] = a.json_schema()
    return view


def adapters(with_schema: bool = False) -> list[dict[str, Any]]:
    return [adapter_view(a, with_schema) for a in all_adapters().values()]


def adapter(adapter_id: str) -> dict[str, Any]:
    """One type with its config's JSON Schema; UnknownAdapter when there is none."""
    return adapter_view(get_adapter(adapter_id), with_schema=True)
