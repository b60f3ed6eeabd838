"""Settings: environment variables over the config file over defaults."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentpod.core.names import validate_label
from agentpod.core.netpool import DEFAULT_POOL, DEFAULT_PREFIX, SubnetPool
from agentpod.core.placement import Strategy
from agentpod.core.states import EndpointMode, NetworkMode

CONFIG_FILE = Path("/etc/agentpod/agentpod.toml")
RUNTIMES = ("docker", "swarm")
PLACEMENTS = tuple(s.value for s in Strategy)
ENDPOINT_MODES = tuple(m.value for m in EndpointMode)


def default_home() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/agentpod")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "agentpod"


def default_proxy_port() -> int:
    return 80 if os.geteuid() == 0 else 8080


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=default_home)
    database_url: str | None = None
    domain: str = "localhost"
    acme_email: str | None = None
    network_mode: NetworkMode = NetworkMode.TENANT
    reconcile_interval: float = 30.0
    health_interval: float = 15.0
    event_retention_days: float = 30.0
    proxy_http_port: int = field(default_factory=default_proxy_port)
    proxy_https_port: int = 443
    network_pool: str = DEFAULT_POOL
    network_prefix: int = DEFAULT_PREFIX
    llm_gateway_port: int = 4480
    api_listen: str = "127.0.0.1:8787"  # the HTTP API of `agentpod serve`
    metrics_listen: str = ""  # GET /metrics alone, no key asked: for a scraper (installer)
    trusted_front_proxies: tuple[str, ...] = ()  # CIDRs allowed to set X-Forwarded-For
    runtime: str = "docker"  # "docker": one engine; "swarm": pods are services of a swarm
    placement: str = "spread"  # swarm: spread | least-busy | label
    swarm_endpoint_mode: str = "dnsrr"  # swarm: dnsrr works everywhere; vip needs IPVS
    swarm_encrypted: str = ""  # swarm: "true" encrypts tenant overlays (IPsec)
    installer_url: str = "https://get.agentpod.dev"  # what `node join-command` pipes to bash
    config_file: Path | None = None

    @property
    def subnets(self) -> SubnetPool:
        return SubnetPool(self.network_pool, self.network_prefix)


def parse_listen(address: str, setting: str = "api_listen") -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) -> (host, port); ValueError says what is wrong."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{setting} {address!r}: expected ADDRESS:PORT, e.g. 127.0.0.1:8787")
    return host.strip("[]"), int(port)


def console_backend(listen: str) -> str:
    """The URL Traefik forwards ``console.<domain>`` to: the API's address, from this host."""
    host, port = parse_listen(listen)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return data.get("agentpod", data)


def cidrs(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Networks from a TOML list or a comma/space separated string, normalised (``10.0.0.5``
    -> ``10.0.0.5/32``); ValueError names the bad one."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    out = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_network(str(item).strip(), strict=False)))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR") from None
    return tuple(out)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    path = Path(env.get("AGENTPOD_CONFIG", str(CONFIG_FILE)))
    values: dict[str, Any] = {k: v for k, v in _read_file(path).items() if v not in ("", None)}
    mapping = {
        "AGENTPOD_HOME": "home",
        "AGENTPOD_DATABASE_URL": "database_url",
        "AGENTPOD_DOMAIN": "domain",
        "AGENTPOD_ACME_EMAIL": "acme_email",
        "AGENTPOD_NETWORK_MODE": "network_mode",
        "AGENTPOD_RECONCILE_INTERVAL": "reconcile_interval",
        "AGENTPOD_HEALTH_INTERVAL": "health_interval",
        "AGENTPOD_EVENT_RETENTION_DAYS": "event_retention_days",
        "AGENTPOD_PROXY_HTTP_PORT": "proxy_http_port",
        "AGENTPOD_NETWORK_POOL": "network_pool",
        "AGENTPOD_NETWORK_PREFIX": "network_prefix",
        "AGENTPOD_LLM_GATEWAY_PORT": "llm_gateway_port",
        "AGENTPOD_API_LISTEN": "api_listen",
        "AGENTPOD_METRICS_LISTEN": "metrics_listen",
        "AGENTPOD_TRUSTED_FRONT_PROXIES": "trusted_front_proxies",
        "AGENTPOD_RUNTIME": "runtime",
        "AGENTPOD_PLACEMENT": "placement",
        "AGENTPOD_SWARM_ENDPOINT_MODE": "swarm_endpoint_mode",
        "AGENTPOD_SWARM_ENCRYPTED": "swarm_encrypted",
        "AGENTPOD_INSTALLER_URL": "installer_url",
    }
    values.update({key: env[var] for var, key in mapping.items() if env.get(var)})
    known = Settings.__dataclass_fields__
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)} in {path}")
    converters = {f: known[f].type for f in values}
    typed: dict[str, Any] = {}
    for key, value in values.items():
        kind = converters[key]
        if kind == "Path" or kind == "Path | None":
            typed[key] = Path(value)
        elif kind == "float":
            typed[key] = float(value)
        elif kind == "int":
            typed[key] = int(value)
        elif kind == "NetworkMode":
            typed[key] = NetworkMode(value)
        elif kind == "tuple[str, ...]":
            try:
                typed[key] = cidrs(value)
            except ValueError as exc:
                raise ValueError(f"{key} (AGENTPOD_{key.upper()}): {exc}") from None
        else:
            typed[key] = value
    settings = Settings(**typed, config_file=path if path.exists() else None)
    settings.subnets  # noqa: B018 - refuses a bad pool now, not at the first tenant network
    parse_listen(settings.api_listen)
    _check_runtime(settings)
    if settings.metrics_listen:
        parse_listen(settings.metrics_listen, "metrics_listen")
    for label in settings.domain.rstrip(".").split("."):  # the domain goes into Host() rules
        validate_label(label.lower(), f"domain {settings.domain!r}: label")
    return settings


def _check_runtime(settings: Settings) -> None:
    if settings.runtime not in RUNTIMES:
        raise ValueError(f"runtime {settings.runtime!r}: use one of {', '.join(RUNTIMES)}")
    if settings.swarm_endpoint_mode not in ENDPOINT_MODES:
        modes = ", ".join(ENDPOINT_MODES)
        raise ValueError(
            f"swarm_endpoint_mode {settings.swarm_endpoint_mode!r}: use one of {modes}"
        )
    if settings.placement not in PLACEMENTS:
        raise ValueError(f"placement {settings.placement!r}: use one of {', '.join(PLACEMENTS)}")
