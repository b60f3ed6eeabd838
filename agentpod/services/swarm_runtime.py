"""The Docker Swarm runtime: a pod is a one-replica service pinned to the node holding its
volume, on its tenant's attachable overlay network. The same interface as DockerRuntime: what
the reconciler sees as a container id is a service id; a "stopped" pod is a service scaled to 0.

A pass lists services once and their tasks once (no inspect in steady state). Swarm itself
restarts a dead task within seconds (restart condition ``any``); the reconciler converges the
rest with the same pure planner.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import docker

from agentpod.core.placement import Node, PlacementError, Strategy, parse_pool, place
from agentpod.core.planner import Actual
from agentpod.core.spec import INSTANCE, POD_ID, SPEC_HASH, ContainerSpec
from agentpod.core.swarm_spec import NODE_LABEL, EndpointMode, service_spec
from agentpod.services.docker_runtime import DockerRuntime, NotFound, _done, state_archive
from agentpod.services.swarm_edge import Edge

SEED_PATH = "/agentpod-seed.tar"
WIPE = "rm -rf /v/* /v/.[!.]* /v/..?*"  # a volume's content, mounted at /v
# a task in one of these is on its way to running: Swarm is working on it, nothing to do here
STARTING = {"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting"}
FAILED = {"failed", "rejected", "orphaned"}


@dataclass(frozen=True)
class Job:
    """A one-shot task: ``command`` in ``image`` on ``node``, ``volume`` at ``mount``."""

    image: str
    node: str
    volume: str
    mount: str
    command: list[str]
    role: str
    network: str | None = None


def _task_state(task: dict[str, Any] | None, replicas: int) -> str:
    """The planner's container state of a service: its current task's, or exited when it is
    scaled to 0."""
    if replicas == 0:
        return "exited"
    state = ((task or {}).get("Status") or {}).get("State", "")
    if state == "running":
        return "running"
    return "restarting"  # starting, or between a dead task and its replacement


def _task_ip(task: dict[str, Any] | None) -> str | None:
    for attachment in (task or {}).get("NetworksAttachments") or []:
        if (attachment.get("Network") or {}).get("Spec", {}).get("Name") == "ingress":
            continue
        for address in attachment.get("Addresses") or []:
            return str(address).split("/")[0]
    return None


def _current_tasks(tasks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per service id, its newest task that Swarm wants running."""
    current: dict[str, dict[str, Any]] = {}
    for task in sorted(tasks, key=lambda t: t.get("Version", {}).get("Index", 0)):
        if task.get("DesiredState") == "running":
            current[task["ServiceID"]] = task
    return current


