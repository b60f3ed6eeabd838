"""The LLM gateway's pure parts: usage read from responses, budgets, keys, error shapes."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest

from agentpod.core.adapters import get_adapter
from agentpod.core.llm import (
    Budget,
    Limiter,
    LlmAccess,
    Price,
    ProviderKind,
    UsageMeter,
    error_body,
    kind_of_request,
    parse_virtual_key,
    presented_key,
    provider_keys_in,
    request_model,
    seconds_to_month_end,
    validate_provider,
    virtual_key,
)
from agentpod.core.routing import Edge
from agentpod.core.spec import build_spec
from tests.unit.test_adapters import CTX, make_pod

OPENAI_STREAM = (
    b'data: {"model":"gpt-x","choices":[{"delta":{"content":"a"}}]}\n\n'
    b'data: {"model":"gpt-x","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,'
    b'"prompt_tokens_details":{"cached_tokens":3}}}\n\n'
    b"data: [DONE]\n\n"
)
ANTHROPIC_STREAM = (
    b"event: message_start\r\n"
    b'data: {"type":"message_start","message":{"model":"claude-x",'
    b'"usage":{"input_tokens":13,"output_tokens":1,"cache_read_input_tokens":4}}}\r\n\r\n'
    b'event: content_block_delta\r\ndata: {"type":"content_block_delta"}\r\n\r\n'
    b'event: message_delta\r\ndata: {"type":"message_delta","usage":{"output_tokens":5}}\r\n\r\n'
)


def _feed(meter: UsageMeter, body: bytes, size: int) -> None:
    for i in range(0, len(body), size):
        meter.feed(body[i : i + size])


@pytest.mark.parametrize("size", [1, 7, 4096])
@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        (ProviderKind.OPENAI, OPENAI_STREAM, ("gpt-x", 11, 7, 3)),
        (ProviderKind.ANTHROPIC, ANTHROPIC_STREAM, ("claude-x", 13, 5, 4)),
    ],
)
def test_streamed_usage_is_read_whatever_the_chunking(
    size: int, kind: ProviderKind, body: bytes, expected: tuple
) -> None:
    meter = UsageMeter(kind, streaming=True)
    _feed(meter, body, size)
    u = meter.finish()
    assert (u.model, u.input_tokens, u.output_tokens, u.cached_tokens) == expected


def test_json_usage_also_when_gzipped() -> None:
    body = json.dumps({"model": "m", "usage": {"input_tokens": 2, "output_tokens": 3}}).encode()
    meter = UsageMeter(ProviderKind.ANTHROPIC, streaming=False, encoding="gzip")
    _feed(meter, gzip.compress(body), 5)
    assert meter.finish().tokens == 5
    unknown = UsageMeter(ProviderKind.OPENAI, streaming=False, encoding="br")
    unknown.feed(b"\x00\x01")
    assert unknown.finish().tokens == 0  # not metered, never an error


def test_a_stream_without_usage_counts_zero_tokens() -> None:
    meter = UsageMeter(ProviderKind.OPENAI, streaming=True)
    meter.feed(b'data: {"model":"m","choices":[]}\n\ndata: [DONE]\n\n')
    assert meter.finish().tokens == 0


def test_requests_per_minute_is_exact_and_slides() -> None:
    limiter = Limiter()
    scopes = [("tenant t", Budget(requests_per_minute=3))]
    assert [limiter.admit(scopes, 100.0 + i, {}) is None for i in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    refusal = limiter.admit(scopes, 104.0, {})
    assert refusal and refusal.limit == "requests_per_minute" and refusal.reset_s == 56.0
    assert limiter.admit(scopes, 160.5, {}) is None  # the first one left the window


def test_a_refused_request_is_not_counted_against_other_scopes() -> None:
    limiter = Limiter()
    pod = ("pod t/p", Budget(requests_per_minute=1))
    tenant = ("tenant t", Budget(requests_per_minute=10))
    assert limiter.admit([tenant, pod], 0, {}) is None
    assert limiter.admit([tenant, pod], 1, {}) is not None
    assert limiter.requests["tenant t"].total == 1


def test_tokens_and_spend_limits() -> None:
    limiter = Limiter()
    scopes = [("pod t/p", Budget(tokens_per_minute=100, daily_usd=1.0))]
    assert limiter.admit(scopes, 0, {}) is None
    limiter.used_tokens(["pod t/p"], 0, 150)
    assert limiter.admit(scopes, 1, {}).limit == "tokens_per_minute"  # type: ignore[union-attr]
    refusal = limiter.admit(scopes, 61, {"pod t/p": (1.5, 1.5)})
    assert refusal and refusal.limit == "daily_usd" and "daily spend of $1" in refusal.message()


def test_month_end() -> None:
    dec31 = datetime(2026, 12, 31, 23, 0, tzinfo=UTC).timestamp()
    assert seconds_to_month_end(dec31) == 3600


def test_price() -> None:
    assert Price(model="m", input_usd_per_mt=2, output_usd_per_mt=8).cost(1000, 500) == 0.006


def test_error_bodies_have_each_providers_shape() -> None:
    openai = json.loads(error_body(ProviderKind.OPENAI, 429, "slow down", limit="x"))
    assert openai["error"]["code"] == "rate_limit_exceeded" and openai["error"]["limit"] == "x"
    anthropic = json.loads(error_body(ProviderKind.ANTHROPIC, 429, "slow down"))
    assert anthropic["type"] == "error" and anthropic["error"]["type"] == "rate_limit_error"


def test_keys_and_requests() -> None:
    key = virtual_key(42, "A" * 43)
    assert parse_virtual_key(key) == (42, "A" * 43)
    assert parse_virtual_key("sk-whatever") is None
    assert presented_key({"authorization": f"Bearer {key}"}) == key
    assert presented_key({"x-api-key": key}) == key
    assert presented_key({}) is None
    assert kind_of_request({"anthropic-version": "2023-06-01"}) is ProviderKind.ANTHROPIC
    assert request_model(b'{"model": "m", "stream": true}') == ("m", True)
    assert request_model(b"not json") == ("", False)


def test_provider_validation() -> None:
    assert validate_provider("oai", "https://api.openai.com/v1/") == (
        "oai",
        "https://api.openai.com/v1",
    )
    for url in ("ftp://x", "http://", "https://a b"):
        with pytest.raises(ValueError):
            validate_provider("oai", url)


def test_provider_keys_in_configs() -> None:
    assert provider_keys_in({"env": {"OPENAI_API_KEY": "sk", "LOG": "1"}}) == ["env.OPENAI_API_KEY"]
    cfg = {"settings": {"models": {"providers": {"x": {"apiKey": "sk", "baseUrl": "u"}}}}}
    assert provider_keys_in(cfg) == ["settings.models.providers.x.apiKey"]
    assert provider_keys_in({"env": {"PORT": "1"}, "settings": {"models": [1]}}) == []


LLM = LlmAccess(
    base_url="http://172.18.0.1:4480",
    api_key="apk-5-" + "k" * 43,
    providers=(("oai", ProviderKind.OPENAI), ("claude", ProviderKind.ANTHROPIC)),
)


def test_pods_get_the_gateway_and_their_virtual_key_in_env_never_a_provider_key() -> None:
    pod = make_pod()
    spec = build_spec(pod, "inst", "net", Edge(), llm=LLM)
    assert spec.env["AGENTPOD_LLM_BASE_URL"] == "http://172.18.0.1:4480"
    assert spec.env["AGENTPOD_LLM_API_KEY"] == LLM.api_key
    assert "AGENTPOD_LLM_API_KEY" not in build_spec(pod, "inst", "net", Edge()).env
    # the same access (a provider key rotated) renders the same spec: no recreate
    assert spec.hash == build_spec(pod, "inst", "net", Edge(), llm=LLM.model_copy()).hash


def test_openclaw_gets_one_custom_provider_per_tenant_provider() -> None:
    adapter = get_adapter("openclaw")
    settings = {"models": {"providers": {"oai": {"models": [{"id": "gpt-x", "name": "X"}]}}}}
    config = adapter.validate_config({"settings": settings})
    ctx = CTX.model_copy(update={"llm": LLM})
    doc = json.loads(adapter.render(ctx, config).files[0].content)
    providers = doc["models"]["providers"]
    assert providers["oai"] == {
        "baseUrl": "http://172.18.0.1:4480/oai",
        "apiKey": LLM.api_key,
        "api": "openai-completions",
        "models": [{"id": "gpt-x", "name": "X"}],
    }
    assert providers["claude"]["api"] == "anthropic-messages"
    assert providers["claude"]["models"] == []
    plain = json.loads(adapter.render(CTX, adapter.validate_config({})).files[0].content)
    assert "models" not in plain
