"""Backups (pure): the archive's manifest, what a restored pod is, and the checks a restore
makes before it touches anything."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from agentpod.core.models import DataSource, DesiredStatus, Limits, TenantSettings
from agentpod.core.names import PodRef
from agentpod.core.quota import Quota

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "database.sql"
SECRET_KEY = "secret.key"
LAST_BACKUP = "last-backup.json"  # in the home: the last good backup, for doctor
STALE_AFTER_S = 2 * 86400


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why (nothing was changed)."""


class Member(BaseModel):
    model_config = ConfigDict(frozen=True)

    size: int
    sha256: str


class PodEntry(BaseModel):
    """A pod as the manifest lists it: enough to check a restore before reading the dump."""

    model_config = ConfigDict(frozen=True)

    ref: str
    adapter: str
    image: str
    subdomain: str
    domains: list[str] = []
    volume: str  # a volume name, or a host path for an adopted pod's bind mount
    state_dir: str
    data: str | None = None  # the member holding the volume's tar (None: never created)

    @property
    def pod_ref(self) -> PodRef:
        return PodRef.parse(self.ref)


class Manifest(BaseModel):
    format: int = FORMAT
    agentpod_version: str
    postgres_version: str
    created_at: datetime
    instance: str
    scope: str  # "all", "tenant <name>" or "pod <tenant/pod>"
    stopped: bool = False
    pods: list[PodEntry]
    members: dict[str, Member]

    @property
    def size(self) -> int:
        return sum(m.size for m in self.members.values())


class PodRecord(BaseModel):
    """A pod as the dump holds it, its token in clear: what a restore writes back."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    name: str
    adapter: str
    subdomain: str
    desired_status: DesiredStatus
    image: str
    limits: Limits
    token: str
    config: dict[str, Any]
    domains: list[str] = []
    data_source: DataSource | None = None
    pool: str | None = None

    @property
    def ref(self) -> PodRef:
        return PodRef(self.tenant, self.name)


class ProviderRecord(BaseModel):
    """An LLM provider as the dump holds it, its key in clear: a tenant's, or the platform's
    with the tenants it is shared with."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    base_url: str
    key: str
    tenants: list[str] = []


class BudgetRecord(BaseModel):
    """An LLM budget of the tenant (``pod`` empty) or of one of its pods."""

    model_config = ConfigDict(frozen=True)

    pod: str = ""
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    daily_usd: float | None = None
    monthly_usd: float | None = None


class TenantRecord(BaseModel):
    """A tenant with what belongs to it besides its pods."""

    model_config = ConfigDict(frozen=True)

    name: str
    settings: TenantSettings
    quota: Quota = Quota()
    providers: list[ProviderRecord] = []
    budgets: list[BudgetRecord] = []


class UserRecord(BaseModel):
    """An account (its password hash as stored: argon2id needs no key of ours)."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: str
    password_hash: str
    tenants: list[str] = []


class DumpContents(BaseModel):
    """What a restore reads from an archive's database dump."""

    model_config = ConfigDict(frozen=True)

    pods: list[PodRecord]
    tenants: list[TenantRecord] = []
    users: list[UserRecord] = []
    prices: dict[str, tuple[float, float]] = {}  # model -> USD per million (input, output)
    platform_providers: list[ProviderRecord] = []

    def scoped(self, scope: str, refs: set[str], only: PodRef | None) -> DumpContents:
        """What a restore brings back of an archive of ``scope`` (the manifest's): the pods
        ``refs``; for a whole backup every tenant, the accounts and the price table; for a
        tenant's or one pod's, the settings of those pods' tenants only. The platform's LLM
        providers (and whom they are shared with) come back with a whole backup."""
        whole = scope == "all" and only is None
        pods = [r for r in self.pods if str(r.ref) in refs]
        names = {t.name for t in self.tenants} if whole else {r.tenant for r in pods}
        if scope.startswith("tenant ") and only is None:
            names.add(scope.removeprefix("tenant "))
        return DumpContents(
            pods=pods,
            tenants=[t for t in self.tenants if t.name in names],
            users=self.users if whole else [],
            prices=self.prices if whole else {},
            platform_providers=self.platform_providers if whole else [],
        )


def volume_member(ref: PodRef) -> str:
    return f"volumes/{ref.tenant}/{ref.name}.tar"


def check_format(manifest: Manifest) -> None:
    if manifest.format > FORMAT:
        raise BackupError(
            f"archive format {manifest.format} is newer than this AgentPod reads ({FORMAT}): "
            "upgrade AgentPod first"
        )


def refusals(
    entries: list[PodEntry],
    existing: dict[str, tuple[str, list[str]]],
    present_volumes: set[str],
    foreign_containers: set[str],
    replace: bool,
) -> list[str]:
    """Why a restore of ``entries`` must not go on: one reason per problem, none when it may.

    ``existing`` maps each pod of the target ("tenant/pod") to its subdomain and domains;
    ``present_volumes`` are data locations already on the engine; ``foreign_containers`` are
    pod container names held by something that is not a pod of the target. A pod, or a volume
    without a pod, is replaced only with ``replace``; a clash with another pod never is.
    """
    reasons = []
    for e in entries:
        if e.ref in existing and not replace:
            reasons.append(f"pod {e.ref} exists (pass --yes to replace it)")
        elif e.ref not in existing and e.volume in present_volumes and not replace:
            reasons.append(f"volume {e.volume} of {e.ref} exists (pass --yes to overwrite it)")
        if e.ref not in existing and e.pod_ref.container in foreign_containers:
            reasons.append(
                f"a container named {e.pod_ref.container} exists outside this AgentPod: "
                "remove it first"
            )
        for ref, (subdomain, domains) in existing.items():
            if ref == e.ref:
                continue
            if subdomain == e.subdomain:
                reasons.append(f"subdomain {e.subdomain} of {e.ref} is used by pod {ref}")
            reasons += [
                f"domain {d} of {e.ref} is routed to pod {ref}"
                for d in sorted(set(e.domains) & set(domains))
            ]
    return reasons


def backup_age(seconds: float, path: str, pods: int) -> tuple[bool, str]:
    """Whether the last good backup is recent enough, and how to say it."""
    hours = seconds / 3600
    age = f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} days"
    return seconds <= STALE_AFTER_S, f"last good backup {age} ago ({pods} pod(s), {path})"


def to_prune(names: list[str], keep: int) -> list[str]:
    """The archives beyond the newest ``keep`` (names sort by their UTC timestamp)."""
    return sorted(names, reverse=True)[keep:] if keep > 0 else []
