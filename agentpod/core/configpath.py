"""Setting values in a nested config by dot path (``a.b.c``), with JSON values."""

from __future__ import annotations

import copy
import json
from typing import Any


class ConfigPathError(ValueError):
    pass


def parse_value(text: str) -> Any:
    """A JSON value (``"x"``, ``3``, ``true``, ``{...}``); a bare word is taken as a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if text[:1] in '{["':
            raise ConfigPathError(f"value {text!r} is not valid JSON") from None
        return text


def set_path(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Return a copy of ``config`` with ``value`` at ``path``; intermediate objects are created."""
    keys = path.split(".")
    if not path or any(not k for k in keys):
        raise ConfigPathError(f"key {path!r} is not a dot path like gateway.port")
    out = copy.deepcopy(config)
    node = out
    for i, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            where = ".".join(keys[: i + 1])
            raise ConfigPathError(f"cannot set {path!r}: {where!r} is a {type(child).__name__}")
        node = child
    node[keys[-1]] = value
    return out


def get_path(config: dict[str, Any], path: str) -> Any:
    node: Any = config
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise ConfigPathError(f"no key {path!r} in the config")
        node = node[key]
    return node


def apply_assignments(config: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings (as given to ``--set``) in order."""
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigPathError(f"--set {item!r} is not KEY=VALUE")
        config = set_path(config, key.strip(), parse_value(raw))
    return config


def merge_patch(config: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch: objects merge key by key, ``null`` removes a key, any other
    value replaces."""
    out = copy.deepcopy(config)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):  # merged into the object there, or into a new one
            target = out.get(key)
            out[key] = merge_patch(target if isinstance(target, dict) else {}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out
