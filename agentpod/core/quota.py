"""Per-tenant quotas: how many pods, how much memory and CPU its running pods may have (pure).

Every pod that is not being deleted counts toward ``max_pods``; only pods that should run count
toward memory and CPUs (a stopped pod holds neither), so starting a pod is checked too.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

FLAGS = {
    "max_pods": "--max-pods N",
    "max_memory_mb": "--max-memory SIZE",
    "max_cpus": "--max-cpus N",
}


class Quota(BaseModel):
    """A tenant's limits; None is unlimited."""

    model_config = ConfigDict(frozen=True)

    max_pods: int | None = Field(default=None, ge=0)
    max_memory_mb: int | None = Field(default=None, ge=0)
    max_cpus: float | None = Field(default=None, ge=0)


@dataclass(frozen=True)
class Usage:
    """What a tenant's pods hold (or what one pod asks for)."""

    pods: int = 0
    memory_mb: int = 0
    cpus: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.pods + other.pods, self.memory_mb + other.memory_mb, self.cpus + other.cpus
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.pods - other.pods, self.memory_mb - other.memory_mb, self.cpus - other.cpus
        )

    def as_dict(self) -> dict[str, float]:
        return {"pods": self.pods, "memory_mb": self.memory_mb, "cpus": round(self.cpus, 3)}


def refusal(tenant: str, quota: Quota, used: Usage, demand: Usage) -> str | None:
    """Why ``demand`` (what a change adds; negative: frees) on top of ``used`` does not fit
    ``quota``; None: it fits. Only what grows is checked, so a tenant over a lowered quota can
    still shrink. The first quota exceeded is named, with by how much."""
    after = used + demand
    checks = [
        ("max_pods", quota.max_pods, demand.pods, after.pods, "pods"),
        ("max_memory_mb", quota.max_memory_mb, demand.memory_mb, after.memory_mb, "MiB memory"),
        ("max_cpus", quota.max_cpus, demand.cpus, after.cpus, "CPUs"),
    ]
    for field, limit, asked, total, unit in checks:
        if limit is None or asked <= 0 or total <= limit + 1e-9:
            continue
        return (
            f"tenant {tenant}: {_n(total - asked)} of {_n(limit)} {unit} used, this needs "
            f"{_n(asked)} more ({_n(total - limit)} over); raise it with "
            f"agentpod tenant set {tenant} {FLAGS[field]}"
        )
    return None


def crowded(tenant: str, pods: int, room: int) -> str | None:
    """Why ``pods`` pods do not fit the tenant's network of ``room`` addresses; None: they do."""
    if pods <= room:
        return None
    return (
        f"tenant {tenant}: its network holds {room} pods, this would be pod {pods}; networks "
        "made with a lower network_prefix hold more (AGENTPOD_NETWORK_PREFIX=22: 1021)"
    )


def _n(value: float) -> str:
    return f"{round(value, 3):g}"


def holds(memory_mb: int, cpus: float, counted: bool, running: bool) -> Usage:
    """What one pod holds: a pod slot when ``counted`` (not being deleted), memory and CPUs
    when ``running`` (desired running)."""
    if not counted:
        return Usage()
    return Usage(1, memory_mb if running else 0, cpus if running else 0.0)
