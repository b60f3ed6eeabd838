"""An in-memory Docker engine behind the SDK's low-level API, for driving ``DockerRuntime``
through races a real engine only shows now and then: a container that vanishes between the
list that found it and the next call.

Only the calls ``DockerRuntime`` makes are here. ``vanish_at = N`` makes the N-th call that
names a container remove that container first, so the engine answers 404 "No such container"
exactly as Docker does. Lists never answer 404 (Docker's do not either).
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import docker.errors

NAMING_A_CONTAINER = frozenset(
    {
        "inspect_container",
        "stats",
        "logs",
        "get_archive",
        "put_archive",
        "start",
        "stop",
        "restart",
        "kill",
        "remove_container",
        "exec_create",
    }
)


@dataclass
class FakeContainer:
    id: str
    name: str
    image: str
    labels: dict[str, str]
    network: str | None
    state: str = "created"
    ip: str = ""
    memory_bytes: int = 1 << 20  # what its stats say
    cpu_ns: int = 0

    def row(self) -> dict[str, Any]:
        own = self.network and not self.network.startswith("container:")  # else its holder's
        nets = {self.network: {"IPAddress": self.ip}} if own else {}
        return {
            "Id": self.id,
            "Names": [f"/{self.name}"],
            "Image": self.image,
            "State": self.state,
            "Labels": dict(self.labels),
            "NetworkSettings": {"Networks": nets},
        }


@dataclass
class FakeApi:
    containers_by_id: dict[str, FakeContainer] = field(default_factory=dict)
    networks_by_name: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: set[str] = field(default_factory=set)
    vanish_at: int | None = None
    start_races: set[str] = field(default_factory=set)  # names whose next start fails as the
    # engine's race between parallel starts makes it fail
    calls: int = 0
    vanished: list[str] = field(default_factory=list)  # "call container-name", in order
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __getattribute__(self, name: str) -> Any:
        if name in NAMING_A_CONTAINER:
            method = object.__getattribute__(self, name)

            def call(container: str, *args: Any, **kwargs: Any) -> Any:
                self._count(name, container)
                return method(self._get(container), *args, **kwargs)

            return call
        return object.__getattribute__(self, name)

    def _count(self, call: str, cid: str) -> None:
        """Counts the calls that name an existing container (a call for one already gone
        cannot make it vanish), and makes the ``vanish_at``-th one's vanish first."""
        with self._lock:
            found = self._find(cid)
            if found is None:
                return
            self.calls += 1
            if self.calls == self.vanish_at:
                self.vanished.append(f"{call} {self.containers_by_id.pop(found.id).name}")

    def _find(self, cid: str) -> FakeContainer | None:
        """By id, or by name as Docker also takes."""
        return self.containers_by_id.get(cid) or next(
            (c for c in list(self.containers_by_id.values()) if c.name == cid), None
        )

    def _get(self, cid: str) -> FakeContainer:
        found = self._find(cid)
        if found is None:
            raise docker.errors.NotFound(f"No such container: {cid}")
        return found

    # -- lists ------------------------------------------------------------------------------

    def containers(self, all: bool = False, filters: dict[str, Any] | None = None) -> list:
        filters = filters or {}
        labels = dict(lbl.split("=", 1) for lbl in filters.get("label", []))
        ids = filters.get("id")
        names = [re.compile(n) for n in filters.get("name", [])]
        return [
            c.row()
            for c in list(self.containers_by_id.values())
            if (ids is None or c.id in ids)
            and (not names or any(n.search(f"/{c.name}") for n in names))
            and all_labels(c.labels, labels)
            and (all or c.state == "running")
        ]

    def networks(self, names: list[str] | None = None, filters: dict | None = None) -> list:
        labels = dict(lbl.split("=", 1) for lbl in (filters or {}).get("label", []))
        return [
            n
            for n in self.networks_by_name.values()
            if (names is None or n["Name"] in names) and all_labels(n["Labels"], labels)
        ]

    # -- networks, volumes, images ----------------------------------------------------------

    def create_network(self, name: str, labels: dict[str, str], **_: Any) -> dict[str, str]:
        gateway = f"10.9.{len(self.networks_by_name) + 1}.1"
        self.networks_by_name[name] = {
            "Id": f"net{name}",
            "Name": name,
            "Labels": labels,
            "IPAM": {"Config": [{"Gateway": gateway}]},
        }
        return {"Id": f"net{name}"}

    def inspect_network(self, name: str) -> dict[str, Any]:
        if name not in self.networks_by_name:
            raise docker.errors.NotFound(f"network {name} not found")
        return self.networks_by_name[name]

    def remove_network(self, name: str) -> None:
        if self.networks_by_name.pop(name, None) is None:
            raise docker.errors.NotFound(f"network {name} not found")

    def create_volume(self, name: str, labels: dict[str, str]) -> dict[str, str]:
        self.volumes.add(name)
        return {"Name": name}

    def remove_volume(self, name: str, force: bool = False) -> None:
        self.volumes.discard(name)

    def inspect_image(self, image: str) -> dict[str, str]:
        return {"Id": image}

    def import_image_from_data(self, data: bytes, repository: str, tag: str, **_: Any) -> str:
        return f"{repository}:{tag}"

    # -- containers -------------------------------------------------------------------------

    @staticmethod
    def create_host_config(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    @staticmethod
    def create_networking_config(config: dict[str, Any]) -> dict[str, Any]:
        return config

    @staticmethod
    def create_endpoint_config(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    def create_container(
        self,
        image: str,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        host_config: dict[str, Any] | None = None,
        **_: Any,
    ) -> dict[str, str]:
        n = next(self._ids)
        name = name or f"anon-{n}"
        if any(c.name == name for c in self.containers_by_id.values()):
            raise docker.errors.APIError(f"Conflict. The container name /{name} is already in use")
        network = (host_config or {}).get("network_mode")
        cid = f"{n:064x}"
        self.containers_by_id[cid] = FakeContainer(cid, name, image, labels or {}, network)
        return {"Id": cid}

    def put_archive(self, c: FakeContainer, path: str, data: bytes) -> bool:
        return True

    def start(self, c: FakeContainer) -> None:
        if c.name in self.start_races:
            self.start_races.discard(c.name)
            c.state = "dead"  # broken: Docker cannot even delete its task
            raise docker.errors.APIError(
                "500 Server Error: OCI runtime start failed: container process is already dead"
            )
        mode = c.network or ""  # in another's namespace ("container:X"): X's address
        held = self._find(mode.split(":", 1)[1]) if mode.startswith("container:") else None
        c.state, c.ip = "running", held.ip if held else f"10.9.0.{int(c.id, 16) % 250 + 2}"

    def stop(self, c: FakeContainer, timeout: int = 10) -> None:
        c.state, c.ip = "exited", ""

    def restart(self, c: FakeContainer, timeout: int = 10) -> None:
        FakeApi.start(self, c)  # the class's own method: this is one call, not two

    def kill(self, c: FakeContainer) -> None:
        FakeApi.stop(self, c)

    def remove_container(self, c: FakeContainer, force: bool = False) -> None:
        del self.containers_by_id[c.id]

    def inspect_container(self, c: FakeContainer) -> dict[str, Any]:
        return {"Id": c.id, "State": {"Status": c.state, "StartedAt": "2026-01-01T00:00:00Z"}}

    def stats(self, c: FakeContainer, **_: Any) -> dict[str, Any]:
        cpu = {"cpu_usage": {"total_usage": c.cpu_ns}}
        return {"memory_stats": {"usage": c.memory_bytes}, "cpu_stats": cpu}


def all_labels(have: dict[str, str], want: dict[str, str]) -> bool:
    return all(have.get(k) == v for k, v in want.items())


@dataclass
class FakeClient:
    """What ``DockerRuntime`` takes as its client: the low-level API is all it uses here."""

    api: FakeApi = field(default_factory=FakeApi)

    def version(self) -> dict[str, str]:
        return {"Arch": "amd64", "Version": "fake"}
