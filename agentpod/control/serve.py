"""``agentpod serve``: the control loop. Triggers: a timer, Docker events, database NOTIFY."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agentpod.control.context import Context
from agentpod.control.health import HealthChecker
from agentpod.control.hooks import Hooks
from agentpod.control.proxy import ProxySupervisor, SwarmProxy
from agentpod.services.leader import STANDBY_POLL_S, LeaderSession, SessionLost
from agentpod.services.reads_socket import ReadsServer
from agentpod.services.store import WAKE_CHANNEL
from agentpod.services.traefik import ProxyFailed

if TYPE_CHECKING:
    from agentpod.services.llm_gateway import GatewayThread

log = logging.getLogger("agentpod.serve")

FULL = -1  # a trigger meaning: reconcile every pod
WATCHED = {"die", "oom", "destroy", "health_status"}
RECHECK_DELAYS = (0.0, 0.3, 1.0, 3.0, 10.0)  # a loaded engine's list lags by seconds
PRUNE_EVERY_S = 3600.0


class ServeFailed(RuntimeError):
    pass


@dataclass
class Controller:
    """Leads when no other serve does, else stands by and takes over when the leader's database
    session ends (see ``agentpod.services.leader``). Only the leader reconciles, watches Docker,
    probes pods and runs the proxy."""

    ctx: Context
    interval: float = 30.0
    health_interval: float = 15.0
    event_retention_days: float = 30.0
    proxy: ProxySupervisor | SwarmProxy | None = None
    _pruned_at: float = -PRUNE_EVERY_S
    stop: threading.Event = field(default_factory=threading.Event)
    triggers: queue.Queue[int] = field(default_factory=queue.Queue)
    leading: threading.Event = field(default_factory=threading.Event)
    decided: threading.Event = field(default_factory=threading.Event)  # leads or stands by
    _released: threading.Event = field(default_factory=threading.Event)
    _stood_by_at: float | None = None
    _session_error: str | None = None
    _helpers: list[threading.Thread] = field(default_factory=list)
    gateway: GatewayThread | None = None  # the LLM gateway, while leading
    hooks: Hooks = field(default_factory=Hooks)  # its metrics, once it runs

    def run(self) -> None:
        """Run until ``stop`` is set; the action in flight is finished before returning."""
        from agentpod.control.metrics import Metrics  # prometheus-client: serve's alone

        ctx = self.ctx
        self.hooks = ctx.reconciler.hooks = Metrics(self.leading.is_set)
        ctx.store.migrate()
        ctx.reconciler.watch_adopted(ctx.store.list_pods())
        session = threading.Thread(target=self._hold_session, name="db-session", daemon=True)
        session.start()
        reads = ReadsServer(ctx.store, ctx.settings.home)  # the CLI's pod list and status
        reads.start()
        try:
            if not self.decided.wait(15):
                raise ServeFailed(self._session_error or "cannot reach the database")
            self._loop()
        finally:
            if self.proxy is not None and self._helpers:
                self.proxy.stop()
            if self.gateway is not None:
                self.gateway.stop()
            reads.stop()
            self._released.set()  # the lock goes last: a standby then finds the port free
            session.join(5)
        log.info('{"event": "serve.stopped"}')

    def _start_gateway(self) -> GatewayThread:
        from agentpod.services.docker_runtime import DockerRuntime
        from agentpod.services.llm_gateway import Gateway, GatewayThread

        runtime = DockerRuntime(self.ctx.runtime.instance)  # its own client, its own thread
        gateway = Gateway(self.ctx.store, runtime, self.ctx.settings.llm_gateway_port)
        self.gateway = GatewayThread(gateway)
        self.gateway.start()
        return self.gateway

    def _loop(self) -> None:
        next_full = 0.0
        while not self.stop.is_set():
            leading = self.leading.is_set()
            timeout = max(0.0, next_full - time.monotonic()) if leading else None
            pods = self._collect(timeout)
            if self.stop.is_set():
                break
            if not self.leading.is_set():
                continue  # standing by: triggers are for the leader
            if not self._helpers:
                self._begin_leading()
            full = pods is None or FULL in pods
            try:
                self.ctx.reconciler.run_once(only=None if full else pods)
            except Exception as exc:  # Docker or PostgreSQL briefly away: keep going
                log.warning('{"event": "reconcile.failed", "error": "%s"}', exc)
                time.sleep(1)
            if self.gateway:
                self.gateway.wake()  # new networks and pod addresses, at once
            if full:
                next_full = time.monotonic() + self.interval
                self._prune_events()

    def _begin_leading(self) -> None:
        """The first time this serve leads: the proxy, Docker events and the health loop."""
        took_over = self._stood_by_at is not None
        if self.proxy is not None:
            if took_over:  # the first pass must not wait for Traefik (~1 s to start)
                threading.Thread(target=self._take_proxy_over, daemon=True).start()
            else:  # a proxy that cannot start at all is the user's error: say it now
                self._start_proxy(self.proxy)
        self._start_gateway()  # listens on the networks' gateways: the leader's alone
        for target, name in ((self._watch_docker, "docker-events"), (self._health_loop, "health")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._helpers.append(thread)
        waited = f', "stood_by_s": {time.monotonic() - self._stood_by_at:.1f}' if took_over else ""
        log.info(
            '{"event": "serve.started", "instance": "%s", "role": "leader"%s}',
            self.ctx.runtime.instance,
            waited,
        )

    def _take_proxy_over(self) -> None:
        assert self.proxy is not None
        try:
            self.proxy.start(keep_trying=True)
        except Exception as exc:  # e.g. its directory unwritable: say so, keep reconciling
            log.warning('{"event": "proxy.start.failed", "error": "%s"}', exc)

    @staticmethod
    def _start_proxy(proxy: ProxySupervisor | SwarmProxy) -> None:
        try:
            proxy.start()
        except (ProxyFailed, OSError) as exc:
            raise ServeFailed(f"cannot start the proxy on {proxy.http_address}: {exc}") from None

    def _prune_events(self) -> None:
        """Keep the events table bounded (hourly, after a full pass)."""
        if time.monotonic() - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = time.monotonic()
        try:
            dropped = self.ctx.store.prune_events(self.event_retention_days)
        except Exception as exc:
            log.warning('{"event": "events.prune.failed", "error": "%s"}', exc)
            return
        if dropped:
            log.info('{"event": "events.pruned", "count": %d}', dropped)

    def _collect(self, timeout: float | None) -> set[int] | None:
        """Wait for triggers; None when the timer fired. Coalesces a burst into one pass."""
        try:
            first = self.triggers.get(timeout=timeout)
        except queue.Empty:
            return None
        pods = {first}
        time.sleep(0.05)
        while True:
            try:
                pods.add(self.triggers.get_nowait())
            except queue.Empty:
                return pods

    # -- the leader session: the serve lock, and database NOTIFY while leading -------------

    def _hold_session(self) -> None:
        while not self._released.is_set():
            try:
                with LeaderSession(self.ctx.store.url) as session:
                    if self._wait_to_lead(session):
                        session.listen(WAKE_CHANNEL)
                        if self._helpers:  # led before, lost the session, leads again
                            log.info('{"event": "serve.leadership.regained"}')
                        self.leading.set()
                        self.decided.set()
                        self.triggers.put(FULL)
                        self._relay(session)
            except SessionLost as exc:
                self._session_error = f"cannot hold a database session: {exc}"
                if self.leading.is_set():
                    self.leading.clear()
                    log.warning('{"event": "serve.leadership.lost", "error": "%s"}', exc)
                log.warning('{"event": "db.disconnected", "error": "%s"}', exc)
                self._released.wait(2)

    def _wait_to_lead(self, session: LeaderSession) -> bool:
        """Take the serve lock, polling while another serve holds it; False once released."""
        announced = False
        while not self._released.is_set():
            if session.try_lead():
                return True
            if not announced:
                announced = True
                self._stood_by_at = self._stood_by_at or time.monotonic()
                leaders = [name for name, leads in self.ctx.store.serve_sessions() if leads]
                log.info(
                    '{"event": "serve.standby", "instance": "%s", "leader": "%s",'
                    ' "message": "standing by: another serve leads; taking over when it stops"}',
                    self.ctx.runtime.instance,
                    leaders[0] if leaders else "?",
                )
                self.decided.set()
            self._released.wait(STANDBY_POLL_S)
        return False

    def _relay(self, session: LeaderSession) -> None:
        """NOTIFY payloads (a pod id, or 0 for all) become triggers, until released."""
        while not self._released.is_set():
            for payload in session.notifies(timeout=1.0):
                pod = int(payload) if payload.isdigit() else 0
                self.triggers.put(pod if pod else FULL)

    # -- Docker events --------------------------------------------------------------------

    def _watch_docker(self) -> None:
        since: float | None = None
        subscribed = False
        while not self.stop.is_set():
            try:
                stream = self.ctx.runtime.events(since=since, actions=sorted(WATCHED))
                if subscribed:
                    self.hooks.reconnected()
                subscribed = True
                self.triggers.put(FULL)  # subscribed first, then relist: nothing is missed
                for ev in stream:
                    since = ev.get("time", since)
                    self._on_docker_event(ev)
                    if self.stop.is_set():
                        break
            except Exception as exc:
                log.warning('{"event": "docker.events.lost", "error": "%s"}', exc)
                self.stop.wait(2)

    def _on_docker_event(self, ev: dict) -> None:
        action = str(ev.get("Action") or ev.get("status") or "").split(":")[0]
        if action not in WATCHED:
            return
        attrs = (ev.get("Actor") or {}).get("Attributes") or {}
        cid = ev.get("id") or (ev.get("Actor") or {}).get("ID")
        reconciler = self.ctx.reconciler
        if attrs.get("agentpod.instance") == self.ctx.runtime.instance:
            pod_id = attrs.get("agentpod.pod-id")
        else:
            pod_id = str(reconciler.adopted.get(cid, ""))
        if cid in reconciler.expected_exits:
            if action == "destroy":
                reconciler.expected_exits.discard(cid)
            return
        if pod_id and pod_id.isdigit():
            # Docker's container list lags its events (~100 ms, seconds when the engine is
            # busy): look again a few times, a pass for one pod is cheap
            for delay in RECHECK_DELAYS:
                timer = threading.Timer(delay, self.triggers.put, (int(pod_id),))
                timer.daemon = True
                timer.start()

    # -- health ---------------------------------------------------------------------------

    def _health_loop(self) -> None:
        ctx = self.ctx
        checker = HealthChecker(
            ctx.store,
            ctx.runtime,
            restart=ctx.restart_pod,
            hooks=self.hooks,
            domain=ctx.settings.domain,
        )
        while not self.stop.wait(self.health_interval):
            if not self.leading.is_set():
                continue
            try:
                checker.check(ctx.store.list_pods(), stop=self.stop)
            except Exception as exc:
                log.warning('{"event": "health.failed", "error": "%s"}', exc)
