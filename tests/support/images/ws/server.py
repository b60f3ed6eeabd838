"""A stand-in for a WebSocket agent gateway (the ``websockets`` library, asyncio server).

Plain HTTP: ``/healthz`` and ``/readyz`` answer ok, anything else answers "<tenant>/<pod>".
WebSocket (any path): the first message is JSON with the request line and headers as the pod
saw them; every later message is echoed back unchanged.
"""

import asyncio
import json
import os
from http import HTTPStatus

from websockets.asyncio.server import serve

NAME = f"{os.environ.get('AGENTPOD_TENANT')}/{os.environ.get('AGENTPOD_POD')}"


def http(connection, request):
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return None
    body = "ok\n" if request.path in ("/healthz", "/readyz") else NAME + "\n"
    return connection.respond(HTTPStatus.OK, body)


async def session(ws):
    seen = {"path": ws.request.path, "headers": dict(ws.request.headers.raw_items())}
    await ws.send(json.dumps(seen))
    async for message in ws:
        await ws.send(message)


async def main():
    port = int(os.environ.get("PORT", "8080"))
    async with serve(session, "0.0.0.0", port, process_request=http, ping_interval=None):
        print(f"serving websockets on {port}", flush=True)
        await asyncio.Future()


asyncio.run(main())
