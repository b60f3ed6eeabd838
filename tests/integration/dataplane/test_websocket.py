"""A WebSocket through Traefik stays open, losing nothing, while other pods come and go."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.sync.client import connect

from tests.integration.dataplane.helpers import create_pod, new_tenant
from tests.support.proxied import Proxied


def open_ws(proxied: Proxied, subdomain: str, origin: str):
    """Connect to 127.0.0.1:<proxy port> while asking for http://<subdomain>.localhost:<port>."""
    sock = socket.create_connection(("127.0.0.1", proxied.port), timeout=10)
    uri = f"ws://{proxied.host(subdomain)}:{proxied.port}/gateway?x=1"
    return connect(uri, sock=sock, origin=origin, ping_interval=None, close_timeout=2)


class Pump(threading.Thread):
    """Sends a numbered message every 20 ms and checks each echo comes back, in order."""

    def __init__(self, ws) -> None:
        super().__init__(daemon=True)
        self.ws, self.sent, self.received = ws, 0, 0
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.ws.send(f"msg-{self.sent}")
                self.sent += 1
                echo = self.ws.recv(timeout=10)
                assert echo == f"msg-{self.received}", echo
                self.received += 1
                time.sleep(0.02)
        except BaseException as exc:
            self.error = exc


@pytest.mark.slow
def test_websocket_survives_other_pods_churn(
    proxied: Proxied, ws_test_image: str, test_image: str
) -> None:
    env = proxied.env
    tenant, other = new_tenant(env), new_tenant(env)
    ref, sub = f"{tenant}/gw", f"{tenant}-gw"
    create_pod(env, ref, ws_test_image)
    proxied.wait_status(sub, 200)
    origin = f"http://{proxied.host(sub)}:{proxied.port}"

    with open_ws(proxied, sub, origin) as ws:
        seen = json.loads(ws.recv(timeout=10))
        sent_headers = dict(ws.request.headers.raw_items())
        got = seen["headers"]
        assert seen["path"] == "/gateway?x=1"
        for name in ("Host", "Origin", "Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Version"):
            assert got[name] == sent_headers[name], name
        assert got["Host"] == f"{sub}.localhost:{proxied.port}"
        assert got["Origin"] == origin
        assert "upgrade" in got["Connection"].lower()

        pump = Pump(ws)
        pump.start()
        refs = [f"{tenant if i % 2 else other}/churn{i}" for i in range(10)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda r: create_pod(env, r, test_image, "--no-wait"), refs))
            for r in refs:
                proxied.wait_status(r.replace("/", "-"), 200, timeout=60)
            list(pool.map(lambda r: env.run("pod", "delete", r, "--yes"), refs))
        for r in refs:
            proxied.wait_status(r.replace("/", "-"), 404)
        time.sleep(1)  # and a little longer after the last route change
        pump.stop.set()
        pump.join(15)

        assert pump.error is None, f"websocket broke after {pump.received} messages: {pump.error!r}"
        assert ws.close_code is None
        assert pump.received == pump.sent and pump.received > 100
        ws.send("last")
        assert ws.recv(timeout=5) == "last"
    env.run("pod", "delete", ref, "--yes")
