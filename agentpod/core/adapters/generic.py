"""Any image that serves HTTP: the port and health path come from the pod's config."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agentpod.core.adapters.base import SECRET_ENV, AgentAdapter, HealthCheck, PodContext, Rendered


class GenericConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    port: int = Field(default=8080, ge=1, le=65535)
    health_path: str = Field(default="/", pattern=r"^/")
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: dict[str, str] = SECRET_ENV
    command: list[str] | None = None


class GenericAdapter(AgentAdapter):
    id = "generic"
    display_name = "Any HTTP image"
    default_image = ""
    primary_port = 8080
    config_model: ClassVar[type[BaseModel]] = GenericConfig
    state_dir = "/data"
    user = "1000:1000"
    state_owner = (1000, 1000)
    read_only_rootfs = True

    def port(self, config: BaseModel) -> int:
        assert isinstance(config, GenericConfig)
        return config.port

    def health_check(self, config: BaseModel) -> HealthCheck:
        assert isinstance(config, GenericConfig)
        return HealthCheck(port=config.port, path=config.health_path, start_period_s=60)

    def render(self, ctx: PodContext, config: BaseModel) -> Rendered:
        assert isinstance(config, GenericConfig)
        command = tuple(config.command) if config.command else None
        env = {"PORT": str(config.port), **config.env, **config.secret_env}  # PORT: common
        return Rendered(env=env, command=command)
