"""``agentpod doctor``: one check per thing AgentPod depends on, each with the fix."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agentpod.settings import Settings

if TYPE_CHECKING:
    from agentpod.control.context import Context
    from agentpod.core.authz import Principal


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    warning: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "check": self.name,
            "ok": self.ok,
            "warning": self.warning,
            "detail": self.detail,
            "fix": self.fix,
        }


def _docker(settings: Settings) -> Check:
    import docker

    try:
        client = docker.from_env(timeout=10)
        version = client.version()
    except Exception as exc:
        return Check(
            "docker engine",
            False,
            f"not reachable ({str(exc)[:120]})",
            "apt-get install -y docker.io && systemctl start docker "
            "(or: dockerd & ; add your user to the docker group)",
        )
    return Check(
        "docker engine", True, f"version {version.get('Version')} (API {version.get('ApiVersion')})"
    )


def _database(settings: Settings) -> Check:
    from agentpod.services.database import database_url
    from agentpod.services.store import Store

    try:
        url = settings.database_url or database_url(settings.home)
        store = Store(url, max_size=1).open(timeout=5)
    except Exception as exc:
        return Check(
            "database",
            False,
            str(exc).splitlines()[0][:200],
            "check AGENTPOD_DATABASE_URL, or remove it to use the embedded PostgreSQL",
        )
    try:
        applied = store.migrate()  # as every command does on first use
    except Exception as exc:
        detail = f"migration failed: {str(exc).splitlines()[0][:200]}"
        return Check("database", False, detail, "agentpod --debug db migrate")
    finally:
        store.close()
    where = "external" if settings.database_url else f"embedded in {settings.home / 'pgdata'}"
    done = f"applied {len(applied)} migration(s)" if applied else "schema up to date"
    return Check("database", True, f"{where}; {done}")


def _serve(settings: Settings) -> Check:
    """Who leads (reconciles) and who stands by, from their database sessions."""
    from agentpod.services.database import database_url
    from agentpod.services.store import Store

    try:
        store = Store(settings.database_url or database_url(settings.home), max_size=1)
        with contextlib.closing(store.open(timeout=5)):
            sessions = store.serve_sessions()
    except Exception:
        return Check("serve", False, "unknown (database unreachable)", warning=True)
    leading = [name for name, leads in sessions if leads]
    standing_by = [name for name, leads in sessions if not leads]
    if not leading:
        detail = "not running: each CLI command reconciles its own pods, nothing heals them"
        if standing_by:
            detail = f"no leader yet; standing by: {', '.join(standing_by)}"
        return Check("serve", False, detail, "agentpod serve (or: systemctl start agentpod)", True)
    detail = f"leading: {leading[0]}"
    if standing_by:
        detail += f"; standing by: {', '.join(standing_by)}"
    return Check("serve", True, detail)


def _network(settings: Settings) -> Check:
    try:
        import docker

        client = docker.from_env(timeout=10)
        nets = client.api.networks(filters={"label": "agentpod.managed=true"})
    except Exception:
        return Check(
            "networks",
            False,
            "cannot list networks (Docker engine down)",
            "start the Docker engine",
        )
    return Check(
        "networks", True, f"{len(nets)} AgentPod network(s); mode {settings.network_mode.value}"
    )


def _disk(settings: Settings) -> Check:
    path = settings.home if settings.home.exists() else settings.home.parent
    try:
        free = shutil.disk_usage(path).free
    except OSError as exc:
        return Check(
            "data dir", False, f"{settings.home}: {exc.strerror}", f"mkdir -p {settings.home}"
        )
    gib = free / 1024**3
    ok = gib >= 2
    return Check(
        "data dir",
        ok,
        f"{settings.home}: {gib:.1f} GiB free",
        None if ok else "free disk space (Docker images: docker system prune)",
        warning=not ok,
    )


def _backup(settings: Settings) -> Check:
    from agentpod.core.backup import LAST_BACKUP, backup_age

    fix = "agentpod backup create (agentpod install sets up a daily timer)"
    try:
        last = json.loads((settings.home / LAST_BACKUP).read_text())
        at = datetime.fromisoformat(last["at"])
    except FileNotFoundError:
        return Check("backup", False, "no backup made on this machine yet", fix, warning=True)
    except (OSError, ValueError, KeyError) as exc:
        return Check("backup", False, f"cannot read {LAST_BACKUP}: {exc}", fix, warning=True)
    seconds = (datetime.now(UTC) - at).total_seconds()
    ok, detail = backup_age(seconds, last.get("path", "?"), last.get("pods", 0))
    return Check("backup", ok, detail, None if ok else fix, warning=not ok)


CHECKS: list[Callable[[Settings], Check]] = [_docker, _database, _serve, _network, _disk, _backup]


def run_checks(settings: Settings) -> list[Check]:
    from agentpod.control.doctor_system import system_checks  # installed-machine checks

    swarm = [_swarm(settings), _pools(settings)] if settings.runtime == "swarm" else []
    return [check(settings) for check in CHECKS] + swarm + system_checks(settings)


def report(ctx: Context, caller: Principal) -> list[Check]:
    """``run_checks`` for a caller: the machine's state is for those who run it (who sees every
    tenant and may change them: admins and operators)."""
    from agentpod.control import guard
    from agentpod.core.authz import Scope

    guard.require_all(caller, Scope.TENANTS_WRITE)
    return run_checks(ctx.settings)


def _pools(settings: Settings) -> Check:
    """Each pool in use has a ready, active node to place its next pod on."""
    import docker

    from agentpod.core.placement import in_pool, parse_pool
    from agentpod.services.database import database_url
    from agentpod.services.store import Store
    from agentpod.services.swarm_runtime import node_of

    try:
        store = Store(settings.database_url or database_url(settings.home), max_size=1)
        with contextlib.closing(store.open(timeout=5)):
            pools = store.pools_in_use()
        nodes = [node_of(n) for n in docker.from_env(timeout=10).api.nodes()]
    except Exception as exc:
        return Check("pools", False, f"unknown ({str(exc).splitlines()[0][:120]})", warning=True)
    usable = [n for n in nodes if n.ready and n.active]
    carriers = {p: sum(in_pool(n, parse_pool(p)) for n in usable) for p in pools}
    empty = [p for p, count in carriers.items() if not count]
    if empty:
        pool = empty[0]
        detail = f"no ready, active node carries pool {pool} ({pools[pool]} pod(s) placed by it)"
        if len(empty) > 1:
            detail += f"; {len(empty) - 1} more pool(s) without a node"
        fix = f"agentpod node label add NODE {' '.join(pool.split(','))} (or clear the pool)"
        return Check("pools", False, detail, fix)
    sizes = ", ".join(f"{p}: {count} node(s)" for p, count in carriers.items())
    return Check("pools", True, sizes or "no pools set (any node)")


def has_ipvs(proc: Path = Path("/proc")) -> bool:
    """Whether this kernel has IPVS (Swarm's VIPs and ingress mesh need it)."""
    modules = proc / "modules"
    loaded = modules.is_file() and any(
        line.startswith("ip_vs ") for line in modules.read_text().splitlines()
    )
    return loaded or (proc / "net" / "ip_vs").exists()


def _swarm(settings: Settings) -> Check:
    """This engine is a swarm manager; which endpoint mode the node can use."""
    import docker

    try:
        info = docker.from_env(timeout=10).info().get("Swarm") or {}
    except Exception as exc:
        return Check("swarm", False, f"engine not reachable ({str(exc)[:120]})")
    ipvs = "IPVS: yes (vip endpoint mode works)" if has_ipvs() else "IPVS: no (dnsrr only)"
    if info.get("LocalNodeState") != "active" or not info.get("ControlAvailable"):
        state = info.get("LocalNodeState", "?")
        fix = "docker swarm init --advertise-addr ADDRESS (on the first server)"
        return Check("swarm", False, f"this engine is no swarm manager ({state}); {ipvs}", fix)
    nodes = info.get("Nodes", "?")
    detail = f"manager of {nodes} nodes; endpoint mode {settings.swarm_endpoint_mode}; {ipvs}"
    if settings.swarm_endpoint_mode == "vip" and not has_ipvs():
        fix = "set swarm_endpoint_mode = dnsrr (this kernel has no IPVS)"
        return Check("swarm", False, detail, fix)
    return Check("swarm", True, detail)
