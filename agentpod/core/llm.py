"""The LLM gateway's pure parts: providers, virtual keys, usage read from responses, budgets.

Nothing here does I/O: the gateway (services/llm_gateway.py) feeds it bytes and clock readings.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentpod.core.names import validate_label

KEY_PREFIX = "apk"
VIRTUAL_KEY = re.compile(rf"^{KEY_PREFIX}-(\d{{1,18}})-([A-Za-z0-9_-]{{20,100}})$")
WINDOW_S = 60.0
ENV_BASE_URL = "AGENTPOD_LLM_BASE_URL"
ENV_API_KEY = "AGENTPOD_LLM_API_KEY"
# env names agents read provider keys from: refused in a pod's config (the gateway holds them)
KEY_ENV = re.compile(
    r"^(OPENAI|ANTHROPIC|OPENROUTER|GEMINI|GOOGLE|MISTRAL|GROQ|DEEPSEEK|XAI|TOGETHER|COHERE)"
    r"_API_KEY$"
)


class ProviderKind(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


class Provider(BaseModel):
    """A provider as listings show it: never the key, only its last four characters.
    ``platform``: the platform's, shared with ``tenants`` (with one tenant's view: with it)."""

    model_config = ConfigDict(frozen=True)

    tenant: str | None
    name: str
    kind: ProviderKind
    base_url: str
    key_hint: str
    platform: bool = False
    tenants: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "tenant": self.tenant,
            "name": self.name,
            "kind": self.kind.value,
            "base_url": self.base_url,
            "key": f"…{self.key_hint}",
            "platform": self.platform,
        }
        return shown | ({"tenants": list(self.tenants)} if self.tenant is None else {})


class LlmAccess(BaseModel):
    """What a pod is given to reach its tenant's providers: the gateway and its own key."""

    model_config = ConfigDict(frozen=True)

    base_url: str  # the gateway, as the pod reaches it
    api_key: str  # the pod's virtual key
    providers: tuple[tuple[str, ProviderKind], ...]  # (name, kind): no real keys, no base URLs

    def provider_url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def env(self) -> dict[str, str]:
        return {ENV_BASE_URL: self.base_url, ENV_API_KEY: self.api_key}


class Budget(BaseModel):
    """Limits of a tenant (pod '') or one pod; None is no limit."""

    pod: str = ""
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    daily_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)


class Price(BaseModel):
    model: str
    input_usd_per_mt: float = Field(ge=0)
    output_usd_per_mt: float = Field(ge=0)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_usd_per_mt + output_tokens * self.output_usd_per_mt) / 1e6


def validate_provider(name: str, base_url: str) -> tuple[str, str]:
    """A provider name is a DNS label (it is a path segment); the base URL is http(s)."""
    validate_label(name, "provider name")
    url = base_url.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", url):
        raise ValueError(f"base URL {base_url!r} must be http(s)://host[:port][/path]")
    return name, url


def key_hint(key: str) -> str:
    return key[-4:] if len(key) >= 12 else ""


# -- virtual keys ------------------------------------------------------------------------------


def virtual_key(pod_id: int, mac: str) -> str:
    return f"{KEY_PREFIX}-{pod_id}-{mac}"


def parse_virtual_key(text: str) -> tuple[int, str] | None:
    match = VIRTUAL_KEY.match(text)
    return (int(match.group(1)), match.group(2)) if match else None


def presented_key(headers: dict[str, str]) -> str | None:
    """The key a client sent: ``Authorization: Bearer K`` (OpenAI) or ``x-api-key`` (Anthropic).
    ``headers`` has lower-case names."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return headers.get("x-api-key") or None


def mask_key(key: str) -> str:
    return f"{key[:12]}…{key[-4:]}"


# -- refusing keys in configs -------------------------------------------------------------------


def provider_keys_in(config: dict[str, Any]) -> list[str]:
    """Where a pod's config carries a provider key itself (dot paths): ``env.OPENAI_API_KEY``
    and the like (``secret_env`` too: sealed or not, the key would be in the pod), and
    OpenClaw's ``models.providers.<name>.apiKey`` in its settings."""
    found = [
        f"{field}.{k}"
        for field in ("env", "secret_env")
        for k in (config.get(field) or {})
        if KEY_ENV.match(str(k))
    ]
    providers = dig(config, "settings", "models", "providers")
    for name, body in (providers if isinstance(providers, dict) else {}).items():
        if isinstance(body, dict) and body.get("apiKey"):
            found.append(f"settings.models.providers.{name}.apiKey")
    return found


def dig(doc: Any, *keys: str) -> Any:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


# -- error bodies in the provider's own shape ---------------------------------------------------


