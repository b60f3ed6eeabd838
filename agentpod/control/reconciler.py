"""One reconcile pass: list once, plan (pure), apply pod by pod, record outcomes."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from agentpod.control.hooks import Hooks
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
from agentpod.core.spec import ContainerSpec, build_spec, holder_hash
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


@dataclass(frozen=True)
class Plan:
    """What a pass decided, and what it read to decide it."""

    actions: list[Action]
    pods: dict[int, Pod]
    statuses: dict[int, PodStatus]
    tenants: dict[str, TenantSettings]
    hashes: dict[int, str]
    containers: dict[str, Actual]  # by container id
    providers: Providers  # LLM providers' kinds by tenant
    networks: tuple[str, ...]  # this instance's networks by name


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
    workers: int = 4  # containers created/started at once (4 is the fastest here)
    llm_port: int = 4480  # the LLM gateway's port on each network's gateway address
    hooks: Hooks = field(default_factory=Hooks)  # serve's metrics
    _gateways: dict[str, str] = field(default_factory=dict)  # network -> gateway address
    _listed: bool = False  # _gateways holds every network of the last list: absent is absent
    _edges: dict[str | None, Edge] = field(default_factory=dict)
    _hashes: dict[int, tuple[tuple[object, ...], object, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def network_for(self, tenant: str) -> str:
        return network_name(tenant) if self.network_mode is NetworkMode.TENANT else SHARED_NETWORK

    def _edge_for(self, network: str, create_network: bool) -> Edge:
        """The edge as the pod on ``network`` sees it (the network's gateway is its proxy)."""
        gateway = self._gateways.get(network)
        if gateway is None and (create_network or not self._listed):
            if create_network:  # a dry run creates none
                self.runtime.ensure_network(network)
            gateway = self.runtime.network_gateway(network)
            if gateway:
                self._gateways[network] = gateway
        if gateway not in self._edges:
            proxies = (gateway,) if gateway else ()
            self._edges[gateway] = self.edge.model_copy(update={"proxy_addresses": proxies})
        return self._edges[gateway]

    def spec_for(
        self,
        pod: Pod,
        create_network: bool,
        tenant: TenantSettings | None = None,
        providers: Providers | None = None,
    ) -> ContainerSpec:
        network = self.network_for(pod.tenant)
        edge = self._edge_for(network, create_network)
        gateway = edge.proxy_addresses[0] if edge.proxy_addresses else None
        llm = self._llm_access(pod, gateway, providers)
        holder = self.runtime.holders
        return build_spec(pod, self.runtime.instance, network, edge, tenant, llm, holder)

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

    def spec_hash(
        self,
        pod: Pod,
        create_network: bool,
        tenant: TenantSettings | None = None,
        providers: Providers | None = None,
    ) -> str:
        """The pod's spec hash, rendered again only when one of its inputs is another object
        than last time (the store hands back the same ``Pod`` while its rows are unchanged),
        or its tenant's LLM providers differ."""
        if providers is None:
            providers = LlmStore(self.store).provider_kinds()
        inputs = (pod, self._edge_for(self.network_for(pod.tenant), create_network), tenant)
        mine = providers.get(pod.tenant)
        cached = self._hashes.get(pod.id)
        if (
            cached is not None
            and cached[1] == mine
            and all(a is b for a, b in zip(cached[0], inputs, strict=True))
        ):
            return cached[2]
        spec_hash = self.spec_for(pod, create_network, tenant, providers).hash
        self._hashes[pod.id] = (inputs, mine, spec_hash)
        return spec_hash

    def watch_adopted(self, pods: Iterable[Pod]) -> None:
        """Remember adopted containers (no labels) so their Docker events reach their pod."""
        self.adopted = {
            cid: p.id
            for p in pods
            for cid in (p.adopted_container_id, p.replaces_container_id)
            if cid
        }

    # -- planning -------------------------------------------------------------------------

    def plan(self, only: set[int] | None = None, dry_run: bool = False) -> Plan:
        """One database query, one Docker list of containers (two with adopted containers)
        and one of networks, whatever the pods' count and state."""
        pods, statuses, tenants = self.store.reconcile_view()
        self.watch_adopted(pods)
        providers = LlmStore(self.store).provider_kinds()  # LLM access: a spec input
        # a pass for some pods (a Docker event's) lists only their containers
        names = None if only is None else [p.ref.container for p in pods if p.id in only]
        actual = self.runtime.list_pods(list(self.adopted), names)
        networks = self.runtime.list_networks()
        self._gateways = {name: gw for name, gw in networks.items() if gw}
        self._listed = True
        hashes: dict[int, str] = {}
        desired: list[Desired] = []
        for pod in pods:
            wants_net = not dry_run and pod.desired_status is DesiredStatus.RUNNING
            try:
                hashes[pod.id] = self.spec_hash(pod, wants_net, tenants.get(pod.tenant), providers)
            except Exception as exc:  # a bad stored config must not stop other pods
                log.warning("cannot render pod %s: %s", pod.ref, exc)
            desired.append(
                Desired(
                    pod.id,
                    str(pod.ref),
                    pod.desired_status,
                    hashes.get(pod.id, "unrenderable"),
                    pod.adopted_container_id,
                    pod.replaces_container_id,
                    self._holder_hash(pod),
                )
            )
        if only is None:  # forget the hashes of pods that are gone
            self._hashes = {pid: self._hashes[pid] for pid in hashes if pid in self._hashes}
        actions = plan(desired, actual)
        if only is not None:
            actions = [a for a in actions if a.pod_id in only]
        by_id = {p.id: p for p in pods}
        containers = {a.container_id: a for a in actual}
        return Plan(
            actions, by_id, statuses, tenants, hashes, containers, providers, tuple(networks)
        )

    def _holder_hash(self, pod: Pod) -> str | None:
        """What the pod's network holder should be (None: it has none, as an adopted one)."""
        if pod.adopted_container_id or not self.runtime.holders:
            return None
        return holder_hash(pod.ref.container, self.network_for(pod.tenant))

    # -- one pass -------------------------------------------------------------------------

    def run_once(
        self, only: set[int] | None = None, dry_run: bool = False, force: bool = False
    ) -> list[Outcome]:
        """Converge every pod (or only some) once; returns one outcome per non-noop action.
        Pods' actions run in parallel (at most ``workers`` at a time); one pod's in order."""
        with self._lock, self.store.reconcile_lock():
            started = time.monotonic()  # the pass, not the wait for another's lock
            p = self.plan(only, dry_run)
            if dry_run:
                return [Outcome(a) for a in p.actions if a.kind is not ActionKind.NOOP]
            work = [a for a in p.actions if a.kind is not ActionKind.NOOP]
            busy = {a.pod_id for a in work}
            for action in p.actions:  # a pod with work is observed by its own worker, first
                if action.pod_id not in busy:
                    self._observe_for(action, p)
            outcomes = self._apply_all(work, p, force)
            if only is None:
                self._collect_networks(p)
            self.hooks.passed(time.monotonic() - started, only is None, outcomes)
            return outcomes

    def _observe_for(self, action: Action, p: Plan) -> None:
        pod = p.pods.get(action.pod_id) if action.pod_id is not None else None
        status = p.statuses.get(action.pod_id) if action.pod_id is not None else None
        if pod is not None and status is not None:
            self._observe(pod, status, p.containers.get(action.container_id or ""))

    def _apply_all(self, work: list[Action], p: Plan, force: bool) -> list[Outcome]:
        """Apply actions grouped by pod: groups in parallel, a group's actions in order."""
        groups: dict[object, list[int]] = {}
        for i, action in enumerate(work):
            groups.setdefault(action.pod_id or action.ref, []).append(i)
        for action in work:  # networks first, one thread: two new pods never race to make one
            pod = p.pods.get(action.pod_id) if action.pod_id is not None else None
            if pod is not None and action.kind in (ActionKind.CREATE, ActionKind.RECREATE):
                with contextlib.suppress(Exception):  # the pod's own attempt reports it
                    self._edge_for(self.network_for(pod.tenant), True)
        results: dict[int, Outcome] = {}

        def run(indexes: list[int]) -> None:
            for i in indexes:
                self._observe_for(work[i], p)
                results[i] = self._apply(work[i], p, force)

        if len(groups) <= 1:
            for indexes in groups.values():
                run(indexes)
        else:
            with ThreadPoolExecutor(min(self.workers, len(groups))) as pool:
                list(pool.map(run, groups.values()))
        return [results[i] for i in range(len(work))]

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
            self.hooks.restarted(pod, seen.value)
        elif seen is ActualStatus.RUNNING and status.actual_status is ActualStatus.EXITED:
            event = ("restart", "container running again (restarted by Docker)")
        self.store.update_status(pod, event, actual_status=seen.value)
        status.actual_status = seen

    def _apply(self, action: Action, p: Plan, force: bool) -> Outcome:
        pod = p.pods.get(action.pod_id) if action.pod_id is not None else None
        status = p.statuses.get(action.pod_id) if action.pod_id is not None else None
        now = self.clock()
        retry_at = status.next_attempt_at if status else None
        if retry_at and not force and retry_at.timestamp() > now:
            return Outcome(action, ok=False, skipped="backing off after an error")
        started = time.monotonic()
        try:
            self._execute(action, pod, p)
        except Exception as exc:
            error = _one_line(exc)
            self._log(action, started, error)
            if pod is not None and status is not None:
                self._record_failure(pod, status, action, error)
            return Outcome(action, ok=False, error=error)
        self._log(action, started, None)
        return Outcome(action)

    def _execute(self, action: Action, pod: Pod | None, p: Plan) -> None:
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
        if action.kind is ActionKind.STOP:
            self._expect_exit(cid)
            gone = not rt.stop(cid or "")
            message = "container gone" if gone else "container stopped"
            self._done(pod, "stop", message, ActualStatus.STOPPED, None if gone else cid, None)
            return
        if action.kind is ActionKind.START:
            if not self._holder_started(action):  # gone: a new one, and the pod in it
                action = replace(action, kind=ActionKind.RECREATE, reason="network holder gone")
            elif rt.start(cid or ""):
                kind = "restart" if action.reason == "container exited" else "start"
                self._done(
                    pod,
                    kind,
                    f"container started ({action.reason})",
                    ActualStatus.RUNNING,
                    cid,
                    p.hashes.get(pod.id),
                )
                return
            else:
                action = replace(action, kind=ActionKind.CREATE, reason="container gone")
        spec = self.spec_for(pod, True, p.tenants.get(pod.tenant), p.providers)  # raises
        if action.kind is ActionKind.RECREATE:
            self._expect_exit(cid)
            grace = get_adapter(pod.adapter).stop_grace_s
            if grace:  # e.g. a SIGKILLed OpenClaw gateway keeps its state lease for 5 min
                rt.stop(cid or "", grace)
            rt.remove(cid or "")
        if not rt.image_exists(spec.image):
            rt.pull(spec.image)
        new_id = rt.create_started(spec, action.holder)
        if new_id is None:  # removed by someone else already: the next pass makes one
            self.store.update_status(pod, None, actual_status="missing", container_id=None)
            return
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

    def _holder_started(self, action: Action) -> bool:
        """The pod's network holder is running (started now if it was not); False: gone."""
        holder = action.holder
        if holder is None or holder.state == "running":
            return True
        return self.runtime.start(holder.container_id)

    def _remove(self, action: Action, pod: Pod) -> None:
        for cid in (action.container_id, action.holder and action.holder.container_id):
            if cid:
                self._expect_exit(cid)
                self.runtime.remove(cid)
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

    def _collect_networks(self, p: Plan) -> None:
        """Remove tenant networks whose tenant is gone (created lazily with the first pod)."""
        if self.network_mode is not NetworkMode.TENANT:
            return
        live = {self.network_for(pod.tenant) for pod in p.pods.values()} | {SHARED_NETWORK}
        if set(p.networks) <= live:  # the usual pass: no query for the tenants then
            return
        live.update(self.network_for(t.name) for t in self.store.list_tenants())
        for name in p.networks:
            if name not in live:
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
