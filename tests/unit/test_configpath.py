from __future__ import annotations

import pytest

from agentpod.core.configpath import (
    ConfigPathError,
    apply_assignments,
    get_path,
    parse_value,
    set_path,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"x"', "x"),
        ("3", 3),
        ("true", True),
        ("null", None),
        ('{"a": 1}', {"a": 1}),
        ("[1, 2]", [1, 2]),
        ("bare", "bare"),
        ("sk-123", "sk-123"),
    ],
)
def test_parse_value(text: str, value: object) -> None:
    assert parse_value(text) == value


@pytest.mark.parametrize("text", ['{"a": ', '"unterminated', "[1,"])
def test_parse_value_rejects_broken_json(text: str) -> None:
    with pytest.raises(ConfigPathError):
        parse_value(text)


def test_set_path_creates_parents_and_copies() -> None:
    base = {"a": {"x": 1}}
    out = set_path(base, "a.b.c", "v")
    assert out == {"a": {"x": 1, "b": {"c": "v"}}}
    assert base == {"a": {"x": 1}}


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a."])
def test_set_path_rejects_bad_paths(path: str) -> None:
    with pytest.raises(ConfigPathError):
        set_path({}, path, 1)


def test_set_path_through_a_scalar_fails() -> None:
    with pytest.raises(ConfigPathError, match="'a' is a int"):
        set_path({"a": 1}, "a.b", 2)


def test_get_path() -> None:
    assert get_path({"a": {"b": 2}}, "a.b") == 2
    with pytest.raises(ConfigPathError):
        get_path({"a": {}}, "a.b")


def test_apply_assignments_in_order() -> None:
    out = apply_assignments({}, ["port=9000", "env.K=v", "env.K=w"])
    assert out == {"port": 9000, "env": {"K": "w"}}
    with pytest.raises(ConfigPathError):
        apply_assignments({}, ["novalue"])
