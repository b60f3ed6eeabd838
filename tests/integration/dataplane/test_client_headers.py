"""What a pod is told about its client: Traefik rebuilds X-Forwarded-For and X-Real-Ip from
the connection (no front proxy is trusted unless configured) and removes RFC 7239 Forwarded,
so that no client names itself, or another address, to a pod. And ``pod open``."""

from __future__ import annotations

import json
import socket
import stat

import docker
from websockets.sync.client import connect

from tests.conftest import Env
from tests.integration.dataplane.helpers import create_pod, new_tenant
from tests.support.proxied import Proxied, proxied_instance

SPOOFED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Real-Ip": "203.0.113.8",
    "Forwarded": "for=203.0.113.7;proto=https",
    "X-Forwarded-Host": "evil.example.com",
}


def headers_seen(proxied: Proxied, subdomain: str) -> dict[str, str]:
    """The request headers the pod got for a WebSocket from this machine sending SPOOFED."""
    sock = socket.create_connection(("127.0.0.1", proxied.port), timeout=10)
    uri = f"ws://{proxied.host(subdomain)}:{proxied.port}/"
    with connect(uri, sock=sock, additional_headers=SPOOFED, close_timeout=2) as ws:
        return json.loads(ws.recv(timeout=10))["headers"]


def test_clients_cannot_name_themselves_and_pod_open(
    proxied: Proxied, ws_test_image: str, tmp_path
) -> None:
    env = proxied.env
    ref = f"{new_tenant(env)}/hdr"
    pod = create_pod(env, ref, ws_test_image)
    proxied.wait_status(pod["subdomain"], 200)

    seen = headers_seen(proxied, pod["subdomain"])
    assert seen["X-Forwarded-For"] == "127.0.0.1"  # this machine, as Traefik saw it
    assert seen["X-Real-Ip"] == "127.0.0.1"
    assert seen["X-Forwarded-Host"] == f"{pod['subdomain']}.localhost:{proxied.port}"
    assert "Forwarded" not in seen

    printed = env.run("pod", "open", ref, "--no-open").stdout
    assert printed == pod["url"] + "/\n"  # a generic pod's UI: no token in it

    record = tmp_path / "browser.sh"  # a "browser" that writes down what it was asked to open
    record.write_text(f'#!/bin/sh\nprintf %s "$1" > {tmp_path}/opened\n')
    record.chmod(record.stat().st_mode | stat.S_IXUSR)
    with_display = Env(env.home, {**env.env, "DISPLAY": ":99", "BROWSER": str(record)})
    out = with_display.json("pod", "open", ref)
    assert out == {"pod": ref, "url": pod["url"] + "/", "opened": True}
    assert (tmp_path / "opened").read_text() == pod["url"] + "/"

    no_display = {k: v for k, v in env.env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    headless = Env(env.home, no_display).run("pod", "open", ref)  # nothing is started
    assert headless.stdout == pod["url"] + "/\n" and "no browser here" in headless.stderr
    env.run("pod", "delete", ref, "--yes")


def test_a_configured_front_proxy_names_the_client(
    docker_client: docker.DockerClient, ws_test_image: str
) -> None:
    """``trusted_front_proxies``: their X-Forwarded-For chain is kept (and only theirs)."""
    with proxied_instance(docker_client, AGENTPOD_TRUSTED_FRONT_PROXIES="127.0.0.1") as px:
        pod = create_pod(px.env, f"{new_tenant(px.env)}/front", ws_test_image)
        px.wait_status(pod["subdomain"], 200)
        seen = headers_seen(px, pod["subdomain"])
    assert seen["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"  # the proxy's client, then it
    assert "Forwarded" not in seen  # RFC 7239 is removed whoever sends it
