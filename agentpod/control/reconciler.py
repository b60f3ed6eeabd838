"""One reconcile pass: list once, plan (pure), apply pod by pod, record outcomes."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from agentpod.core import backoff
from agentpod.core.adapters import get_adapter
from agentpod.core.llm import LlmAccess, ProviderKind
from agentpod.core.models import (
    ActualStatus,
    DesiredStatus,
    NetworkMode,
    Pod,
    PodStatus,
    TenantSettings,
)
from agentpod.core.names import SHARED_NETWORK, network_name
from agentpod.core.planner import Action, ActionKind, Actual, Desired, plan
from agentpod.core.routing import Edge
from agentpod.core.spec import ContainerSpec, build_spec
from agentpod.services.docker_runtime import DockerRuntime
from agentpod.services.llm_store import LlmStore
from agentpod.services.store import Store

log = logging.getLogger("agentpod.reconcile")
Providers = dict[str, tuple[tuple[str, ProviderKind], ...]]

STATE_TO_STATUS = {
    "running": ActualStatus.RUNNING,
    "restarting": ActualStatus.RESTARTING,
    "paused": ActualStatus.RUNNING,
    "created": ActualStatus.STOPPED,
    "exited": ActualStatus.EXITED,
    "dead": ActualStatus.FAILED,
}


@dataclass(frozen=True)
class Outcome:
    """What happened to one action; a failure is an outcome, never an exception."""

    action: Action
    ok: bool = True
    error: str | None = None
    skipped: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "action": self.action.kind.value,
            "pod": self.action.ref,
            "reason": self.action.reason,
            "ok": self.ok,
            "error": self.error,
            "skipped": self.skipped,
        }


@dataclass
class Reconciler:
    store: Store
    runtime: DockerRuntime
    network_mode: NetworkMode = NetworkMode.TENANT
    edge: Edge = field(default_factory=Edge)
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    expected_exits: set[str] = field(default_factory=set)
    adopted: dict[str, int] = field(default_factory=dict)  # container id -> pod id
    llm_port: int = 4480  # the LLM gateway's port on each network's gateway address
    _gateways: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def network_for(self, tenant: str) -> str:
        return network_name(tenant) if self.network_mode is NetworkMode.TENANT else SHARED_NETWORK

    def spec_for(
        self,
        pod: Pod,
        create_network: bool,
        tenant: TenantSettings | None = None,
        providers: Providers | None = None,
    ) -> ContainerSpec:
        network = self.network_for(pod.tenant)
        gateway = self._gateways.get(network)
        if gateway is None:  # looked up once per network; a dry run never creates one
            if create_network:
                self.runtime.ensure_network(network)
            gateway = self.runtime.network_gateway(network)
            if gateway:
                self._gateways[network] = gateway
        edge = self.edge.model_copy(update={"proxy_addresses": (gateway,) if gateway else ()})
        llm = self._llm_access(pod, gateway, providers)
        return build_spec(pod, self.runtime.instance, network, edge, tenant, llm)

    def _llm_access(
        self, pod: Pod, gateway: str | None, providers: Providers | None
    ) -> LlmAccess | None:
        """The gateway's URL on the pod's network and its virtual key, if its tenant has
        providers. Neither changes when a provider's key is rotated: no recreate then."""
        llm = LlmStore(self.store)
        mine = (providers if providers is not None else llm.provider_kinds()).get(pod.tenant)
        if not mine or not gateway:
            return None
        base = f"http://{gateway}:{self.llm_port}"
        return LlmAccess(base_url=base, api_key=llm.virtual_key(pod), providers=mine)

    def watch_adopted(self, pods: Iterable[Pod]) -> None:
        """Remember adopted containers (no labels) so their Docker events reach their pod."""
        self.adopted = {
            cid: p.id
            for p in pods
            for cid in (p.adopted_container_id, p.replaces_container_id)
            if cid
        }

    # -- planning -------------------------------------------------------------------------

    def plan(
        self, only: set[int] | None = None, dry_run: bool = False
    ) -> tuple[list[Action], dict[int, Pod], dict[int, ContainerSpec], list[Actual]]:
        pods = {p.id: p for p in self.store.list_pods()}
        self.watch_adopted(pods.values())
        tenants = {t.name: t.settings for t in self.store.list_tenants()}  # edge limits
        providers = LlmStore(self.store).provider_kinds()
        actual = self.runtime.list_pods(list(self.adopted))
        specs: dict[int, ContainerSpec] = {}
        desired: list[Desired] = []
        for pod in pods.values():
            wants_net = not dry_run and pod.desired_status is DesiredStatus.RUNNING
            try:
                spec = self.spec_for(pod, wants_net, tenants.get(pod.tenant), providers)
            except Exception as exc:  # a bad stored config must not stop other pods
                log.warning("cannot render pod %s: %s", pod.ref, exc)
                spec_hash = "unrenderable"
            else:
                specs[pod.id] = spec
                spec_hash = spec.hash
            desired.append(
                Desired(
                    pod.id,
                    str(pod.ref),
                    pod.desired_status,
                    spec_hash,
                    pod.adopted_container_id,
                    pod.replaces_container_id,
                )
            )
        actions = plan(desired, actual)
        if only is not None:
            actions = [a for a in actions if a.pod_id in only]
        return actions, pods, specs, actual

    # -- one pass -------------------------------------------------------------------------

    def run_once(
        self, only: set[int] | None = None, dry_run: bool = False, force: bool = False
    ) -> list[Outcome]:
        """Converge every pod (or only some) once; returns one outcome per non-noop action."""
        with self._lock, self.store.reconcile_lock():
            actions, pods, specs, actual = self.plan(only, dry_run)
            if dry_run:
                return [Outcome(a) for a in actions if a.kind is not ActionKind.NOOP]
            statuses = self.store.all_status()
            by_id = {a.container_id: a for a in actual}
            outcomes = []
            for action in actions:
                pod = pods.get(action.pod_id) if action.pod_id is not None else None
                status = statuses.get(action.pod_id) if action.pod_id is not None else None
                current = by_id.get(action.container_id) if action.container_id else None
                if pod is not None and status is not None:
                    self._observe(pod, status, current)
                if action.kind is ActionKind.NOOP:
                    continue
                outcomes.append(self._apply(action, pod, specs, status, force))
            if only is None:
                self._collect_networks(pods.values())
            return outcomes

    def _observe(self, pod: Pod, status: PodStatus, current: Actual | None) -> None:
        """Record what Docker shows, and a crash when a running pod's container died."""
        if current:
            seen = STATE_TO_STATUS.get(current.state, ActualStatus.FAILED)
        elif pod.desired_status is DesiredStatus.RUNNING:
            seen = ActualStatus.MISSING
        else:
            seen = ActualStatus.STOPPED
        if seen == status.actual_status:
            return
        event = None
        crashed = status.actual_status is ActualStatus.RUNNING and seen in (
            ActualStatus.EXITED,
            ActualStatus.MISSING,
            ActualStatus.FAILED,
        )
        if crashed and pod.desired_status is DesiredStatus.RUNNING:
            event = ("crash", f"container {seen.value} while the pod should run")
        elif seen is ActualStatus.RUNNING and status.actual_status is ActualStatus.EXITED:
            event = ("restart", "container running again (restarted by Docker)")
        self.store.update_status(pod, event, actual_status=seen.value)
        status.actual_status = seen

    def _apply(
        self,
        action: Action,
        pod: Pod | None,
        specs: dict[int, ContainerSpec],
        status: PodStatus | None,
        force: bool,
    ) -> Outcome:
        now = self.clock()
        retry_at = status.next_attempt_at if status else None
        if retry_at and not force and retry_at.timestamp() > now:
            return Outcome(action, ok=False, skipped="backing off after an error")
        started = time.monotonic()
        try:
            self._execute(action, pod, specs)
        except Exception as exc:
            error = _one_line(exc)
            self._log(action, started, error)
            if pod is not None and status is not None:
                self._record_failure(pod, status, action, error)
            return Outcome(action, ok=False, error=error)
        self._log(action, started, None)
        return Outcome(action)

    def _execute(self, action: Action, pod: Pod | None, specs: dict[int, ContainerSpec]) -> None:
        rt = self.runtime
        cid = action.container_id
        if pod is None:  # orphan: ours by label, no pod in the database; data volume is kept
            self._expect_exit(cid)
            rt.remove(cid or "")
            self.store.add_event("orphan.removed", f"removed orphan container {action.ref}")
            return
        if action.kind is ActionKind.REMOVE:
            self._remove(action, pod)
            return
        spec = specs.get(pod.id)
        if action.kind is ActionKind.STOP:
            self._expect_exit(cid)
            rt.stop(cid or "")
            self._done(pod, "stop", "container stopped", ActualStatus.STOPPED, cid, None)
            return
        if action.kind is ActionKind.START:
            rt.start(cid or "")
            kind = "restart" if action.reason == "container exited" else "start"
            self._done(
                pod,
                kind,
                f"container started ({action.reason})",
                ActualStatus.RUNNING,
                cid,
                spec.hash if spec else None,
            )
            return
        if spec is None:
            raise ValueError(f"pod {pod.ref} config cannot be rendered; fix it with config set")
        if action.kind is ActionKind.RECREATE:
            self._expect_exit(cid)
            grace = get_adapter(pod.adapter).stop_grace_s
            if grace:  # e.g. a SIGKILLed OpenClaw gateway keeps its state lease for 5 min
                rt.stop_gracefully(cid or "", grace)
            rt.remove(cid or "")
        if not rt.image_exists(spec.image):
            rt.pull(spec.image)
        new_id = rt.create(spec)
        rt.start(new_id)
        if pod.replaces_container_id:
            self.store.clear_replaced(pod)
        verb = "recreate" if action.kind is ActionKind.RECREATE else "create"
        self._done(
            pod,
            verb,
            f"container {verb}d ({action.reason})",
            ActualStatus.RUNNING,
            new_id,
            spec.hash,
        )

    def _remove(self, action: Action, pod: Pod) -> None:
        if action.container_id:
            self._expect_exit(action.container_id)
            self.runtime.remove(action.container_id)
        if pod.desired_status is not DesiredStatus.DELETED:  # a duplicate container
            return
        kept = pod.keep_data or pod.data_source is not None  # never delete data we did not make
        if not kept:
            self.runtime.remove_volume(pod.ref.volume)
        source = pod.data_source.source if pod.data_source else pod.ref.volume
        where = f"data kept in {source}" if kept else "data removed"
        self.store.forget_pod(pod, f"pod deleted ({where})")

    def _done(
        self,
        pod: Pod,
        event: str,
        message: str,
        status: ActualStatus,
        cid: str | None,
        spec_hash: str | None,
    ) -> None:
        fields = {
            "actual_status": status.value,
            "container_id": cid,
            "last_error": None,
            "attempts": 0,
            "next_attempt_at": None,
        }
        if spec_hash:
            fields["spec_hash"] = spec_hash
        fields["ready"] = False  # another container, or a restarted one: not probed yet
        self.store.update_status(pod, (event, message), **fields)

    def _record_failure(self, pod: Pod, status: PodStatus, action: Action, error: str) -> None:
        attempts = status.attempts + 1
        delay = backoff.retry_delay(attempts, self.rng)
        retry_at = datetime.fromtimestamp(self.clock(), UTC) + timedelta(seconds=delay)
        self.store.update_status(
            pod,
            ("error", f"{action.kind.value} failed: {error} (retry in {delay:.0f}s)"),
            last_error=error,
            attempts=attempts,
            next_attempt_at=retry_at,
            actual_status=ActualStatus.FAILED.value,
            ready=False,
        )

    def _expect_exit(self, cid: str | None) -> None:
        if cid:
            self.expected_exits.add(cid)

    def _collect_networks(self, pods: Iterable[Pod]) -> None:
        """Remove tenant networks whose tenant is gone (created lazily with the first pod)."""
        if self.network_mode is not NetworkMode.TENANT:
            return
        live = {self.network_for(t.name) for t in self.store.list_tenants()}
        live.update(self.network_for(p.tenant) for p in pods)
        for name in self.runtime.list_networks():
            if name not in live and name != SHARED_NETWORK:
                try:
                    self.runtime.remove_network(name)
                    self._gateways.pop(name, None)
                except Exception as exc:  # still in use by a container being removed
                    log.warning("cannot remove network %s yet: %s", name, exc)

    def _log(self, action: Action, started: float, error: str | None) -> None:
        line = {
            "action": action.kind.value,
            "pod": action.ref,
            "reason": action.reason,
            "ok": error is None,
            "ms": round((time.monotonic() - started) * 1000),
        }
        if error:
            line["error"] = error
        log.info(json.dumps(line))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]
