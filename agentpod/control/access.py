"""Access to a pod's agent: its web UI's address, its generated token (show, rotate) and device
pairing (list, approve).

Pairing commands run inside the pod's container through the Docker exec API; the adapter says
which commands and reads their output, so the user never needs ``docker exec``.
"""

from __future__ import annotations

import secrets

from agentpod.control.context import Context
from agentpod.core.adapters import AgentAdapter, get_adapter
from agentpod.core.adapters.pairing import Device, DevicePairing, PairingError, pairing_of
from agentpod.core.models import DesiredStatus, Pod


class AccessError(RuntimeError):
    """One line for the user: why the pod's token or devices cannot be reached."""


def token_adapter(pod: Pod) -> AgentAdapter:
    adapter = get_adapter(pod.adapter)
    if adapter.token_use is None:
        raise AccessError(f"pod {pod.ref} ({adapter.id}) does not use its generated token")
    return adapter


def open_url(ctx: Context, pod: Pod) -> str:
    """Where a person opens the pod's web UI (OpenClaw: the Control UI, token in the fragment)."""
    if pod.desired_status is DesiredStatus.DELETED:
        raise AccessError(f"pod {pod.ref} is being deleted")
    adapter = get_adapter(pod.adapter)
    return adapter.open_url(ctx.edge.public_url(pod.subdomain), pod.gateway_token)


def pairs_devices(pod: Pod) -> bool:
    return pairing_of(get_adapter(pod.adapter)) is not None


def rotate_token(ctx: Context, pod: Pod) -> Pod:
    """Store a new token and re-render the pod: the container is recreated on the same volume,
    so the old token stops working as soon as the new container runs. Every pod has one: its
    LLM virtual key is derived from it."""
    if pod.desired_status is DesiredStatus.DELETED:
        raise AccessError(f"pod {pod.ref} is being deleted")
    rotated = ctx.store.set_token(pod, secrets.token_urlsafe(32))
    ctx.apply([rotated])
    return rotated


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


def list_devices(ctx: Context, pod: Pod) -> list[Device]:
    adapter, pairing = _pairing(pod)
    result = _run(ctx, pod, adapter, pairing.list_devices_argv())
    try:
        return pairing.parse_devices(result)
    except PairingError as exc:
        raise AccessError(f"pod {pod.ref}: {exc}") from None


def approve_device(ctx: Context, pod: Pod, request_id: str) -> Device:
    adapter, pairing = _pairing(pod)
    try:
        argv = pairing.approve_argv(request_id)
        device = pairing.parse_approve(request_id, _run(ctx, pod, adapter, argv))
    except PairingError as exc:
        raise AccessError(f"pod {pod.ref}: {exc}") from None
    ctx.store.add_event("device.approved", f"device {device.device_id[:12]} paired", pod)
    return device
