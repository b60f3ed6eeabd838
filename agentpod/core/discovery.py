"""Recognising hand-deployed OpenClaw gateways from ``docker inspect`` data (pure).

They carry none of our labels, so the evidence is what people really run: an image named
openclaw, a command running ``openclaw gateway`` (or ``node openclaw.mjs|dist/index.js
gateway``), the gateway port 18789, a mount at OpenClaw's state dir (``~/.openclaw``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agentpod.core.models import DataSource
from agentpod.core.names import PodRef
from agentpod.core.spec import MANAGED

GATEWAY_PORT = 18789
STATE_DIRS = ("/home/node/.openclaw", "/root/.openclaw")
ENTRY_POINTS = ("openclaw", "openclaw.mjs", "dist/index.js", "index.js")


@dataclass
class Candidate:
    """One container that looks like an OpenClaw gateway, and what adopting it would mean."""

    container_id: str
    name: str
    image: str
    state: str
    ports: list[str]
    evidence: list[str]
    data: DataSource | None
    port: int = GATEWAY_PORT
    token: str | None = None
    token_source: str | None = None  # "env" | "config"
    config: dict[str, Any] | None = None
    proposed: PodRef | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "container": self.name,
            "container_id": self.container_id,
            "image": self.image,
            "state": self.state,
            "ports": self.ports,
            "data": self.data.model_dump() if self.data else None,
            "token_found": self.token is not None,
            "token_source": self.token_source,
            "config_found": self.config is not None,
            "proposed": str(self.proposed) if self.proposed else None,
            "evidence": self.evidence,
            "problems": self.problems,
        }


def to_label(text: str) -> str:
    """A DNS label from any container name: ``My_Claw.1`` -> ``my-claw-1``."""
    label = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return label[:63].rstrip("-") or "gateway"


def _args(info: dict[str, Any]) -> list[str]:
    config = info.get("Config") or {}
    return [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]


def _env(info: dict[str, Any]) -> dict[str, str]:
    pairs = (info.get("Config") or {}).get("Env") or []
    return dict(p.split("=", 1) for p in pairs if "=" in p)


def runs_gateway(args: list[str]) -> bool:
    words = " ".join(args).split()
    for i, word in enumerate(words[:-1]):
        if words[i + 1] == "gateway" and any(word.endswith(e) for e in ENTRY_POINTS):
            return True
    return False


def gateway_port(args: list[str], config: dict[str, Any] | None) -> int:
    words = " ".join(args).split()
    for i, word in enumerate(words):
        if word == "--port" and i + 1 < len(words) and words[i + 1].isdigit():
            return int(words[i + 1])
        if word.startswith("--port="):
            value = word.split("=", 1)[1]
            if value.isdigit():
                return int(value)
    port = ((config or {}).get("gateway") or {}).get("port")
    return port if isinstance(port, int) else GATEWAY_PORT


def state_dir(info: dict[str, Any]) -> str:
    env = _env(info)
    if env.get("OPENCLAW_STATE_DIR"):
        return env["OPENCLAW_STATE_DIR"].rstrip("/")
    mounts = [m.get("Destination", "") for m in info.get("Mounts") or []]
    return next((d for d in mounts if d in STATE_DIRS or d.endswith("/.openclaw")), STATE_DIRS[0])


def data_source(info: dict[str, Any]) -> DataSource | None:
    wanted = state_dir(info)
    for m in info.get("Mounts") or []:
        if m.get("Destination", "").rstrip("/") != wanted:
            continue
        if m.get("Type") == "bind":
            return DataSource(type="bind", source=m["Source"], destination=wanted)
        if m.get("Type") == "volume":
            return DataSource(type="volume", source=m["Name"], destination=wanted)
    return None


def evidence(info: dict[str, Any]) -> list[str]:
    """Why this container looks like an OpenClaw gateway; empty if it does not."""
    found = []
    image = (info.get("Config") or {}).get("Image", "")
    if "openclaw" in image.lower():
        found.append(f"image {image}")
    if runs_gateway(_args(info)):
        found.append("command runs the openclaw gateway")
    mounts = [m.get("Destination", "") for m in info.get("Mounts") or []]
    if any(d.endswith("/.openclaw") for d in mounts):
        found.append("mount at the OpenClaw state dir")
    exposed = {
        **((info.get("Config") or {}).get("ExposedPorts") or {}),
        **((info.get("HostConfig") or {}).get("PortBindings") or {}),
    }
    port_hit = f"{GATEWAY_PORT}/tcp" in exposed
    if port_hit and found:
        found.append(f"gateway port {GATEWAY_PORT}")
    return found


def published_ports(info: dict[str, Any]) -> list[str]:
    out = []
    for port, binds in sorted(((info.get("HostConfig") or {}).get("PortBindings") or {}).items()):
        for b in binds or []:
            host = b.get("HostIp") or "0.0.0.0"
            out.append(f"{host}:{b.get('HostPort')}->{port}")
    return out


def is_ours(info: dict[str, Any]) -> bool:
    labels = (info.get("Config") or {}).get("Labels") or {}
    return labels.get(MANAGED) == "true" or "agentpod.role" in labels


def token_from(
    info: dict[str, Any], config: dict[str, Any] | None
) -> tuple[str | None, str | None]:
    auth = ((config or {}).get("gateway") or {}).get("auth") or {}
    if isinstance(auth.get("token"), str) and auth["token"]:
        return auth["token"], "config"
    env = _env(info).get("OPENCLAW_GATEWAY_TOKEN")
    return (env, "env") if env else (None, None)


def proposed_ref(info: dict[str, Any], default_tenant: str) -> PodRef:
    labels = (info.get("Config") or {}).get("Labels") or {}
    name = labels.get("com.docker.compose.service") or info.get("Name", "").lstrip("/")
    tenant = labels.get("com.docker.compose.project") or default_tenant
    return PodRef(to_label(tenant), to_label(name))


def candidate(
    info: dict[str, Any],
    config: dict[str, Any] | None,
    config_error: str | None,
    default_tenant: str,
) -> Candidate | None:
    """A Candidate for this inspected container, or None if it is not an OpenClaw gateway."""
    if is_ours(info):
        return None
    why = evidence(info)
    if not why:
        return None
    token, source = token_from(info, config)
    c = Candidate(
        container_id=info["Id"],
        name=info.get("Name", "").lstrip("/"),
        image=(info.get("Config") or {}).get("Image", ""),
        state=(info.get("State") or {}).get("Status", "unknown"),
        ports=published_ports(info),
        evidence=why,
        data=data_source(info),
        port=gateway_port(_args(info), config),
        token=token,
        token_source=source,
        config=config,
        proposed=proposed_ref(info, default_tenant),
    )
    if c.data is None:
        c.problems.append(
            f"no volume or bind mount at {state_dir(info)}: its data would be lost on recreate "
            "(adopt with --allow-ephemeral)"
        )
    if config_error:
        c.problems.append(f"config unreadable: {config_error}")
    if token is None:
        c.problems.append("no gateway token found: AgentPod will generate one on adoption")
    return c


def imported_config(c: Candidate) -> dict[str, Any]:
    """The pod config that keeps what clients depend on (settings minus what AgentPod owns)."""
    settings = dict(c.config or {})
    gateway = {
        k: v
        for k, v in (settings.get("gateway") or {}).items()
        if k not in ("auth", "bind", "mode", "port")
    }
    control_ui = dict(gateway.pop("controlUi", None) or {})
    origins = control_ui.pop("allowedOrigins", None) or []
    if control_ui:
        gateway["controlUi"] = control_ui
    if gateway:
        settings["gateway"] = gateway
    else:
        settings.pop("gateway", None)
    out: dict[str, Any] = {"port": c.port}
    if origins:
        out["allowed_origins"] = list(origins)
    if settings:
        out["settings"] = settings
    return out
