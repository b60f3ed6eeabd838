"""Open WebUI: a web app on port 8080 keeping its data (SQLite, uploads, caches) in DATA_DIR."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agentpod.core.adapters.base import SECRET_ENV, AgentAdapter, HealthCheck, PodContext, Rendered
from agentpod.core.models import Limits

STATE_DIR = "/app/backend/data"
# Offline at start: no model download (a pod reaches no hub, and must not fetch weights behind
# its owner's back), no telemetry. Caches on the volume; the root fs is read-only.
OFFLINE = {
    "OFFLINE_MODE": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "RAG_EMBEDDING_MODEL_AUTO_UPDATE": "false",
    "RAG_RERANKING_MODEL_AUTO_UPDATE": "false",
    "WHISPER_MODEL_AUTO_UPDATE": "false",
    "ANONYMIZED_TELEMETRY": "false",
    "DO_NOT_TRACK": "true",
    "SCARF_NO_ANALYTICS": "true",
}


class OpenWebUIConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    env: dict[str, str] = Field(default_factory=dict, description="e.g. OPENAI_API_KEY")
    secret_env: dict[str, str] = SECRET_ENV


class OpenWebUIAdapter(AgentAdapter):
    id = "open-webui"
    display_name = "Open WebUI"
    default_image = "ghcr.io/open-webui/open-webui:v0.12.4"
    primary_port = 8080
    config_model: ClassVar[type[BaseModel]] = OpenWebUIConfig
    state_dir = STATE_DIR
    user = "1000:1000"
    state_owner = (1000, 1000)
    read_only_rootfs = True
    # measured: ~640 MiB working set after start, cgroup peak ~670 MiB (0.12.4, CPU torch)
    default_limits = Limits(memory_mb=1536, cpus=1.0, pids=1024)
    stop_grace_s = 10  # SIGTERM lets it close its SQLite database cleanly
    token_use = "session secret (WEBUI_SECRET_KEY: rotating it signs every user out)"

    def health_check(self, config: BaseModel) -> HealthCheck:
        return HealthCheck(port=self.primary_port, path="/health", start_period_s=300)

    def render(self, ctx: PodContext, config: BaseModel) -> Rendered:
        assert isinstance(config, OpenWebUIConfig)
        env = {
            **OFFLINE,
            **config.env,
            **config.secret_env,
            "WEBUI_URL": ctx.public_url,
            "WEBUI_SECRET_KEY": ctx.gateway_token,
            "DATA_DIR": STATE_DIR,
            "HOME": STATE_DIR,
            "XDG_CACHE_HOME": f"{STATE_DIR}/cache",
            # copied from the package at every start (into the package's dir by default)
            "STATIC_DIR": "/tmp/open-webui-static",
        }
        return Rendered(env=env)
