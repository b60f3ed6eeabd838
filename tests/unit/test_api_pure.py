"""The pure helpers of the HTTP API: merge patches, API addresses, SSE framing."""

from __future__ import annotations

import pytest

from agentpod.api import sse
from agentpod.core.configpath import merge_patch
from agentpod.settings import console_backend, parse_listen


@pytest.mark.parametrize(
    ("config", "patch", "result"),
    [  # RFC 7396's own examples, and ours
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ({"env": {"A": "1"}}, {"env": {"B": "2"}}, {"env": {"A": "1", "B": "2"}}),
    ],
)
def test_merge_patch(config: dict, patch: dict, result: dict) -> None:
    before = repr(config)
    assert merge_patch(config, patch) == result
    assert repr(config) == before  # the stored config is never changed in place


@pytest.mark.parametrize(
    ("listen", "host", "port", "backend"),
    [
        ("127.0.0.1:8787", "127.0.0.1", 8787, "http://127.0.0.1:8787"),
        ("0.0.0.0:80", "0.0.0.0", 80, "http://127.0.0.1:80"),
        ("[::1]:8787", "::1", 8787, "http://[::1]:8787"),
        ("[::]:8787", "::", 8787, "http://[::1]:8787"),
        ("localhost:0", "localhost", 0, "http://localhost:0"),
    ],
)
def test_api_addresses(listen: str, host: str, port: int, backend: str) -> None:
    assert parse_listen(listen) == (host, port)
    assert console_backend(listen) == backend


@pytest.mark.parametrize("listen", ["8787", ":8787", "localhost", "host:port", "h:65536", ""])
def test_bad_api_addresses(listen: str) -> None:
    with pytest.raises(ValueError, match="expected ADDRESS:PORT"):
        parse_listen(listen)


@pytest.mark.parametrize(
    ("data", "name", "event_id", "text"),
    [
        ("tick", None, None, "data: tick\n\n"),
        ("", None, None, "data: \n\n"),
        ("a\nb", None, None, "data: a\ndata: b\n\n"),
        ({"id": 3}, "event", 3, 'event: event\nid: 3\ndata: {"id": 3}\n\n'),
    ],
)
def test_sse_events(data: object, name: str | None, event_id: int | None, text: str) -> None:
    assert sse.event(data, name, event_id) == text
