"""Health probes from the host to a pod's container address, or through the edge (a swarm's
Traefik, by the pod's Host) when the host cannot reach that address."""

from __future__ import annotations

import http.client
import socket

from agentpod.core.adapters.base import HealthCheck

EDGE_FAILURES = (502, 503, 504)  # Traefik's own answers when it cannot reach the pod


def probe_via(
    edge: tuple[str, int], host: str, check: HealthCheck, timeout: float = 3.0
) -> tuple[bool, str]:
    """One probe through the edge by Host header: the check's path for an HTTP check, ``/``
    for a TCP one (any answer but Traefik's 502/503/504 means the port is open)."""
    path = check.path if check.kind != "tcp" else "/"
    conn = http.client.HTTPConnection(*edge, timeout=timeout)
    try:
        headers = {"Host": host, "User-Agent": "agentpod-health", **check.headers}
        conn.request("GET", path, headers=headers)
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return False, f"edge GET {path}: {getattr(exc, 'strerror', None) or exc}"
    finally:
        conn.close()
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
    conn = http.client.HTTPConnection(ip, check.port, timeout=timeout)
    try:
        conn.request("GET", check.path, headers={"User-Agent": "agentpod-health", **check.headers})
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return False, f"GET {check.path}: {getattr(exc, 'strerror', None) or exc}"
    finally:
        conn.close()
    return 200 <= status < 400, f"GET {check.path} -> {status}"
