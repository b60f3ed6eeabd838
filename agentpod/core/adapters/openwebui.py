"""Open WebUI: a web app on port 8080 keeping its data under /app/backend/data."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agentpod.core.adapters.base import SECRET_ENV, AgentAdapter, HealthCheck, PodContext, Rendered
from agentpod.core.models import Limits


class OpenWebUIConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    env: dict[str, str] = Field(default_factory=dict, description="e.g. OPENAI_API_KEY")
    secret_env: dict[str, str] = SECRET_ENV


class OpenWebUIAdapter(AgentAdapter):
    id = "open-webui"
    display_name = "Open WebUI"
    default_image = "ghcr.io/open-webui/open-webui:main"
    primary_port = 8080
    config_model: ClassVar[type[BaseModel]] = OpenWebUIConfig
    state_dir = "/app/backend/data"
    default_limits = Limits(memory_mb=2048, cpus=1.0, pids=1024)
    token_use = "session secret (WEBUI_SECRET_KEY: rotating it signs every user out)"

    def health_check(self, config: BaseModel) -> HealthCheck:
        return HealthCheck(port=self.primary_port, path="/health", start_period_s=300)

    def render(self, ctx: PodContext, config: BaseModel) -> Rendered:
        assert isinstance(config, OpenWebUIConfig)
        env = {
            **config.env,
            **config.secret_env,
            "WEBUI_URL": ctx.public_url,
            "WEBUI_SECRET_KEY": ctx.gateway_token,
        }
        return Rendered(env=env)
