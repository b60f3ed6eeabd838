"""The states a pod can be in, the network modes and Swarm endpoint modes: plain enums (no
models to import: settings and the CLI's read path use them)."""

from __future__ import annotations

from enum import StrEnum


class DesiredStatus(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    DELETED = "deleted"


class ActualStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    STOPPED = "stopped"
    EXITED = "exited"
    RESTARTING = "restarting"
    MISSING = "missing"
    FAILED = "failed"


class NetworkMode(StrEnum):
    TENANT = "tenant"
    SHARED = "shared"


class EndpointMode(StrEnum):
    """``dnsrr`` works everywhere; ``vip`` needs IPVS in the kernel (most VPS have it)."""

    DNSRR = "dnsrr"
    VIP = "vip"
