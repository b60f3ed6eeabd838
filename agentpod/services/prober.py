"""Health probes from the host to a pod's container address, or through the edge (a swarm's
Traefik, by the pod's Host) when the host cannot reach that address."""

from __future__ import annotations

import http.client
import socket

from agentpod.core.adapters.base import HealthCheck

EDGE_FAILURES = (502, 503, 504)  # Traefik's own answers when it cannot reach the pod


def get_status(
    host: str, port: int, path: str, headers: dict[str, str], timeout: float = 3.0
) -> int | str:
    """``GET path`` once: its status, or (a string) why there is none."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "agentpod-health", **headers})
        return conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return str(getattr(exc, "strerror", None) or exc)
    finally:
        conn.close()


def probe_via(
    edge: tuple[str, int], host: str, check: HealthCheck, timeout: float = 3.0
) -> tuple[bool, str]:
    """One probe through the edge by Host header: the check's path for an HTTP check, ``/``
    for a TCP one (any answer but Traefik's 502/503/504 means the port is open)."""
    path = check.path if check.kind != "tcp" else "/"
    status = get_status(*edge, path, {**check.headers, "Host": host}, timeout)
    if isinstance(status, str):
        return False, f"edge GET {path}: {status}"
    if check.kind == "tcp":
        return status not in EDGE_FAILURES, f"edge GET / -> {status}"
    return 200 <= status < 400, f"edge GET {path} -> {status}"


def probe(ip: str, check: HealthCheck, timeout: float = 3.0) -> tuple[bool, str]:
    """(ok, message) for one probe of the adapter's check against the container's IP."""
    if check.kind == "tcp":
        try:
            with socket.create_connection((ip, check.port), timeout=timeout):
                return True, f"tcp {check.port} open"
        except OSError as exc:
            return False, f"tcp {check.port}: {exc.strerror or exc}"
    status = get_status(ip, check.port, check.path, check.headers, timeout)
    if isinstance(status, str):
        return False, f"GET {check.path}: {status}"
    return 200 <= status < 400, f"GET {check.path} -> {status}"
