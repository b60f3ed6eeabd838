"""The desired-state model: tenants, pods, their configs, status and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentpod.core.names import PodRef
from agentpod.core.quota import Quota
from agentpod.core.states import ActualStatus as ActualStatus
from agentpod.core.states import DesiredStatus as DesiredStatus
from agentpod.core.states import NetworkMode as NetworkMode


class Limits(BaseModel):
    model_config = ConfigDict(frozen=True)

    memory_mb: int = Field(ge=16)
    cpus: float = Field(gt=0, le=64)
    pids: int = Field(default=512, ge=16)


class TenantSettings(BaseModel):
    """Per-tenant settings: the edge's rate limits (defaults suit one agent UI per pod) and the
    swarm pool its pods are placed in."""

    model_config = ConfigDict(frozen=True)

    rate_average: int = Field(default=100, ge=1, description="requests per second, averaged")
    rate_burst: int = Field(default=200, ge=1)
    pool: str | None = None  # node labels, as placement.normalize_pool writes them


class Tenant(BaseModel):
    id: int
    name: str
    settings: TenantSettings = TenantSettings()
    quota: Quota = Quota()
    created_at: datetime


class DataSource(BaseModel):
    """Where an adopted pod's state lives: a bind path or a volume name, never deleted by us."""

    model_config = ConfigDict(frozen=True)

    type: str  # "bind" | "volume"
    source: str  # host path or volume name
    destination: str  # where the original container mounted it


class Pod(BaseModel):
    id: int
    tenant_id: int
    tenant: str
    name: str
    adapter: str
    subdomain: str
    desired_status: DesiredStatus
    image: str
    limits: Limits
    gateway_token: str
    config: dict[str, Any] = {}
    config_version: int = 1
    keep_data: bool = False
    adopted_container_id: str | None = None
    data_source: DataSource | None = None
    domains: list[str] = []
    replaces_container_id: str | None = None
    pool: str | None = None  # its own swarm pool, over its tenant's
    created_at: datetime
    updated_at: datetime

    @property
    def ref(self) -> PodRef:
        return PodRef(self.tenant, self.name)


class PodStatus(BaseModel):
    pod_id: int
    actual_status: ActualStatus = ActualStatus.PENDING
    container_id: str | None = None
    spec_hash: str | None = None
    ready: bool = False
    health_message: str | None = None
    last_health_at: datetime | None = None
    memory_bytes: int | None = None
    cpu_percent: float | None = None
    last_error: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    updated_at: datetime | None = None


class Event(BaseModel):
    id: int
    at: datetime
    tenant: str | None
    pod: str | None
    type: str
    message: str
    data: dict[str, Any] = {}