def _replicas(service: dict[str, Any]) -> int:
    return int(((service["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1))


def _actual(service: dict[str, Any], task: dict[str, Any] | None) -> Actual:
    labels = service["Spec"].get("Labels") or {}
    pod_id = labels.get(POD_ID)
    return Actual(
        container_id=service["ID"],
        name=service["Spec"]["Name"],
        state=_task_state(task, _replicas(service)),
        pod_id=int(pod_id) if pod_id and pod_id.isdigit() else None,
        spec_hash=labels.get(SPEC_HASH),
        ip=_task_ip(task),
    )


class SwarmRuntime(DockerRuntime):
    """Talks to a swarm manager's engine."""

    def __init__(
        self,
        instance: str,
        client: docker.DockerClient | None = None,
        strategy: Strategy = Strategy.SPREAD,
        endpoint: EndpointMode = EndpointMode.DNSRR,
        encrypted: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(instance, client, **kwargs)
        self.strategy = strategy
        self.endpoint = endpoint
        self.encrypted = encrypted
        self.pins: dict[str, str] = {}  # service name -> the node its volume is on
        # placed, service not made yet: (node, MiB) by name, so that pods placed at once in
        # parallel see each other
        self._placing: dict[str, tuple[str, int]] = {}
        self._place_lock = threading.Lock()
        self.volumes: dict[str, tuple[str, str]] = {}  # volume -> (its node, its pod's image)
        self._node_id: str | None = None
        self.seed_timeout = 120.0
        self.edge: Edge | None = None  # Traefik's container, on every overlay of ours
        self._edge_on: set[str] = set()

    # -- reading --------------------------------------------------------------------------

    def services(self) -> list[dict[str, Any]]:
        return self.client.api.services(filters={"label": self._labels()})

    def list_pods(
        self, extra_ids: list[str] | None = None, names: list[str] | None = None
    ) -> list[Actual]:
        """Our services in one call (or only those named ``names``) and their tasks in one
        more (adopted containers have no place in a swarm: ``extra_ids`` is ignored)."""
        services = self.services()
        if names is not None:
            wanted = set(names)
            services = [s for s in services if s["Spec"]["Name"] in wanted]
        for s in services:
            self._remember(s)
        tasks = self._tasks(services)
        return [_actual(s, tasks.get(s["ID"])) for s in services]

    def _remember(self, service: dict[str, Any]) -> None:
        """Where its volume is (pods are pinned to the node holding it)."""
        node = (service["Spec"].get("Labels") or {}).get(NODE_LABEL)
        container = service["Spec"]["TaskTemplate"]["ContainerSpec"]
        if not node:
            return
        self.pins[service["Spec"]["Name"]] = node
        for mount in container.get("Mounts") or []:
            if mount.get("Type") == "volume":
                self.volumes[mount["Source"]] = (node, container["Image"])

    def _tasks(self, services: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        if not services:
            return {}
        ids = [s["ID"] for s in services]
        return _current_tasks(self.client.api.tasks(filters={"service": ids}))

    def nodes(self, services: list[dict[str, Any]] | None = None) -> list[Node]:
        """The swarm's nodes as placement sees them: memory, and the limits and count of the
        pods pinned to each (from our services' labels)."""
        services = self.services() if services is None else services
        used: dict[str, int] = {}
        pods: dict[str, int] = {}
        held = [
            ((s["Spec"].get("Labels") or {}).get(NODE_LABEL), _reserved_mb(s)) for s in services
        ]
        made = {s["Spec"]["Name"] for s in services}
        held += [placed for name, placed in self._placing.items() if name not in made]
        for node, mb in held:
            if node:
                pods[node] = pods.get(node, 0) + 1
                used[node] = used.get(node, 0) + mb
        return [node_of(n, used.get(n["ID"], 0), pods.get(n["ID"], 0)) for n in self._raw_nodes()]

    def _raw_nodes(self) -> list[dict[str, Any]]:
        return self.client.api.nodes()

    # -- networks -------------------------------------------------------------------------

    def attach_edge(self, edge: Edge | None) -> None:
        """Route through ``edge``: connected to each of our overlays, now and as they are made
        (None: no edge any more)."""
        self.edge, self._edge_on = edge, set()
        for name in self.list_networks():
            self._attach_edge(name)

    def _attach_edge(self, name: str) -> None:
        if self.edge is not None and name not in self._edge_on:
            self.edge.attach([name])
            self._edge_on.add(name)

    def ensure_network(self, name: str) -> str:
        found = super().ensure_network(name)
        self._attach_edge(name)
        return found

    def remove_network(self, name: str) -> bool:
        if self.edge is not None and name in self._edge_on:  # else: "has active endpoints"
            self.edge.detach(name)
            self._edge_on.discard(name)
        return super().remove_network(name)

    def _network_kind(self) -> dict[str, Any]:
        options = {"encrypted": "true"} if self.encrypted else None
        return {"driver": "overlay", "attachable": True, "scope": "swarm", "options": options}

    # -- pods -----------------------------------------------------------------------------

    def node_for(self, spec: ContainerSpec) -> str:
        """The node that holds the pod's volume, or a new one by the placement strategy."""
        with self._place_lock:
            pinned = self.pins.get(spec.name)
            if pinned:
                return pinned
            try:
                pool = parse_pool(spec.pool)
                node = place(spec.limits.memory_mb, self.nodes(), self.strategy, pool).id
            except PlacementError as exc:
                raise PlacementError(f"cannot place pod {spec.name}: {exc}") from None
            self._placing[spec.name] = (node, spec.limits.memory_mb)
            return node

    holders = False  # a service's task has its own namespace on its node

    def create(self, spec: ContainerSpec, holder: Actual | None = None) -> str:
        """The pod's service, scaled to 0 (``start`` scales it to 1), its volume seeded on the
        node it is pinned to."""
        node = self.node_for(spec)
        try:
            self._seed_volume_on(spec, node)
            body = service_spec(spec, node, self.endpoint)
            body["Mode"] = {"Replicated": {"Replicas": 0}}
            created = self.client.api.create_service(
                body["TaskTemplate"],
                name=body["Name"],
                labels=body["Labels"],
                mode=body["Mode"],
                endpoint_spec=body["EndpointSpec"],
            )
            self.pins[spec.name] = node
            self.volumes[spec.volume] = (node, spec.image)
        finally:
            self._placing.pop(spec.name, None)
        return str(created["ID"])

    def _seed_volume_on(self, spec: ContainerSpec, node: str) -> None:
        """Write the pod's state dir (owner, files) into its volume on ``node``: the pod's
        image unpacks, as root, a tar handed over as a config."""
        if spec.volume.startswith("/"):
            raise ValueError("an adopted pod's bind mount cannot move into a swarm")
        api = self.client.api
        name = f"agentpod-seed-{uuid.uuid4().hex[:10]}"
        config = api.create_config(name, state_archive(spec), labels={INSTANCE: self.instance})
        parent = str(PurePosixPath(spec.state_dir).parent)
        command = ["tar", "-xf", SEED_PATH, "-C", parent]
        try:
            job = Job(spec.image, node, spec.volume, spec.state_dir, command, "seed")
            self.run_job(job, [_config_file(config["ID"], name)])
        finally:
            _wait_gone(lambda: api.remove_config(config["ID"]))

    def start_job(self, job: Job, configs: list[dict[str, Any]] | None = None) -> str:
        """A one-shot task on a node with a volume mounted (and on a network); its service id."""
        mount = {"Type": "volume", "Source": job.volume, "Target": job.mount}
        task: dict[str, Any] = {
            "ContainerSpec": {
                "Image": job.image,
                "Command": job.command,
                "User": "0",
                "Mounts": [mount],
                "Configs": configs or [],
            },
            "RestartPolicy": {"Condition": "none"},
            "Placement": {"Constraints": [f"node.id=={job.node}"]},
        }
        if job.network:
            task["Networks"] = [{"Target": job.network}]
        name = f"agentpod-{job.role}-{uuid.uuid4().hex[:10]}"
        labels = {INSTANCE: self.instance, "agentpod.role": job.role}
        return str(self.client.api.create_service(task, name=name, labels=labels)["ID"])

    def finish_job(self, service_id: str, job: Job) -> str:
        """Wait for a job's end; its output (stdout and stderr); its service removed."""
        try:
            self._wait_task(service_id, f"{job.role} of {job.volume} on node {job.node}")
            return self.job_output(service_id)
        finally:
            self.remove(service_id)

    def job_output(self, service_id: str) -> str:
        logs = self.client.api.service_logs(service_id, stdout=True, stderr=True)
        return b"".join(logs).decode(errors="replace")

    def wait_output(self, service_id: str, line: str, timeout: float = 60) -> None:
        """Until a job has printed ``line``."""
        deadline = time.monotonic() + timeout
        while line not in self.job_output(service_id):
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {service_id} did not print {line} in {timeout:.0f}s")
            time.sleep(0.2)

    def run_job(self, job: Job, configs: list[dict[str, Any]] | None = None) -> str:
        return self.finish_job(self.start_job(job, configs), job)

    def wait_stopped(self, service_id: str, timeout: float = 60) -> None:
        """Until no task of the service runs or is starting."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tasks = self.client.api.tasks(filters={"service": service_id})
            live = STARTING | {"running"}
            if not any((t.get("Status") or {}).get("State") in live for t in tasks):
                return
            time.sleep(0.2)
        raise RuntimeError(f"service {service_id} still running after {timeout:.0f}s")

    def job_address(self, service_id: str, timeout: float = 60) -> str:
        """The address of a job's task once it runs (on the job's network)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tasks = self.client.api.tasks(filters={"service": service_id})
            for task in tasks:
                state = (task.get("Status") or {}).get("State")
                if state in FAILED:
                    raise RuntimeError(f"job {service_id} failed: {task['Status'].get('Err')}")
                if state == "running" and _task_ip(task):
                    return str(_task_ip(task))
            time.sleep(0.2)
        raise RuntimeError(f"job {service_id} not running after {timeout:.0f}s")

    def remove_volume(self, name: str) -> bool:
        """Remove a pod's volume on the node it is on: on this engine's node, the volume
        itself (once the task that used it is gone); on another, its content (its engine is
        not reachable from here), by a one-shot task."""
        node, image = self.volumes.get(name, (None, None))
        if node is None or image is None or node == self.node_id:
            try:
                _wait_gone(lambda: self.client.api.remove_volume(name, force=True))
            except NotFound:
                return False
            return True
        wipe = ["sh", "-c", WIPE]
        self.run_job(Job(image, node, name, "/v", wipe, "wipe"))
        return True

    @property
    def node_id(self) -> str:
        if self._node_id is None:
            self._node_id = str(self.client.info()["Swarm"]["NodeID"])
        return self._node_id

    def _wait_task(self, service_id: str, what: str) -> None:
        deadline = time.monotonic() + self.seed_timeout
        while time.monotonic() < deadline:
            for task in self.client.api.tasks(filters={"service": service_id}):
                status = task.get("Status") or {}
                if status.get("State") == "complete":
                    return
                if status.get("State") in FAILED:
                    raise RuntimeError(f"{what} failed: {status.get('Err') or status}")
            time.sleep(0.2)
        raise RuntimeError(f"{what} did not finish in {self.seed_timeout:.0f}s")

    def update(
        self, service_id: str, replicas: int, force: bool = False, node: str | None = None
    ) -> bool:
        """Scale the service (``force``: a new task even when nothing else changed), and pin it
        to ``node``; False when it is gone."""
        api = self.client.api
        try:
            found = api.inspect_service(service_id)
            template: dict[str, Any] = {}
            if force:
                forced = int(found["Spec"]["TaskTemplate"].get("ForceUpdate", 0)) + 1
                template["ForceUpdate"] = forced
            labels = None
            if node:
                template["Placement"] = {"Constraints": [f"node.id=={node}"]}
                labels = {**(found["Spec"].get("Labels") or {}), NODE_LABEL: node}
            api.update_service(
                service_id,
                found["Version"]["Index"],
                task_template=template or None,
                labels=labels,
                mode={"Replicated": {"Replicas": replicas}},
                fetch_current_spec=True,
            )
        except NotFound:
            return False
        return True

    def start(self, container_id: str) -> bool:
        return self.update(container_id, 1)

    def stop(self, container_id: str, timeout: int = 10) -> bool:
        """Scale to 0: Swarm sends SIGTERM, then SIGKILL after the service's grace period."""
        return self.update(container_id, 0)

    def restart(self, container_id: str, timeout: int = 10) -> bool:
        return self.update(container_id, 1, force=True)

    def remove(self, container_id: str) -> bool:
        return _done(lambda: self.client.api.remove_service(container_id))


def _config_file(config_id: str, name: str) -> dict[str, Any]:
    target = {"Name": SEED_PATH, "UID": "0", "GID": "0", "Mode": 0o400}
    return {"File": target, "ConfigID": config_id, "ConfigName": name}


def _wait_gone(call: Callable[[], object], timeout: float = 30) -> None:
    """Retry a removal the engine refuses while a task still uses what it removes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            call()
            return
        except NotFound:
            return
        except docker.errors.APIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _reserved_mb(service: dict[str, Any]) -> int:
    resources = service["Spec"]["TaskTemplate"].get("Resources") or {}
    memory = (resources.get("Reservations") or {}).get("MemoryBytes") or 0
    return int(memory) // (1024 * 1024)


def node_of(raw: dict[str, Any], used_mb: int = 0, pods: int = 0) -> Node:
    """A node of the Engine API as placement sees it."""
    description = raw.get("Description") or {}
    memory = (description.get("Resources") or {}).get("MemoryBytes") or 0
    spec = raw.get("Spec") or {}
    return Node(
        id=raw["ID"],
        hostname=description.get("Hostname", "?"),
        memory_mb=int(memory) // (1024 * 1024),
        used_mb=used_mb,
        pods=pods,
        labels=dict(spec.get("Labels") or {}),
        ready=(raw.get("Status") or {}).get("State") == "ready",
        active=spec.get("Availability") == "active",
    )


class Nodes:
    """The swarm's nodes through its manager: list, labels, availability, join tokens."""

    def __init__(self, runtime: SwarmRuntime) -> None:
        self.runtime = runtime

    @property
    def api(self) -> Any:
        return self.runtime.client.api

    def raw(self) -> list[dict[str, Any]]:
        return self.api.nodes()

    def inspect(self, node_id: str) -> dict[str, Any]:
        return self.api.inspect_node(node_id)

    def update(self, node_id: str, labels: dict[str, str] | None, availability: str | None) -> None:
        found = self.inspect(node_id)
        spec = dict(found["Spec"])
        if labels is not None:
            spec["Labels"] = labels
        if availability is not None:
            spec["Availability"] = availability
        self.api.update_node(node_id, found["Version"]["Index"], spec)

    def join_token(self, rotate: bool = False) -> tuple[str, str]:
        """The worker join token and a manager's address (the token rotated first when asked:
        the old one stops working)."""
        swarm = self.api.inspect_swarm()
        if rotate:
            self.api.update_swarm(
                version=swarm["Version"]["Index"],
                swarm_spec=swarm["Spec"],
                rotate_worker_token=True,
            )
            swarm = self.api.inspect_swarm()
        token = swarm["JoinTokens"]["Worker"]
        managers = self.runtime.client.info()["Swarm"].get("RemoteManagers") or []
        address = managers[0]["Addr"] if managers else "MANAGER:2377"
        return token, address