def error_body(kind: ProviderKind, status: int, message: str, **extra: Any) -> bytes:
    """An error as the provider's SDKs parse it (OpenAI ``{"error": {...}}``, Anthropic
    ``{"type": "error", "error": {...}}``); ``extra`` goes into the inner object."""
    if kind is ProviderKind.ANTHROPIC:
        kinds = {401: "authentication_error", 403: "permission_error", 404: "not_found_error"}
        kinds |= {429: "rate_limit_error", 502: "api_error", 413: "request_too_large"}
        inner = {"type": kinds.get(status, "api_error"), "message": message, **extra}
        return json.dumps({"type": "error", "error": inner}).encode()
    codes = {401: "invalid_api_key", 403: "forbidden", 404: "not_found", 429: "rate_limit_exceeded"}
    kinds = {429: "requests", 401: "invalid_request_error", 403: "invalid_request_error"}
    inner = {
        "message": message,
        "type": kinds.get(status, "api_error"),
        "param": None,
        "code": codes.get(status, "gateway_error"),
        **extra,
    }
    return json.dumps({"error": inner}).encode()


def kind_of_request(headers: dict[str, str]) -> ProviderKind:
    """Before the provider is known: Anthropic's clients send anthropic-version or x-api-key."""
    if "anthropic-version" in headers or "x-api-key" in headers:
        return ProviderKind.ANTHROPIC
    return ProviderKind.OPENAI


# -- usage read from responses ------------------------------------------------------------------


@dataclass
class Usage:
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    def add_openai(self, usage: dict[str, Any]) -> None:
        self.input_tokens = int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
        self.output_tokens = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
        details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
        self.cached_tokens = int(details.get("cached_tokens") or 0)

    def add_anthropic(self, usage: dict[str, Any]) -> None:
        if "input_tokens" in usage:
            self.input_tokens = int(usage["input_tokens"] or 0)
        if "output_tokens" in usage:
            self.output_tokens = int(usage["output_tokens"] or 0)
        cached = usage.get("cache_read_input_tokens")
        if cached is not None:
            self.cached_tokens = int(cached or 0)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


MAX_JSON = 8 << 20  # a non-streaming body larger than this is forwarded, not metered


