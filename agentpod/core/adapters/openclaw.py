"""OpenClaw gateway: HTTP and WebSocket on one port, token auth, strict JSON5 config."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agentpod.core.adapters.base import (
    SECRET_ENV,
    AgentAdapter,
    HealthCheck,
    PodContext,
    Rendered,
    RenderedFile,
)
from agentpod.core.adapters.pairing import Device, DevicePairing, ExecResult, PairingError
from agentpod.core.llm import LlmAccess, ProviderKind, dig
from agentpod.core.models import Limits

STATE_DIR = "/home/node/.openclaw"
PORT = 18789
PROBE_CLIENT = "192.0.2.1"
LLM_API = {ProviderKind.OPENAI: "openai-completions", ProviderKind.ANTHROPIC: "anthropic-messages"}
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class OpenClawConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    env: dict[str, str] = Field(default_factory=dict, description="provider API keys and other env")
    secret_env: dict[str, str] = SECRET_ENV
    allowed_origins: list[str] = Field(
        default_factory=list, description="origins allowed besides the pod's own public URL"
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="merged into openclaw.json as is; gateway auth and bind stay AgentPod's",
    )
    port: int = Field(default=PORT, ge=1, le=65535, description="the gateway's port")


def llm_providers(llm: LlmAccess, settings: dict[str, Any]) -> dict[str, Any]:
    """``models.providers.<name>`` for each of the tenant's providers: the gateway's URL for it,
    the pod's virtual key and the API shape. A ``models`` list from the pod's settings is kept
    (OpenClaw wants one per provider; an empty one by default)."""
    return {
        name: {
            "baseUrl": llm.provider_url(name),
            "apiKey": llm.api_key,
            "api": LLM_API[kind],
            "models": dig(settings, "models", "providers", name, "models") or [],
        }
        for name, kind in llm.providers
    }


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class OpenClawAdapter(AgentAdapter, DevicePairing):
    id = "openclaw"
    display_name = "OpenClaw gateway"
    default_image = "ghcr.io/openclaw/openclaw:2026.9.6"
    primary_port = PORT
    config_model: ClassVar[type[BaseModel]] = OpenClawConfig
    state_dir = STATE_DIR
    user = "1000:1000"
    state_owner = (1000, 1000)
    read_only_rootfs = True
    default_limits = Limits(memory_mb=1536, cpus=1.0, pids=1024)
    # The image's HEALTHCHECK (node dist/docker-healthcheck.js: ~1 s of a Node process every
    # 30 s) holds the Traefik route back until its first pass, ~30 s after start although the
    # gateway is ready in ~12 s. AgentPod probes /readyz itself.
    image_healthcheck = False
    # SIGTERM releases the gateway's state-dir lease (~0.4 s when idle); a SIGKILLed gateway
    # keeps it for 5 min unless the next one has the same hostname.
    stop_grace_s = 10
    token_use = "gateway token (clients send it in connect.auth.token)"
    # The gateway refuses a client that a trusted proxy names as loopback (HTTP 403
    # proxy_attribution_required), which a browser on this machine is: Traefik names it, in
    # X-Real-Ip, as the host's address on the pod's network (allowRealIpFallback below).
    names_local_clients = True

    def port(self, config: BaseModel) -> int:
        assert isinstance(config, OpenClawConfig)
        return config.port

    def health_check(self, config: BaseModel) -> HealthCheck:
        # The probe comes from the bridge gateway, which is a trusted proxy: OpenClaw then
        # wants to know the client behind it (403 otherwise). 192.0.2.1 is TEST-NET-1.
        return HealthCheck(
            port=self.port(config),
            path="/readyz",
            start_period_s=300,
            headers={"X-Forwarded-For": PROBE_CLIENT},
        )

    def render(self, ctx: PodContext, config: BaseModel) -> Rendered:
        assert isinstance(config, OpenClawConfig)
        ours = {
            "gateway": {
                "mode": "local",
                "bind": "lan",
                "port": config.port,
                "auth": {"mode": "token", "token": ctx.gateway_token},
                "controlUi": {"allowedOrigins": [ctx.public_url, *config.allowed_origins]},
                "trustedProxies": [*ctx.proxy_addresses, *ctx.front_proxies],
                # X-Real-Ip, when X-Forwarded-For names no client but loopback: only the
                # proxy sets it (Traefik rebuilds it for every client but trusted proxies)
                "allowRealIpFallback": bool(ctx.proxy_addresses),
            }
        }
        if ctx.llm is not None:
            ours["models"] = {"providers": llm_providers(ctx.llm, config.settings)}
        document = deep_merge(config.settings, ours)
        heap_mb = max(128, ctx.limits.memory_mb * 3 // 4)
        env = {
            **config.env,
            **config.secret_env,
            "HOME": "/home/node",
            "OPENCLAW_STATE_DIR": STATE_DIR,
            "OPENCLAW_CONFIG_PATH": f"{STATE_DIR}/openclaw.json",
            "OPENCLAW_DISABLE_BONJOUR": "1",
            "XDG_CACHE_HOME": "/tmp/.cache",  # the root fs is read-only
            "NODE_OPTIONS": f"--max-old-space-size={heap_mb}",
        }
        body = json.dumps(document, indent=2, sort_keys=True) + "\n"
        return Rendered(env=env, files=(RenderedFile(path="openclaw.json", content=body),))

    def open_url(self, public_url: str, token: str) -> str:
        """The Control UI with the token in the fragment (key ``token``): the UI reads and
        strips it, and a fragment never reaches a server or its logs."""
        quoted = "".join(c if c in UNRESERVED else _percent(c) for c in token)
        return f"{public_url}/#token={quoted}"

    # -- device pairing (run in the container by AgentPod, parsed here) --------------------

    def list_devices_argv(self) -> tuple[str, ...]:
        return ("openclaw", "devices", "list", "--json")

    def parse_devices(self, result: ExecResult) -> list[Device]:
        data = _json_output(result, "openclaw devices list")
        pending = [_device("pending", d) for d in data.get("pending") or []]
        paired = [_device("paired", d) for d in data.get("paired") or []]
        return pending + paired

    def approve_argv(self, request_id: str) -> tuple[str, ...]:
        if not REQUEST_ID.match(request_id):
            raise PairingError(f"{request_id!r} is not a request id: see 'agentpod pod devices'")
        return ("openclaw", "devices", "approve", request_id, "--json")

    def parse_approve(self, request_id: str, result: ExecResult) -> Device:
        if result.exit_code != 0 and "no pending device request" in result.stderr.lower():
            raise PairingError(
                f"no pending pairing request {request_id}: see 'agentpod pod devices'"
            )
        data = _json_output(result, "openclaw devices approve")
        device = data.get("device")
        if not isinstance(device, dict):
            raise PairingError(f"openclaw devices approve gave no device: {str(data)[:200]}")
        return _device("paired", {**device, "requestId": data.get("requestId")})


def _percent(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode())


def _json_output(result: ExecResult, what: str) -> dict[str, Any]:
    if result.exit_code != 0:
        raise PairingError(f"{what} failed: {result.first_error_line()}")
    start = result.stdout.find("{")  # a banner line may come first
    try:
        data = json.loads(result.stdout[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise PairingError(f"{what} printed no JSON object: {result.first_error_line()}")
    return data


def _device(status: str, d: dict[str, Any]) -> Device:
    return Device(
        status=status,  # type: ignore[arg-type]
        device_id=str(d.get("deviceId") or "?"),
        request_id=d.get("requestId"),
        client=d.get("clientId"),
        platform=d.get("platform"),
        role=d.get("role"),
        scopes=tuple(d.get("scopes") or ()),
        remote_ip=d.get("remoteIp"),
        at_ms=d.get("approvedAtMs") or d.get("ts") or d.get("createdAtMs"),
        connected=d.get("connected"),
    )
