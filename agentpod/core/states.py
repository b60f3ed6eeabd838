"""The states a pod can be in, and the network modes: plain enums (no models to import)."""

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
