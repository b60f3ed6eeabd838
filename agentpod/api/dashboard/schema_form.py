"""A form generated from an agent type's JSON Schema (the config's top-level properties), and
the config read back from it. Values are only shaped here (a number field to a number, a JSON
field parsed); validating them is the adapter's, through the use case, so that its messages
are the API's. Composite values (objects, lists) are edited as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PREFIX = "config."  # the form fields of the config: config.<property>


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # text | integer | number | boolean | select | json
    label: str
    description: str
    required: bool
    default: Any
    choices: tuple[str, ...] = ()

    @property
    def input_name(self) -> str:
        return PREFIX + self.name

    def shown(self, value: Any) -> str:
        """The text a field shows for a value."""
        if value is None:
            return ""
        if self.kind == "json":
            return json.dumps(value, indent=2)
        if self.kind == "boolean":
            return "true" if value else "false"
        return str(value)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**schema.get("$defs", {}).get(ref.split("/")[-1], {}), **node}
    options = [o for o in node.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:  # X | None: the X
        return {**_resolve(schema, options[0]), **{k: v for k, v in node.items() if k != "anyOf"}}
    return node


def _kind(node: dict[str, Any]) -> str:
    if "enum" in node:
        return "select"
    return {"string": "text", "integer": "integer", "number": "number", "boolean": "boolean"}.get(
        str(node.get("type")), "json"
    )


def fields(schema: dict[str, Any]) -> list[Field]:
    required = set(schema.get("required", []))
    found = []
    for name, raw in schema.get("properties", {}).items():
        node = _resolve(schema, raw)
        found.append(
            Field(
                name=name,
                kind=_kind(node),
                label=node.get("title") or name.replace("_", " ").capitalize(),
                description=node.get("description", ""),
                required=name in required,
                default=node.get("default"),
                choices=tuple(str(c) for c in node.get("enum", ())),
            )
        )
    return found


def _value(field: Field, text: str) -> Any:
    if field.kind == "boolean":
        return text == "true"
    if field.kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if field.kind in ("integer", "number"):
        try:
            return int(text) if field.kind == "integer" else float(text)
        except ValueError:
            return text  # the schema's own message says what is wrong
    return text


def config_of(
    schema: dict[str, Any], form: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The config a form gives, and the fields that are not even well-formed (name: message).
    An empty field is left out (the type's default applies)."""
    config: dict[str, Any] = {}
    bad: dict[str, str] = {}
    for field in fields(schema):
        text = form.get(field.input_name, "").strip()
        if not text and field.kind != "boolean":
            continue
        try:
            config[field.name] = _value(field, text)
        except ValueError as exc:
            bad[field.name] = str(exc)
    return config, bad


def field_errors(message: str, names: list[str]) -> dict[str, str]:
    """A validation message (``port: ...; env.X: ...``) split by the top-level field it names;
    what names none is under ``""``."""
    errors: dict[str, str] = {}
    for part in message.split("; "):
        where, _, what = part.partition(": ")
        top = where.split(".")[0]
        key = top if top in names and what else ""
        errors[key] = f"{errors[key]}; {part}" if key in errors else part
    return errors
