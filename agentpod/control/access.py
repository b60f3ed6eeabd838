"""Access to a pod's agent: its web UI's address, its generated token (show, rotate) and device
pairing (list, approve).

Pairing commands run inside the pod's container through the Docker exec API; the adapter says
which commands and reads their output, so the user never needs ``docker exec``. Revealing the
token needs the right to change the pod (it grants the agent's full control) and is audited.

access.open_url(ctx: Context, caller: Principal, ref: str | PodRef) -> OpenView
access.reveal_token(ctx: Context, caller: Principal, ref: str | PodRef) -> TokenView
access.rotate_token(ctx: Context, caller: Principal, ref: str | PodRef) -> TokenView
access.list_devices(ctx: Context, caller: Principal, ref: str | PodRef) -> list[Device]
access.approve_device(ctx: Context, caller: Principal, ref: str | PodRef,
                      request_id: str) -> Device
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from agentpod.control import guard
from agentpod.control.audit import audited_pod
from agentpod.control.context import Context
from agentpod.core.adapters import AgentAdapter, get_adapter
from agentpod.core.adapters.pairing import Device, DevicePairing, PairingError, pairing_of
from agentpod.core.authz import Principal, Scope
from agentpod.core.models import DesiredStatus, Pod
from agentpod.core.names import PodRef


class AccessError(RuntimeError):
    """One line for the user: why the pod's token or devices cannot be reached."""


@dataclass(frozen=True)
class TokenView:
    pod: Pod
    token: str | None  # None: the pod's type does not use it (rotated all the same)
    use: str | None
    rotated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "pod": str(self.pod.ref),
            "token": self.token,
            "use": self.use,
            "rotated": self.rotated,
        }


@dataclass(frozen=True)
class OpenView:
    pod: Pod
    url: str  # carries the token (OpenClaw: in the fragment, which no server sees)
    pairs_devices: bool  # a new browser then waits for ``approve_device``


def open_url(ctx: Context, caller: Principal, ref: str | PodRef) -> OpenView:
    """Where a person opens the pod's web UI (OpenClaw: the Control UI with its token): as
    revealing the token, it needs the right to change the pod and is audited."""
    with audited_pod(ctx, caller, "pod.open", ref):
        p = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        if p.desired_status is DesiredStatus.DELETED:
            raise AccessError(f"pod {p.ref} is being deleted")
    adapter = get_adapter(p.adapter)
    url = adapter.open_url(ctx.edge.public_url(p.subdomain), p.gateway_token)
    return OpenView(p, url, pairing_of(adapter) is not None)


def reveal_token(ctx: Context, caller: Principal, ref: str | PodRef) -> TokenView:
    with audited_pod(ctx, caller, "token.show", ref):
        p = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        adapter = get_adapter(p.adapter)
        if adapter.token_use is None:
            raise AccessError(f"pod {p.ref} ({adapter.id}) does not use its generated token")
    return TokenView(p, p.gateway_token, adapter.token_use)


def rotate_token(ctx: Context, caller: Principal, ref: str | PodRef) -> TokenView:
    """Store a new token and re-render the pod: the container is recreated on the same volume,
    so the old token stops working as soon as the new container runs. Every pod has one: its
    LLM virtual key is derived from it."""
    with audited_pod(ctx, caller, "token.rotate", ref):
        p = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        if p.desired_status is DesiredStatus.DELETED:
            raise AccessError(f"pod {p.ref} is being deleted")
        p = ctx.store.set_token(p, secrets.token_urlsafe(32))
    ctx.apply([p])
    use = get_adapter(p.adapter).token_use
    return TokenView(p, p.gateway_token if use else None, use, rotated=True)


def _pairing(pod: Pod) -> tuple[AgentAdapter, DevicePairing]:
    adapter = get_adapter(pod.adapter)
    pairing = pairing_of(adapter)
    if pairing is None:
        raise AccessError(f"pod {pod.ref} is a {adapter.id} pod: only openclaw pods pair devices")
    return adapter, pairing


def _running_container(ctx: Context, pod: Pod) -> str:
    if pod.desired_status is not DesiredStatus.RUNNING:
        raise AccessError(
            f"pod {pod.ref} is {pod.desired_status.value}: start it with "
            f"'agentpod pod start {pod.ref}'"
        )
    cid = pod.adopted_container_id or ctx.store.get_status(pod.id).container_id
    found = ctx.runtime.find(cid) if cid else None
    if found is None or found.state != "running":
        raise _not_running(pod, found.state if found else "missing")
    return found.container_id


def _not_running(pod: Pod, state: str) -> AccessError:
    return AccessError(
        f"pod {pod.ref} is not running (container {state}): see 'agentpod pod status {pod.ref}'"
    )


def _run(ctx: Context, pod: Pod, adapter: AgentAdapter, argv: tuple[str, ...]):  # -> ExecResult
    from agentpod.services.docker_runtime import DockerError

    cid = _running_container(ctx, pod)
    try:
        result = ctx.runtime.exec(cid, list(argv), adapter.user)
    except DockerError as exc:
        text = str(getattr(exc, "explanation", None) or exc).splitlines()
        detail = text[0] if text else type(exc).__name__
        raise AccessError(f"cannot run {argv[0]} in pod {pod.ref}: {detail}") from None
    if result is None:
        raise _not_running(pod, "gone")
    return result


def list_devices(ctx: Context, caller: Principal, ref: str | PodRef) -> list[Device]:
    pod = guard.pod_of(ctx, caller, ref, Scope.PODS_READ)
    adapter, pairing = _pairing(pod)
    result = _run(ctx, pod, adapter, pairing.list_devices_argv())
    try:
        return pairing.parse_devices(result)
    except PairingError as exc:
        raise AccessError(f"pod {pod.ref}: {exc}") from None


def approve_device(ctx: Context, caller: Principal, ref: str | PodRef, request_id: str) -> Device:
    with audited_pod(ctx, caller, "device.approve", ref):
        pod = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        adapter, pairing = _pairing(pod)
        try:
            argv = pairing.approve_argv(request_id)
            device = pairing.parse_approve(request_id, _run(ctx, pod, adapter, argv))
        except PairingError as exc:
            raise AccessError(f"pod {pod.ref}: {exc}") from None
    ctx.store.add_event("device.approved", f"device {device.device_id[:12]} paired", pod)
    return device
