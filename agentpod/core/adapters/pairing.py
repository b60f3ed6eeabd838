"""Device pairing: an optional adapter capability, pure (argv to run in the pod, output to parse).

An agent that refuses unknown devices until someone approves them (OpenClaw's "pairing
required") implements ``DevicePairing``; AgentPod runs the commands in the pod's container and
hands the output back to the adapter. The adapter never does I/O itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class PairingError(RuntimeError):
    """The agent refused or failed a pairing command; the message is one line for the user."""


class ExecResult(BaseModel):
    """What a command run in the container gave back."""

    model_config = ConfigDict(frozen=True)

    exit_code: int
    stdout: str
    stderr: str

    def first_error_line(self) -> str:
        for text in (self.stderr, self.stdout):
            for line in text.splitlines():
                if line.strip():
                    return line.strip()[:300]
        return f"exit code {self.exit_code}"


class Device(BaseModel):
    """One device as AgentPod shows it: pending (with the request id to approve) or paired."""

    model_config = ConfigDict(frozen=True)

    status: Literal["pending", "paired"]
    device_id: str
    request_id: str | None = None
    client: str | None = None
    platform: str | None = None
    role: str | None = None
    scopes: tuple[str, ...] = ()
    remote_ip: str | None = None
    at_ms: int | None = None  # requested (pending) or approved (paired)
    connected: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class DevicePairing(ABC):
    """Mixin for adapters whose agent pairs devices. ``user`` is who runs the commands."""

    @abstractmethod
    def list_devices_argv(self) -> tuple[str, ...]: ...

    @abstractmethod
    def parse_devices(self, result: ExecResult) -> list[Device]:
        """Pending first, then paired; raise PairingError on a failed command."""

    @abstractmethod
    def approve_argv(self, request_id: str) -> tuple[str, ...]: ...

    @abstractmethod
    def parse_approve(self, request_id: str, result: ExecResult) -> Device:
        """The device now paired; raise PairingError (e.g. unknown request id)."""


def pairing_of(adapter: object) -> DevicePairing | None:
    return adapter if isinstance(adapter, DevicePairing) else None
