"""The dashboard's form generated from an agent type's JSON Schema, and the config read back."""

from __future__ import annotations

import pytest

from agentpod.api.dashboard import schema_form
from agentpod.core.adapters import ConfigError, get_adapter


def _schema(adapter: str) -> dict:
    return get_adapter(adapter).json_schema()


def test_fields_follow_the_schema() -> None:
    fields = {f.name: f for f in schema_form.fields(_schema("generic"))}
    assert fields["port"].kind == "integer" and fields["port"].default == 8080
    assert fields["health_path"].kind == "text"
    assert fields["env"].kind == "json"
    assert fields["command"].kind == "json"  # list[str] | None: edited as JSON
    assert fields["port"].shown(8080) == "8080"
    assert fields["env"].shown({"A": "b"}) == '{\n  "A": "b"\n}'


def test_enums_and_references_become_choices() -> None:
    schema = {
        "properties": {"mode": {"$ref": "#/$defs/Mode", "default": "a"}, "on": {"type": "boolean"}},
        "$defs": {"Mode": {"enum": ["a", "b"], "type": "string", "description": "how"}},
        "required": ["mode"],
    }
    mode, on = schema_form.fields(schema)
    assert (mode.kind, mode.choices, mode.description, mode.required) == (
        "select",
        ("a", "b"),
        "how",
        True,
    )
    assert on.kind == "boolean"
    config, bad = schema_form.config_of(schema, {"config.mode": "b", "config.on": "true"})
    assert (config, bad) == ({"mode": "b", "on": True}, {})


def test_the_config_read_back_keeps_the_schema_s_own_messages() -> None:
    schema = _schema("generic")
    form = {"config.port": "99999", "config.health_path": "", "config.env": '{"A": "b"}'}
    config, bad = schema_form.config_of(schema, form)
    assert config == {"port": 99999, "env": {"A": "b"}} and bad == {}  # empty: the default
    with pytest.raises(ConfigError) as exc:
        get_adapter("generic").validate_config(config)
    errors = schema_form.field_errors(str(exc.value), ["port", "env"])
    assert errors == {"port": str(exc.value)}
    assert schema_form.config_of(schema, {"config.env": "{nope"})[1]["env"].startswith(
        "not valid JSON"
    )
    assert schema_form.config_of(schema, {"config.port": "eighty"})[0] == {"port": "eighty"}
