"""``agentpod doctor`` checks for a machine set up by ``agentpod install``: the systemd units,
Traefik's ping and ports, the Docker socket's permissions, wildcard DNS (a warning only).

They apply when the install's answers file exists; the socket check applies everywhere.
"""

from __future__ import annotations

import grp
import os
import shutil
import socket
import subprocess
import tomllib
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from agentpod.control.doctor import Check
from agentpod.control.proxy import tls_for
from agentpod.settings import Settings

ANSWERS_FILE = Path("/etc/agentpod/install.toml")
UNITS = ("agentpod-db.service", "agentpod-traefik.service", "agentpod.service")
SERVICE_USER = "agentpod"
PING_PORT = 8082
DOCKER_SOCKET = Path("/var/run/docker.sock")


def installed_answers(path: Path = ANSWERS_FILE) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def unit_check(unit: str) -> Check:
    if not shutil.which("systemctl"):
        return Check(unit, False, "systemctl not found", "agentpod install (needs systemd)")
    state = subprocess.run(
        ["systemctl", "is-active", unit], capture_output=True, text=True, timeout=10
    ).stdout.strip()
    enabled = subprocess.run(
        ["systemctl", "is-enabled", unit], capture_output=True, text=True, timeout=10
    ).stdout.strip()
    ok = state == "active" and enabled == "enabled"
    return Check(
        unit,
        ok,
        f"{state or 'unknown'}, {enabled or 'unknown'}",
        None if ok else f"systemctl enable --now {unit}; journalctl -u {unit} -n 50",
    )


def traefik_ping(port: int = PING_PORT) -> Check:
    url = f"http://127.0.0.1:{port}/ping"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            body = resp.read().decode(errors="replace").strip()
            ok = resp.status == 200 and body == "OK"
    except OSError as exc:
        return Check(
            "traefik",
            False,
            f"{url}: {getattr(exc, 'reason', exc)}",
            "systemctl restart agentpod-traefik; journalctl -u agentpod-traefik -n 50",
        )
    return Check(
        "traefik",
        ok,
        f"ping {url}: {body[:40]}",
        None if ok else "journalctl -u agentpod-traefik -n 50",
    )


def _listeners(port: int) -> list[str]:
    """Names of the processes listening on TCP ``port`` ("?" where we may not see the owner)."""
    import psutil

    names = []
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            try:
                names.append(psutil.Process(conn.pid).name() if conn.pid else "?")
            except psutil.Error:
                names.append("?")
    return names


def port_check(port: int) -> Check:
    try:
        owners = sorted(set(_listeners(port)))
    except Exception as exc:  # psutil needs /proc; report, do not crash the doctor
        return Check(f"port {port}", False, f"cannot list listeners: {exc}", None, warning=True)
    if not owners:
        return Check(f"port {port}", False, "nothing listens", "systemctl restart agentpod-traefik")
    ok = owners == ["traefik"]
    return Check(
        f"port {port}",
        ok,
        f"owned by {', '.join(owners)}",
        None
        if ok
        else f"stop what else listens on {port} (ss -ltnp 'sport = :{port}'),"
        " then systemctl restart agentpod-traefik",
    )


def docker_socket_check(service_user: str | None) -> Check:
    path = DOCKER_SOCKET
    if not path.exists():
        return Check(
            "docker socket", False, f"{path} missing", "systemctl start docker (or: dockerd &)"
        )
    st = path.stat()
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    detail = f"{path} {oct(st.st_mode & 0o777)} group {group}"
    if not os.access(path, os.R_OK | os.W_OK):
        return Check(
            "docker socket",
            False,
            f"{detail}; this user cannot use it",
            "sudo usermod -aG docker $USER (then log in again), or run as root",
        )
    if service_user:
        try:
            members = grp.getgrnam(group).gr_mem
        except KeyError:
            members = []
        if service_user not in members:
            return Check(
                "docker socket",
                False,
                f"{detail}; {service_user} is not in {group}",
                f"usermod -aG {group} {service_user} && systemctl restart agentpod",
            )
        detail += f"; {service_user} may use it"
    return Check("docker socket", True, detail)


def _local_addresses() -> set[str]:
    import psutil

    found = set()
    for addrs in psutil.net_if_addrs().values():
        found.update(
            a.address.split("%")[0] for a in addrs if a.family in (socket.AF_INET, socket.AF_INET6)
        )
    return found


def wildcard_dns_check(domain: str) -> Check:
    probe = f"agentpod-{uuid.uuid4().hex[:8]}.{domain}"
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(probe, 80, type=socket.SOCK_STREAM)}
    except OSError as exc:
        return Check(
            "wildcard dns",
            False,
            f"*.{domain} does not resolve ({exc.strerror or exc})",
            f"add a DNS record: *.{domain} A <this server's public IP>",
            warning=True,
        )
    mine = resolved & _local_addresses()
    if mine:
        return Check("wildcard dns", True, f"*.{domain} -> {', '.join(sorted(resolved))}")
    return Check(
        "wildcard dns",
        False,
        f"*.{domain} -> {', '.join(sorted(resolved))}, not an address of this host "
        "(fine behind NAT or a load balancer)",
        f"point *.{domain} at this server",
        warning=True,
    )


def system_checks(settings: Settings) -> list[Check]:
    answers = installed_answers()
    checks = [docker_socket_check(SERVICE_USER if answers is not None else None)]
    if answers is None:
        return checks
    checks += [unit_check(unit) for unit in UNITS]
    checks.append(traefik_ping())
    domain = str(answers.get("domain") or settings.domain)
    ports = [("http_port", 80)]
    if tls_for(domain, answers.get("acme_email") or settings.acme_email):  # else no websecure
        ports.append(("https_port", 443))
    for key, default in ports:
        checks.append(port_check(int(answers.get(key, default))))
    if domain not in ("", "localhost") and not domain.endswith(".localhost"):
        checks.append(wildcard_dns_check(domain))
    return checks
