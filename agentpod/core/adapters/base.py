"""The AgentAdapter interface: what AgentPod needs to know to run one kind of agent."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentpod.core.configsecrets import SECRET
from agentpod.core.llm import LlmAccess
from agentpod.core.models import Limits

# env whose values are secrets (tokens, passwords): sealed at rest, masked when shown, given
# to the container like ``env``
SECRET_ENV: dict[str, str] = Field(
    default_factory=dict,
    description="env with secret values: sealed at rest, shown masked, given to the container",
    json_schema_extra=SECRET,
)


class ConfigError(ValueError):
    """A pod config that does not fit the adapter's schema; one line per problem."""


class HealthCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["http", "tcp"] = "http"
    port: int
    path: str = "/"
    start_period_s: float = 60.0
    failure_threshold: int = 3
    headers: dict[str, str] = {}


class RenderedFile(BaseModel):
    """A file written into the pod's state volume before the container starts."""

    model_config = ConfigDict(frozen=True)

    path: str  # relative to the adapter's state dir
    content: str
    mode: int = 0o600


class Rendered(BaseModel):
    model_config = ConfigDict(frozen=True)

    env: dict[str, str] = {}
    files: tuple[RenderedFile, ...] = ()
    command: tuple[str, ...] | None = None


class PodContext(BaseModel):
    """What an adapter may know about the pod it renders for (no I/O, no secrets beyond its own)."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    pod: str
    gateway_token: str
    public_url: str
    limits: Limits
    proxy_addresses: tuple[str, ...] = ()  # where the proxy on this machine comes from
    front_proxies: tuple[str, ...] = ()  # CIDRs of trusted front proxies before it
    llm: LlmAccess | None = None  # the LLM gateway, when the tenant has providers


class AgentAdapter(ABC):
    id: ClassVar[str]
    display_name: ClassVar[str]
    default_image: ClassVar[str]
    primary_port: ClassVar[int]
    config_model: ClassVar[type[BaseModel]]
    state_dir: ClassVar[str]
    user: ClassVar[str | None] = None
    state_owner: ClassVar[tuple[int, int]] = (0, 0)
    read_only_rootfs: ClassVar[bool] = False
    cap_add: ClassVar[tuple[str, ...]] = ()
    # Keep the image's own Docker HEALTHCHECK? Traefik routes no container whose check is
    # "starting" or "unhealthy", and each check is a process started in the container.
    image_healthcheck: ClassVar[bool] = True
    # Seconds between SIGTERM and SIGKILL when a recreate replaces the container (0: kill).
    stop_grace_s: ClassVar[int] = 0
    default_limits: ClassVar[Limits] = Limits(memory_mb=512, cpus=1.0)
    token_use: ClassVar[str | None] = None  # what the pod's generated token is to the agent
    # Name a client on this machine (loopback at the proxy) to the agent as the host's address
    # on the pod's network, in X-Real-Ip: for agents that refuse a loopback client behind a
    # proxy but read X-Real-Ip when X-Forwarded-For names no other client (OpenClaw).
    names_local_clients: ClassVar[bool] = False

    def validate_config(self, raw: dict[str, Any]) -> BaseModel:
        try:
            return self.config_model.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc)) from None

    def json_schema(self) -> dict[str, Any]:
        return self.config_model.model_json_schema()

    def port(self, config: BaseModel) -> int:
        return self.primary_port

    @abstractmethod
    def health_check(self, config: BaseModel) -> HealthCheck: ...

    @abstractmethod
    def render(self, ctx: PodContext, config: BaseModel) -> Rendered: ...

    def open_url(self, public_url: str, token: str) -> str:
        """The address a person opens for the agent's web UI (``agentpod pod open``)."""
        return f"{public_url}/"


def format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
