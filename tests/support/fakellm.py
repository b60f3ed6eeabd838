"""A fake LLM provider on the host: OpenAI chat completions and Anthropic messages, streaming
(SSE, with a pause between events) and not, recording every request it got (headers too).

Usage in the answers is fixed per request so tests can check what the gateway metered:
OpenAI ``prompt_tokens`` = 11, ``completion_tokens`` = 7; Anthropic ``input_tokens`` = 13,
``output_tokens`` = 5 (streamed: 1 in ``message_start``, 5 in ``message_delta``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

OPENAI_USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
ANTHROPIC_IN, ANTHROPIC_OUT = 13, 5
ANSWER = "hello from the fake provider"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeProvider:
    gap_s: float = 0.25  # between streamed events
    events: int = 5
    host: str = "127.0.0.1"
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)  # whole non-streamed bodies, as sent
    streams: list[str] = field(default_factory=list)  # how each stream ended: done | aborted
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeProvider:
        if not self.port:
            with socket.socket() as s:
                s.bind((self.host, 0))
                self.port = s.getsockname()[1]
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        assert ready.wait(10), "the fake provider did not start"
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, self.port)
        self._loop.run_until_complete(site.start())
        ready.set()
        self._loop.run_forever()

    async def _record(self, request: web.Request) -> dict[str, Any]:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        return json.loads(body or b"{}")

    def _json(self, doc: dict[str, Any], status: int = 200) -> web.Response:
        body = json.dumps(doc).encode()
        self.sent.append(body)
        return web.Response(status=status, body=body, content_type="application/json")

    async def _models(self, request: web.Request) -> web.Response:
        await self._record(request)
        return self._json({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        doc = await self._record(request)
        model = doc.get("model", "fake-model")
        if model == "fail":
            error = {"message": "model fail does not exist", "type": "invalid_request_error"}
            return self._json({"error": {**error, "param": None, "code": "model_not_found"}}, 404)
        if not doc.get("stream"):
            message = {"role": "assistant", "content": ANSWER}
            return self._json(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": OPENAI_USAGE,
                }
            )
        with_usage = bool((doc.get("stream_options") or {}).get("include_usage"))
        events = [
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [{"index": 0, "delta": {"content": f"part{i} "}}],
            }
            for i in range(self.events)
        ]
        if with_usage:
            events.append(
                {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [],
                    "usage": OPENAI_USAGE,
                }
            )
        return await self._stream(
            request, [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
        )

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        doc = await self._record(request)
        model = doc.get("model", "claude-fake")
        if not doc.get("stream"):
            return self._json(
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": ANSWER}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": ANTHROPIC_IN, "output_tokens": ANTHROPIC_OUT},
                }
            )
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "usage": {"input_tokens": ANTHROPIC_IN, "output_tokens": 1},
            },
        }
        deltas = [
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": f"part{i} "},
            }
            for i in range(self.events)
        ]
        end = {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": ANTHROPIC_OUT},
        }
        chunks = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in [start, *deltas, end]]
        return await self._stream(
            request, [*chunks, 'event: message_stop\ndata: {"type": "message_stop"}\n\n']
        )

    async def _stream(self, request: web.Request, chunks: list[str]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for i, chunk in enumerate(chunks):
                if i:
                    await asyncio.sleep(self.gap_s)
                await response.write(chunk.encode())
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            self.streams.append("aborted")  # the client (the gateway) hung up
            raise
        self.streams.append("done")
        return response
