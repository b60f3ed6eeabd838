"""``agentpod serve``: the control loop. Triggers: a timer, Docker events, database NOTIFY."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg

from agentpod.control.context import Context
from agentpod.control.health import HealthChecker
from agentpod.services.store import SERVE_LOCK, WAKE_CHANNEL

if TYPE_CHECKING:
    from agentpod.services.llm_gateway import GatewayThread

log = logging.getLogger("agentpod.serve")

FULL = -1  # a trigger meaning: reconcile every pod
WATCHED = {"die", "oom", "destroy", "health_status"}
RECHECK_DELAYS = (0.0, 0.3, 1.0)
PRUNE_EVERY_S = 3600.0


class AlreadyServing(RuntimeError):
    pass


@dataclass
class Controller:
    ctx: Context
    interval: float = 30.0
    health_interval: float = 15.0
    event_retention_days: float = 30.0
    _pruned_at: float = -PRUNE_EVERY_S
    stop: threading.Event = field(default_factory=threading.Event)
    triggers: queue.Queue[int] = field(default_factory=queue.Queue)
    listening: threading.Event = field(default_factory=threading.Event)
    gateway: GatewayThread | None = None

    def run(self) -> None:
        """Run until ``stop`` is set; the action in flight is finished before returning."""
        ctx = self.ctx
        ctx.store.migrate()
        ctx.reconciler.watch_adopted(ctx.store.list_pods())
        threads = [
            threading.Thread(target=self._listen_db, name="db-listen", daemon=True),
            threading.Thread(target=self._watch_docker, name="docker-events", daemon=True),
            threading.Thread(target=self._health_loop, name="health", daemon=True),
        ]
        for t in threads:
            t.start()
        if not self.listening.wait(15) or self._listen_error:
            self.stop.set()
            raise AlreadyServing(self._listen_error or "cannot listen on the database")
        gateway = self._start_gateway()  # only the serve holding the serve lock gets here
        log.info('{"event": "serve.started", "instance": "%s"}', ctx.runtime.instance)
        try:
            self._loop()
        finally:
            gateway.stop()
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
        ctx = self.ctx
        next_full = 0.0
        while not self.stop.is_set():
            timeout = max(0.0, next_full - time.monotonic())
            pods = self._collect(timeout)
            if self.stop.is_set():
                break
            full = pods is None or FULL in pods
            try:
                ctx.reconciler.run_once(only=None if full else pods)
            except Exception as exc:  # Docker or PostgreSQL briefly away: keep going
                log.warning('{"event": "reconcile.failed", "error": "%s"}', exc)
                time.sleep(1)
            if self.gateway:
                self.gateway.wake()  # new networks and pod addresses, at once
            if full:
                next_full = time.monotonic() + self.interval
                self._prune_events()

    _listen_error: str | None = None

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

    def _collect(self, timeout: float) -> set[int] | None:
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

    # -- database NOTIFY, and the serve lock that tells the CLI we are here ----------------

    def _listen_db(self) -> None:
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.ctx.store.url, autocommit=True) as conn:
                    got = conn.execute("SELECT pg_try_advisory_lock(%s)", (SERVE_LOCK,))
                    row = got.fetchone()
                    if not (row and row[0]):
                        self._listen_error = "another 'agentpod serve' is already running"
                        self.listening.set()
                        return
                    conn.execute(f"LISTEN {WAKE_CHANNEL}")
                    self.listening.set()
                    self.triggers.put(FULL)
                    while not self.stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            pod = int(note.payload) if note.payload.isdigit() else 0
                            self.triggers.put(pod if pod else FULL)
            except psycopg.Error as exc:
                log.warning('{"event": "db.disconnected", "error": "%s"}', str(exc).strip())
                self.stop.wait(2)

    # -- Docker events --------------------------------------------------------------------

    def _watch_docker(self) -> None:
        since: float | None = None
        while not self.stop.is_set():
            try:
                stream = self.ctx.runtime.events(since=since, actions=sorted(WATCHED))
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
            # Docker's container list lags its events by ~100 ms: look again shortly after
            for delay in RECHECK_DELAYS:
                timer = threading.Timer(delay, self.triggers.put, (int(pod_id),))
                timer.daemon = True
                timer.start()

    # -- health ---------------------------------------------------------------------------

    def _health_loop(self) -> None:
        ctx = self.ctx
        checker = HealthChecker(ctx.store, ctx.runtime, restart=ctx.restart_pod)
        while not self.stop.wait(self.health_interval):
            try:
                checker.check(ctx.store.list_pods())
            except Exception as exc:
                log.warning('{"event": "health.failed", "error": "%s"}', exc)
