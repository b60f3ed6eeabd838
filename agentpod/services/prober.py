"""Health probes from the host to a pod's container address."""

from __future__ import annotations

import http.client
import socket

from agentpod.core.adapters.base import HealthCheck


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
