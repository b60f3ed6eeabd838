"""A container's memory and CPU from its cgroup files: ~0.1 ms a container, where one Docker
stats call takes ~1 s (the engine samples for a second). cgroup v2 and v1, with the systemd
or the cgroupfs driver; None where the files are not found (another layout, another host)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
# where Docker puts a container's cgroup (under each v1 controller or the v2 root): with the
# systemd driver, then with the cgroupfs driver ({id}: the container id)
DIRS = ("system.slice/docker-{id}.scope", "docker/{id}")


@dataclass(frozen=True)
class Usage:
    memory_bytes: int  # without the inactive page cache, as ``docker stats`` shows it
    cpu_seconds: float  # since the container started


def usage(container_id: str, root: Path = ROOT) -> Usage | None:
    try:
        if (root / "cgroup.controllers").exists():
            return _v2(container_id, root)
        return _v1(container_id, root)
    except (OSError, ValueError, KeyError):  # gone meanwhile, or another layout
        return None


def _v2(cid: str, root: Path) -> Usage | None:
    found = _first(root, cid, "memory.current")
    if found is None:
        return None
    current = int((found / "memory.current").read_text())
    inactive = _stat(found / "memory.stat")["inactive_file"]
    usec = _stat(found / "cpu.stat")["usage_usec"]
    return Usage(current - inactive, usec / 1e6)


def _v1(cid: str, root: Path) -> Usage | None:
    memory = _first(root / "memory", cid, "memory.usage_in_bytes")
    cpu = _first(root / "cpuacct", cid, "cpuacct.usage")
    if memory is None or cpu is None:
        return None
    current = int((memory / "memory.usage_in_bytes").read_text())
    inactive = _stat(memory / "memory.stat")["total_inactive_file"]
    nanos = int((cpu / "cpuacct.usage").read_text())
    return Usage(current - inactive, nanos / 1e9)


def _first(base: Path, cid: str, probe: str) -> Path | None:
    for pattern in DIRS:
        path = base / pattern.format(id=cid)
        if (path / probe).exists():
            return path
    return None


def _stat(path: Path) -> dict[str, int]:
    pairs = (line.split() for line in path.read_text().splitlines())
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2}
