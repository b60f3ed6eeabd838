"""``agentpod serve`` serves the HTTP API on its own thread: on ``--api-listen``, from a
standby too (which waits for the address while the leader holds it)."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import httpx

from tests.conftest import Env
from tests.support.proc import serving, wait_until


def _listening(log: Path, after: int = 0) -> str | None:
    found = re.findall(r'"api.listening", "address": "([^"]+)"', log.read_text())
    return found[after] if len(found) > after else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _health(address: str) -> dict:
    response = httpx.get(f"http://{address}/api/v1/health", timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_serve_answers_health_on_api_listen(agentpod_env: Env) -> None:
    with serving(agentpod_env.env, "--api-listen", "127.0.0.1:0") as (proc, log):
        address = wait_until(lambda: _listening(log))
        body = _health(address)
        assert body["status"] == "ok"
        assert body["leader"].startswith(f"pid {proc.pid} ")
        missing = httpx.get(f"http://{address}/api/v1/no-such-thing", timeout=5)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["status"] == 404
        assert httpx.get(f"http://{address}/api/v1/openapi.json").json()["openapi"] == "3.1.0"


def test_a_standby_serves_the_api_once_the_leader_frees_the_address(agentpod_env: Env) -> None:
    address = f"127.0.0.1:{_free_port()}"
    env = {**agentpod_env.env, "AGENTPOD_API_LISTEN": address}
    with serving(env) as (leader, leader_log):
        wait_until(lambda: _listening(leader_log))
        with serving(env, until="api.listen.waiting") as (standby, standby_log):
            assert _health(address)["leader"].startswith(f"pid {leader.pid} ")
            leader.send_signal(signal.SIGTERM)
            leader.wait(30)
            wait_until(lambda: _listening(standby_log))
            body = wait_until(lambda: _health(address)["leader"], 10)
            assert body.startswith(f"pid {standby.pid} ")


def test_a_bad_api_listen_is_one_line_and_exit_2(agentpod_env: Env) -> None:
    proc = agentpod_env.run("serve", "--api-listen", "localhost", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: api_listen 'localhost': expected ADDRESS:PORT, e.g. 127.0.0.1:8787"
    ]


def test_serve_with_proxy_routes_the_console_host_to_the_api(agentpod_env: Env) -> None:
    proxy, api = _free_port(), _free_port()
    args = ("--with-proxy", "--proxy-http-port", str(proxy), "--api-listen", f"127.0.0.1:{api}")
    with serving(agentpod_env.env, *args, until="proxy.started"):
        url = f"http://127.0.0.1:{proxy}/api/v1/health"

        def through_traefik() -> httpx.Response | None:
            response = httpx.get(url, headers={"Host": "console.localhost"}, timeout=5)
            return response if response.status_code == 200 else None

        assert wait_until(through_traefik, 10).json()["status"] == "ok"
        other = httpx.get(url, headers={"Host": "other.localhost"}, timeout=5)
        assert other.status_code == 404  # only the console host reaches the API
