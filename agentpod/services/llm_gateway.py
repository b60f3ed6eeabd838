"""The LLM gateway: an asyncio HTTP proxy (aiohttp) in the daemon, on each of our networks'
gateway addresses, so pods reach it and nothing outside the host does.

A request ``/{provider}/{path}`` is let through when its virtual key is a live pod's and comes
from that pod's own container address; the real key is swapped in and the request goes to the
provider's base URL + path. Bodies pass byte for byte, responses stream as they arrive (SSE
included: no buffering, no re-encoding), status and errors are the provider's own. Usage is
read on the side and written in batches by a background task, never on the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from agentpod.core.llm import (
    Budget,
    Limiter,
    Price,
    ProviderKind,
    Refusal,
    UsageMeter,
    error_body,
    kind_of_request,
    parse_virtual_key,
    presented_key,
    request_model,
)
from agentpod.core.models import DesiredStatus
from agentpod.services.docker_runtime import DockerRuntime
from agentpod.services.llm_store import LlmStore, Upstream, UsageRow
from agentpod.services.store import NotFound, Store

log = logging.getLogger("agentpod.llm")
T = TypeVar("T")

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
CREDENTIALS = {"authorization", "x-api-key"}
AUTH_TTL_S = 2.0  # a rotated token or a deleted pod is refused within this
REFRESH_S = 1.0  # providers, budgets, prices; rotation takes effect within this
SPEND_REFRESH_S = 5.0
ADDRESS_RECHECK_S = 0.25
FLUSH_S = 0.5
MAX_BODY = 64 << 20
MAX_CACHED = 10_000
DOCKER_REFRESH_S = 10.0  # networks and addresses; serve also wakes us after each reconcile
STOP_S = 3.0  # streams still open when serve stops are cut after this


@dataclass(frozen=True)
class PodAuth:
    pod_id: int
    tenant: str
    name: str
    key: str

    @property
    def ref(self) -> str:
        return f"{self.tenant}/{self.name}"


class Gateway:
    def __init__(self, store: Store, runtime: DockerRuntime, port: int, bind: tuple[str, ...] = ()):
        self.llm = LlmStore(store)
        self.store = store
        self.runtime = runtime
        self.port = port
        self.fixed_bind = bind  # tests and benchmarks: listen here instead of the networks
        self.clock: Callable[[], float] = time.time
        self.limiter = Limiter()
        self.upstreams: dict[tuple[str, str], Upstream] = {}
        self.budgets: dict[str, Budget] = {}
        self.prices: dict[str, Price] = {}
        self.spend: dict[str, tuple[float, float]] = {}
        self.addresses: dict[int, str] = {}
        self._pods: dict[int, tuple[float, PodAuth | None]] = {}
        self._loading: dict[int, asyncio.Future[PodAuth | None]] = {}
        self._addresses_at = 0.0
        self._spend_at = 0.0
        self._pending: list[UsageRow] = []
        self._warned: dict[tuple[str, str], float] = {}
        self._sites: dict[str, web.TCPSite] = {}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task] = []
        self._wake = asyncio.Event()

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            auto_decompress=False,  # bytes pass as the provider sent them
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=None),
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{provider}/{path:.*}", self.handle)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=STOP_S
        )
        await self._runner.setup()
        await self.refresh()
        self._tasks = [
            asyncio.create_task(self._refresh_loop()),
            asyncio.create_task(self._flush_loop()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):  # the database may be away: usage is best effort
            await asyncio.wait_for(self._flush(), STOP_S)
        if self._runner:
            await self._runner.cleanup()
        if self._session:
            await self._session.close()

    def wake(self) -> None:
        """Look at networks, pods and providers now (after a reconcile pass)."""
        self._wake.set()

    async def _refresh_loop(self) -> None:
        docker_at = time.monotonic()
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), REFRESH_S)
            woken = self._wake.is_set()
            self._wake.clear()
            with_docker = woken or time.monotonic() - docker_at > DOCKER_REFRESH_S
            docker_at = time.monotonic() if with_docker else docker_at
            try:
                await self.refresh(with_docker)
            except Exception as exc:  # the database or Docker away for a moment
                log.warning('{"event": "llm.refresh.failed", "error": "%s"}', exc)

    async def refresh(self, with_docker: bool = True) -> None:
        """Providers, budgets, prices (every second: a rotated key applies at once); with
        Docker: our networks' gateway addresses to listen on and the pods' addresses."""
        self.upstreams = await blocking(self.llm.upstreams)
        budgets = await blocking(self.llm.budgets)
        self.budgets = {_scope(t, b.pod): b for t, b in budgets}
        self.prices = await blocking(self.llm.prices)
        if time.monotonic() - self._spend_at > SPEND_REFRESH_S:
            self._spend_at = time.monotonic()
            self.spend = await blocking(self.llm.spend)
        if with_docker:
            await self._refresh_addresses()
            await self._bind()

    async def _bind(self) -> None:
        """Listen on every network's gateway address (the host's side of the bridge)."""
        assert self._runner is not None
        if self.fixed_bind:
            wanted = set(self.fixed_bind)
        else:
            wanted = {g for g in (await blocking(self.runtime.list_networks)).values() if g}
        for host in wanted - set(self._sites):
            site = web.TCPSite(self._runner, host, self.port, reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                log.warning(
                    '{"event": "llm.bind.failed", "address": "%s:%d", "error": "%s"}',
                    host,
                    self.port,
                    exc,
                )
                continue
            self._sites[host] = site
            log.info('{"event": "llm.listening", "address": "%s:%d"}', host, self.port)
        for host in set(self._sites) - wanted:
            await self._sites.pop(host).stop()

    async def _refresh_addresses(self) -> None:
        self._addresses_at = time.monotonic()
        actual = await blocking(self.runtime.list_pods)
        self.addresses = {
            a.pod_id: a.ip
            for a in actual
            if a.pod_id and a.ip and a.state == "running" and not a.holder
        }

    # -- one request ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        headers = {k.lower(): v for k, v in request.headers.items()}
        shape = kind_of_request(headers)
        pod, refused = await self._authorize(request, headers, shape)
        if pod is None:
            return refused or _error(shape, 401, "invalid AgentPod virtual key")
        provider = request.match_info["provider"]
        upstream = self.upstreams.get((pod.tenant, provider))
        if upstream is None:
            message = f"tenant {pod.tenant} has no LLM provider {provider!r}"
            return _error(shape, 404, message)
        refusal = self._admit(pod)
        if refusal:
            return self._refuse(upstream.kind, pod, refusal)
        body = await request.read()
        return await self._forward(request, pod, provider, upstream, body, started)

    async def _authorize(
        self, request: web.Request, headers: dict[str, str], shape: ProviderKind
    ) -> tuple[PodAuth | None, web.Response | None]:
        key = presented_key(headers) or ""
        parsed = parse_virtual_key(key)
        pod = await self._pod(parsed[0]) if parsed else None
        if pod is None or not hmac.compare_digest(pod.key, key):
            log.info('{"event": "llm.refused", "reason": "bad key", "from": "%s"}', request.remote)
            return None, _error(shape, 401, "invalid AgentPod virtual key")
        if not await self._from_pod(pod, request.remote or ""):
            log.info(
                '{"event": "llm.refused", "reason": "wrong address", "pod": "%s", "from": "%s"}',
                pod.ref,
                request.remote,
            )
            message = f"this virtual key is pod {pod.ref}'s and only works from that pod"
            return None, _error(shape, 403, message)
        return pod, None

    async def _pod(self, pod_id: int) -> PodAuth | None:
        """The pod behind a key, from a short cache; one load at a time per pod."""
        cached = self._pods.get(pod_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        loading = self._loading.get(pod_id)
        if loading is None:
            loading = asyncio.ensure_future(blocking(self._load_pod, pod_id))
            self._loading[pod_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(pod_id, None))
        auth = await asyncio.shield(loading)
        if len(self._pods) > MAX_CACHED:  # made-up pod ids must not grow it forever
            self._pods.clear()
        self._pods[pod_id] = (time.monotonic() + AUTH_TTL_S, auth)
        return auth

    def _load_pod(self, pod_id: int) -> PodAuth | None:
        try:
            pod = self.store.get_pod_by_id(pod_id)
        except NotFound:
            return None
        if pod.desired_status is DesiredStatus.DELETED:
            return None
        return PodAuth(pod.id, pod.tenant, pod.name, self.llm.virtual_key(pod))

    async def _from_pod(self, pod: PodAuth, peer: str) -> bool:
        if self.addresses.get(pod.pod_id) == peer:
            return True
        if time.monotonic() - self._addresses_at > ADDRESS_RECHECK_S:  # recreated: a new IP
            await self._refresh_addresses()
        return self.addresses.get(pod.pod_id) == peer

    def _admit(self, pod: PodAuth) -> Refusal | None:
        scopes = [
            (scope, budget)
            for scope in (_scope(pod.tenant, ""), _scope(pod.tenant, pod.name))
            if (budget := self.budgets.get(scope))
        ]
        return self.limiter.admit(scopes, self.clock(), self.spend) if scopes else None

    def _refuse(self, kind: ProviderKind, pod: PodAuth, refusal: Refusal) -> web.Response:
        reset = datetime.fromtimestamp(self.clock() + refusal.reset_s, UTC)
        body = error_body(
            kind,
            429,
            refusal.message(),
            limit=refusal.limit,
            scope=refusal.scope,
            reset_at=reset.isoformat(timespec="seconds"),
            reset_seconds=round(refusal.reset_s, 1),
        )
        retry = str(max(1, round(refusal.reset_s)))
        headers = {"Retry-After": retry, "Content-Type": "application/json"}
        if refusal.limit == "requests_per_minute":
            headers["x-ratelimit-limit-requests"] = f"{refusal.value:g}"
            headers["x-ratelimit-remaining-requests"] = "0"
            headers["x-ratelimit-reset-requests"] = f"{refusal.reset_s:.0f}s"
        self._warn_once(pod, refusal)
        return web.Response(status=429, body=body, headers=headers)

    def _warn_once(self, pod: PodAuth, refusal: Refusal) -> None:
        """One event per limit and scope a minute, written off the request path."""
        key = (refusal.scope, refusal.limit)
        now = time.monotonic()
        if now - self._warned.get(key, -1e9) < 60:
            return
        self._warned[key] = now
        task = asyncio.create_task(
            blocking(
                self.llm.event,
                "llm.budget.exceeded",
                refusal.message(),
                pod.tenant,
                pod.name,
                pod.pod_id,
            )
        )
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def _forward(
        self,
        request: web.Request,
        pod: PodAuth,
        provider: str,
        upstream: Upstream,
        body: bytes,
        started: float,
    ) -> web.StreamResponse:
        assert self._session is not None
        rest = request.raw_path[len(provider) + 2 :]  # what follows /{provider}/, as sent
        url = URL(f"{upstream.base_url}/{rest}", encoded=True)
        headers = _upstream_headers(request.headers, upstream)
        try:
            async with self._session.request(
                request.method,
                url,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            ) as answer:
                return await self._relay(request, pod, provider, upstream, answer, body, started)
        except aiohttp.ClientConnectionError as exc:
            if getattr(request.transport, "is_closing", lambda: True)():
                raise  # the pod hung up; nothing to answer
            message = f"cannot reach provider {provider}: {type(exc).__name__}"
            self._record(pod, provider, request_model(body)[0], 502, None, started, None)
            return _error(upstream.kind, 502, message)

    async def _relay(
        self,
        request: web.Request,
        pod: PodAuth,
        provider: str,
        upstream: Upstream,
        answer: aiohttp.ClientResponse,
        body: bytes,
        started: float,
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=answer.status, reason=answer.reason)
        for name, value in answer.headers.items():
            if name.lower() not in HOP_BY_HOP - {"content-length"}:
                response.headers.add(name, value)
        streaming = "text/event-stream" in answer.headers.get("Content-Type", "")
        meter = UsageMeter(upstream.kind, streaming, answer.headers.get("Content-Encoding", ""))
        await response.prepare(request)
        first: float | None = None
        try:
            async for chunk in answer.content.iter_any():
                if first is None:
                    first = time.monotonic()
                meter.feed(chunk)
                await response.write(chunk)
            await response.write_eof()
        except aiohttp.ClientError as exc:  # the provider went away mid-answer
            log.info('{"event": "llm.upstream.lost", "pod": "%s", "error": "%s"}', pod.ref, exc)
            response.force_close()  # the pod sees the answer cut short, as it was
        finally:  # also when the pod hung up: what was streamed until then is counted
            usage = meter.finish()
            # the request's body is parsed only when the answer names no model (rarely): a
            # long conversation's JSON is not decoded on every request
            usage.model = usage.model or request_model(body)[0]
            self._record(pod, provider, usage.model, answer.status, usage, started, first)
        return response

    def _record(
        self,
        pod: PodAuth,
        provider: str,
        model: str,
        status: int,
        usage: Any,
        started: float,
        first: float | None,
    ) -> None:
        now = time.monotonic()
        inp, out = (usage.input_tokens, usage.output_tokens) if usage else (0, 0)
        price = self.prices.get(model)
        self.limiter.used_tokens(
            [_scope(pod.tenant, ""), _scope(pod.tenant, pod.name)], self.clock(), inp + out
        )
        self._pending.append(
            UsageRow(
                at=datetime.now(UTC),
                tenant=pod.tenant,
                pod=pod.name,
                pod_id=pod.pod_id,
                provider=provider,
                model=model,
                status=status,
                input_tokens=inp,
                output_tokens=out,
                cached_tokens=usage.cached_tokens if usage else 0,
                latency_ms=round((now - started) * 1000, 2),
                ttft_ms=round((first - started) * 1000, 2) if first else None,
                cost_usd=price.cost(inp, out) if price else 0.0,
            )
        )

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            try:
                await self._flush()
            except Exception as exc:
                log.warning('{"event": "llm.usage.flush.failed", "error": "%s"}', exc)

    async def _flush(self) -> None:
        rows, self._pending = self._pending, []
        if rows:
            await blocking(self.llm.record_usage, rows)


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a daemon thread: a database or Docker call stuck while either is away
    never holds ``serve`` back from exiting (asyncio.to_thread's pool is joined at exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not future.done():
            future.set_result(value) if ok else future.set_exception(value)

    def run() -> None:
        try:
            result, ok = fn(*args), True
        except BaseException as exc:
            result, ok = exc, False
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, ok, result)

    threading.Thread(target=run, name="llm-io", daemon=True).start()
    return await future


def _scope(tenant: str, pod: str) -> str:
    return f"pod {tenant}/{pod}" if pod else f"tenant {tenant}"


def _upstream_headers(incoming: Any, upstream: Upstream) -> CIMultiDict[str]:
    """The pod's headers minus hop-by-hop ones and its virtual key, plus the real key."""
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        if name.lower() not in HOP_BY_HOP | CREDENTIALS:
            out.add(name, value)
    if upstream.kind is ProviderKind.ANTHROPIC:
        out["x-api-key"] = upstream.key
    else:
        out["Authorization"] = f"Bearer {upstream.key}"
    return out


def _error(kind: ProviderKind, status: int, message: str) -> web.Response:
    return web.Response(
        status=status, body=error_body(kind, status, message), content_type="application/json"
    )


class GatewayThread:
    """The gateway on its own event loop in a thread of ``agentpod serve``."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="llm-gateway", daemon=True)
        self._ready = threading.Event()
        self._done: asyncio.Event | None = None
        self._error: BaseException | None = None

    def start(self, timeout: float = 30) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the LLM gateway did not start")
        if self._error:
            raise RuntimeError(f"the LLM gateway did not start: {self._error}")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._done = asyncio.Event()
        try:
            await self.gateway.start()
        except Exception as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._done.wait()
        await self.gateway.stop()

    def wake(self) -> None:
        if self._ready.is_set() and not self._error:
            self.loop.call_soon_threadsafe(self.gateway.wake)

    def stop(self) -> None:
        if self._done is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._done.set)
        # bounded: the thread is a daemon, and serve must exit promptly on SIGTERM whatever
        # the gateway still waits for (seen: its shutdown hanging with 50 pods' addresses bound)
        self._thread.join(timeout=2 * STOP_S + 1)
