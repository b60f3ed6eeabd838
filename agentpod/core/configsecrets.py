"""Secret fields of a pod's config: an adapter marks them ``writeOnly`` in its JSON Schema.

AgentPod seals them at rest, masks them when a config is shown (unless revealed), and hands the
real value to the container. A secret field is a string, or an object of strings (each value
a secret: ``secret_env``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MASK = "********"
SECRET = {"writeOnly": True}  # json_schema_extra of a config field that holds secrets
Path = tuple[str, ...]


def secret_paths(schema: dict[str, Any]) -> tuple[Path, ...]:
    """Where the schema's ``writeOnly`` properties are (their ``$ref``s followed)."""
    defs = schema.get("$defs", {})

    def walk(node: dict[str, Any], at: Path) -> list[Path]:
        ref = node.get("$ref", "")
        node = defs.get(ref.rsplit("/", 1)[-1], node) if ref.startswith("#/$defs/") else node
        if node.get("writeOnly"):
            return [at]
        props = node.get("properties", {})
        return [p for name, sub in props.items() for p in walk(sub, (*at, name))]

    return tuple(walk(schema, ()))


def map_secrets(
    config: dict[str, Any], paths: tuple[Path, ...], fn: Callable[[str], str]
) -> dict[str, Any]:
    """``config`` with each secret string put through ``fn`` (copied where changed only)."""
    for path in paths:
        config = _mapped(config, path, fn)
    return config


def _mapped(node: Any, path: Path, fn: Callable[[str], str]) -> Any:
    if not isinstance(node, dict) or path[0] not in node:
        return node
    value = node[path[0]]
    if len(path) > 1:
        new = _mapped(value, path[1:], fn)
    elif isinstance(value, str):
        new = fn(value)
    elif isinstance(value, dict):
        new = {k: fn(v) if isinstance(v, str) else v for k, v in value.items()}
    else:
        return node
    return {**node, path[0]: new}


def masked(config: dict[str, Any], paths: tuple[Path, ...]) -> dict[str, Any]:
    return map_secrets(config, paths, lambda _v: MASK)


def unmasked(new: dict[str, Any], old: dict[str, Any], paths: tuple[Path, ...]) -> dict[str, Any]:
    """A config written back as it was shown: each masked secret keeps its old value."""
    for path in paths:
        new = _kept(new, old, path)
    return new


def _kept(new: Any, old: Any, path: Path) -> Any:
    if not isinstance(new, dict) or path[0] not in new:
        return new
    before = old.get(path[0]) if isinstance(old, dict) else None
    value = new[path[0]]
    if len(path) > 1:
        return {**new, path[0]: _kept(value, before, path[1:])}
    if value == MASK:
        return {**new, path[0]: before} if isinstance(before, str) else new
    if isinstance(value, dict) and isinstance(before, dict):
        kept = {k: before[k] if v == MASK and k in before else v for k, v in value.items()}
        return {**new, path[0]: kept}
    return new