@dataclass
class UsageMeter:
    """Reads usage from a response as its bytes pass by (never holding back a byte): SSE events
    one by one, or a JSON body at its end. gzip/deflate bodies are inflated on the side."""

    kind: ProviderKind
    streaming: bool
    encoding: str = ""
    usage: Usage = field(default_factory=Usage)
    _buf: bytes = b""
    _size: int = 0
    _inflate: Any = None

    def __post_init__(self) -> None:
        if self.encoding in ("gzip", "deflate"):
            self._inflate = zlib.decompressobj(47)  # gzip or zlib header, auto-detected
        elif self.encoding not in ("", "identity"):
            self._size = MAX_JSON + 1  # brotli, zstd…: not metered

    def feed(self, chunk: bytes) -> None:
        if self._size > MAX_JSON:
            return
        if self._inflate is not None:
            try:
                chunk = self._inflate.decompress(chunk)
            except zlib.error:
                self._size = MAX_JSON + 1
                return
        self._size += len(chunk)
        if not self.streaming:
            self._buf += chunk if self._size <= MAX_JSON else b""
            return
        self._buf += chunk
        while True:
            end = _event_end(self._buf)
            if end is None:
                break
            event, self._buf = self._buf[: end[0]], self._buf[end[1] :]
            self._sse_event(event)

    def finish(self) -> Usage:
        if not self.streaming and self._size <= MAX_JSON:
            self._document(_loads(self._buf))
        elif self.streaming and self._buf.strip():
            self._sse_event(self._buf)
        self._buf = b""
        return self.usage

    def _sse_event(self, event: bytes) -> None:
        if b'"usage"' not in event and self.usage.model:
            return  # most events carry text only: not parsed (the gateway's CPU per chunk)
        data = b"\n".join(
            line[5:].lstrip(b" ")
            for line in event.replace(b"\r\n", b"\n").split(b"\n")
            if line.startswith(b"data:")
        )
        if data and data != b"[DONE]":
            self._document(_loads(data))

    def _document(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            return
        if self.kind is ProviderKind.ANTHROPIC:
            message = doc.get("message") if doc.get("type") == "message_start" else doc
            if isinstance(message, dict):
                self._model(message.get("model"))
                if isinstance(message.get("usage"), dict):
                    self.usage.add_anthropic(message["usage"])
            return
        self._model(doc.get("model"))
        if isinstance(doc.get("usage"), dict):
            self.usage.add_openai(doc["usage"])

    def _model(self, model: Any) -> None:
        if isinstance(model, str) and model:
            self.usage.model = model


def _event_end(buf: bytes) -> tuple[int, int] | None:
    """Where the first complete SSE event ends (a blank line), and where the next starts."""
    found = [(i, i + len(sep)) for sep in (b"\n\n", b"\r\n\r\n") if (i := buf.find(sep)) >= 0]
    return min(found) if found else None


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def request_model(body: bytes) -> tuple[str, bool]:
    """The model a request names and whether it asks for a stream (JSON bodies only)."""
    doc = _loads(body) if body[:1] == b"{" else None
    if not isinstance(doc, dict):
        return "", False
    model = doc.get("model")
    return (model if isinstance(model, str) else ""), bool(doc.get("stream"))


# -- budgets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A limit that refuses a request: which, whose, and seconds until it lets one through."""

    limit: str  # requests_per_minute | tokens_per_minute | daily_usd | monthly_usd
    scope: str  # "tenant T" | "pod T/P"
    value: float
    reset_s: float

    def message(self) -> str:
        what = {
            "requests_per_minute": f"{self.value:g} requests per minute",
            "tokens_per_minute": f"{self.value:g} tokens per minute",
            "daily_usd": f"a daily spend of ${self.value:g}",
            "monthly_usd": f"a monthly spend of ${self.value:g}",
        }[self.limit]
        return f"AgentPod budget: {self.scope} is limited to {what}; resets in {self.reset_s:.0f}s"


@dataclass
class Window:
    """A sliding one-minute window of (time, amount): exact, so N per minute means N."""

    items: deque[tuple[float, int]] = field(default_factory=deque)
    total: int = 0

    def trim(self, now: float) -> None:
        while self.items and self.items[0][0] <= now - WINDOW_S:
            self.total -= self.items.popleft()[1]

    def add(self, now: float, amount: int) -> None:
        self.items.append((now, amount))
        self.total += amount

    def reset_in(self, now: float) -> float:
        return max(0.0, self.items[0][0] + WINDOW_S - now) if self.items else 0.0


@dataclass
class Limiter:
    """Requests and tokens per minute for each scope (tenant and pod), in memory."""

    requests: dict[str, Window] = field(default_factory=dict)
    tokens: dict[str, Window] = field(default_factory=dict)

    def admit(
        self, scopes: list[tuple[str, Budget]], now: float, spent: dict[str, tuple[float, float]]
    ) -> Refusal | None:
        """Count one request against every scope, or name the first limit that refuses it.
        ``spent`` is (today, this month) in USD per scope."""
        for scope, budget in scopes:
            refusal = self._check(scope, budget, now, spent.get(scope, (0.0, 0.0)))
            if refusal:
                return refusal
        for scope, budget in scopes:
            if budget.requests_per_minute:
                self.requests.setdefault(scope, Window()).add(now, 1)
        return None

    def _check(
        self, scope: str, budget: Budget, now: float, spent: tuple[float, float]
    ) -> Refusal | None:
        rpm = self.requests.setdefault(scope, Window())
        rpm.trim(now)
        if budget.requests_per_minute and rpm.total >= budget.requests_per_minute:
            return Refusal(
                "requests_per_minute", scope, budget.requests_per_minute, rpm.reset_in(now)
            )
        tpm = self.tokens.setdefault(scope, Window())
        tpm.trim(now)
        if budget.tokens_per_minute and tpm.total >= budget.tokens_per_minute:
            return Refusal("tokens_per_minute", scope, budget.tokens_per_minute, tpm.reset_in(now))
        if budget.daily_usd is not None and spent[0] >= budget.daily_usd:
            return Refusal("daily_usd", scope, budget.daily_usd, seconds_to_midnight(now))
        if budget.monthly_usd is not None and spent[1] >= budget.monthly_usd:
            return Refusal("monthly_usd", scope, budget.monthly_usd, seconds_to_month_end(now))
        return None

    def used_tokens(self, scopes: list[str], now: float, tokens: int) -> None:
        for scope in scopes:
            if tokens:
                self.tokens.setdefault(scope, Window()).add(now, tokens)


def seconds_to_midnight(now: float) -> float:
    return 86400 - now % 86400  # UTC days


def seconds_to_month_end(now: float) -> float:
    from datetime import UTC, datetime

    t = datetime.fromtimestamp(now, UTC)
    nxt = t.replace(year=t.year + t.month // 12, month=t.month % 12 + 1, day=1)
    nxt = nxt.replace(hour=0, minute=0, second=0, microsecond=0)
    return (nxt - t).total_seconds()
