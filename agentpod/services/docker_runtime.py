"""The Docker runtime: the only place that talks to the Docker engine."""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any, TypeVar

import docker
import docker.errors
from docker.types import IPAMConfig, IPAMPool, LogConfig

from agentpod.core import netns
from agentpod.core.adapters.base import RenderedFile
from agentpod.core.adapters.pairing import ExecResult
from agentpod.core.netpool import SubnetPool, gateway_of
from agentpod.core.planner import Actual
from agentpod.core.spec import INSTANCE, MANAGED, POD_ID, SPEC_HASH, ContainerSpec
from agentpod.services import faults

MARKER = ".agentpod"
START_RACE = "OCI runtime start failed"
NotFound = docker.errors.NotFound
DockerError = docker.errors.DockerException
T = TypeVar("T")


class RuntimeUnavailable(RuntimeError):
    pass


def _short(exc: Exception) -> str:
    return str(getattr(exc, "explanation", None) or exc).splitlines()[0][:200]


def _unless_gone(call: Callable[[], T]) -> T | None:
    """The call's answer, or None when the container it names is gone: any container can be
    removed between the list that found it and the next call (Docker answers 404 "No such
    container"; or 409 while it is being removed: its log, for one, is refused then). That
    is an outcome for the caller to handle, never an error."""
    try:
        return call()
    except NotFound:
        return None
    except docker.errors.APIError as exc:
        if exc.status_code == 409 and "marked for removal" in str(exc):
            return None
        raise


def _done(call: Callable[[], object]) -> bool:
    """Whether a call that answers nothing was done (False: its container is gone)."""
    try:
        call()
    except NotFound:
        return False
    return True


def _actual(row: dict[str, Any]) -> Actual:
    labels = row.get("Labels") or {}
    networks = (row.get("NetworkSettings") or {}).get("Networks") or {}
    ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), None)
    pod_id = labels.get(POD_ID)
    return Actual(
        container_id=row["Id"],
        name=(row.get("Names") or ["/?"])[0].lstrip("/"),
        state=row.get("State", "unknown"),
        pod_id=int(pod_id) if pod_id and pod_id.isdigit() else None,
        spec_hash=labels.get(SPEC_HASH),
        ip=ip,
        holder=labels.get(netns.ROLE) == netns.HOLDER_ROLE,
    )


def _with_holders_addresses(actual: list[Actual]) -> list[Actual]:
    """A pod in its holder's namespace has no address of its own: it gets its holder's."""
    held = {a.pod_id: a.ip for a in actual if a.holder and a.ip}
    return [
        replace(a, ip=held[a.pod_id]) if not a.holder and not a.ip and a.pod_id in held else a
        for a in actual
    ]


def state_archive(spec: ContainerSpec) -> bytes:
    """A tar of the state dir itself (so its owner becomes the adapter's user), a marker file
    and the rendered files, to unpack in the state dir's parent. The marker keeps the volume
    non-empty, so Docker's copy-up from the image never resets the owner."""
    uid, gid = spec.state_owner
    top = PurePosixPath(spec.state_dir).name
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        root = tarfile.TarInfo(top)
        root.type, root.mode, root.uid, root.gid = tarfile.DIRTYPE, 0o700, uid, gid
        tar.addfile(root)
        marker = RenderedFile(path=MARKER, content=f"{spec.name}\n", mode=0o644)
        for f in (marker, *spec.files):
            data = f.content.encode()
            info = tarfile.TarInfo(f"{top}/{f.path}")
            info.size, info.mode, info.uid, info.gid = len(data), f.mode, uid, gid
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class DockerRuntime:
    # where pods are probed through when the host cannot reach their addresses (a swarm's
    # edge: see services/swarm_edge.py); None: at the container's own address
    edge_address: tuple[str, int] | None = None

    def __init__(
        self,
        instance: str,
        client: docker.DockerClient | None = None,
        subnets: SubnetPool | None = None,
    ) -> None:
        self.instance = instance
        self._client = client
        self.subnets = subnets or SubnetPool()
        self._arch: str | None = None  # the engine's, as Docker names it (amd64, arm64)

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = docker.from_env(timeout=60)
                faults.watch_docker(self._client.api)
                self._client.ping()
            except DockerError as exc:
                raise RuntimeUnavailable(
                    f"cannot reach the Docker engine: {exc}. Is dockerd running?"
                ) from None
        return self._client

    def _labels(self) -> list[str]:
        return [f"{MANAGED}=true", f"{INSTANCE}={self.instance}"]

    # -- reading --------------------------------------------------------------------------

    def list_pods(
        self, extra_ids: list[str] | None = None, names: list[str] | None = None
    ) -> list[Actual]:
        """Every container of this instance in one API call (no inspect), or only those named
        ``names`` (a small answer where there are thousands), plus the adopted ones (which
        carry no labels) by id in one more."""
        filters: dict[str, list[str]] = {"label": self._labels()}
        if names is not None:  # Docker matches each as a regular expression, "/" first
            wanted = [*names, *(netns.holder_name(n) for n in names)]
            filters["name"] = [f"^/{re.escape(n)}$" for n in wanted]
        rows = self.client.api.containers(all=True, filters=filters)
        if extra_ids:
            seen = {r["Id"] for r in rows}
            more = self.client.api.containers(all=True, filters={"id": extra_ids})
            rows += [r for r in more if r["Id"] not in seen and r["Id"] in extra_ids]
        return _with_holders_addresses([_actual(r) for r in rows])

    def find(self, container_id: str) -> Actual | None:
        """One container by id, ours or not (adopted containers carry no labels)."""
        rows = self.client.api.containers(all=True, filters={"id": container_id})
        return _actual(rows[0]) if rows else None

    def inspect_all(self) -> list[dict[str, Any]]:
        """Every container on the engine, inspected (for discovery, not for the loop)."""
        ids = [r["Id"] for r in self.client.api.containers(all=True)]
        found = []
        for cid in ids:
            try:
                found.append(self.client.api.inspect_container(cid))
            except NotFound:  # removed in between
                continue
        return found

    def read_file(self, container_id: str, path: str, limit: int = 1 << 20) -> bytes | None:
        """A file from a container (running or not) through the engine; None if absent."""
        found = _unless_gone(lambda: self.client.api.get_archive(container_id, path))
        if found is None:  # no such container, or no such file
            return None
        stream, stat = found
        if stat.get("size", 0) > limit:
            raise ValueError(f"{path} is larger than {limit} bytes")
        data = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=data) as tar:
            member = next((m for m in tar.getmembers() if m.isfile()), None)
            extracted = tar.extractfile(member) if member else None
            return extracted.read() if extracted else None

    # Every call below that names a container answers None or False when it is gone.

    def inspect(self, container_id: str) -> dict[str, Any] | None:
        return _unless_gone(lambda: self.client.api.inspect_container(container_id))

    def logs(self, container_id: str, tail: int, follow: bool) -> Iterator[bytes] | None:
        """The log stream (it ends when the container goes), or None when already gone."""
        return _unless_gone(
            lambda: self.client.api.logs(
                container_id, stream=True, follow=follow, tail=tail, stdout=True, stderr=True
            )
        )

    def stats(self, container_id: str) -> dict[str, Any] | None:
        return _unless_gone(
            lambda: self.client.api.stats(container_id, stream=False, one_shot=True)
        )

    def events(self, since: float | None, actions: list[str]) -> Iterator[dict[str, Any]]:
        """Container events of these kinds, all containers: adopted ones carry no labels, so
        the caller picks ours by label or id."""
        filters = {"type": ["container"], "event": actions}
        return self.client.api.events(since=since, filters=filters, decode=True)

    # -- networks and volumes -------------------------------------------------------------

    def ensure_network(self, name: str) -> str:
        """The bridge network ``name``, created on the first free subnet of the pool if missing
        (another process may create it, or take that subnet, at the same moment)."""
        found = self._network_id(name)
        if found:
            return found
        api = self.client.api
        for subnet in self.subnets.free(self._subnets_in_use()):
            try:
                created = api.create_network(
                    name,
                    **self._network_kind(),
                    labels={MANAGED: "true", INSTANCE: self.instance},
                    ipam=IPAMConfig(
                        pool_configs=[IPAMPool(subnet=subnet, gateway=gateway_of(subnet))]
                    ),
                    check_duplicate=True,
                )
                return self._settle_duplicates(name, created["Id"])
            except docker.errors.APIError as exc:
                found = self._network_id(name)
                if found:  # created by another process meanwhile
                    return found
                if "overlap" not in str(exc):
                    raise
        raise RuntimeError(
            f"no free /{self.subnets.prefix} subnet left in network_pool {self.subnets.pool} "
            "for a tenant network: set network_pool to a larger range"
        )

    def _network_kind(self) -> dict[str, Any]:
        """The driver and options of a tenant network (a bridge on one engine)."""
        return {"driver": "bridge"}

    def _settle_duplicates(self, name: str, created: str) -> str:
        """Docker's duplicate-name check is not atomic: when two processes created ``name`` at
        once, both keep the earliest and remove the others."""
        same = [n for n in self.client.api.networks(names=[name]) if n["Name"] == name]
        if len(same) < 2:
            return created
        keeper, *others = sorted(same, key=lambda n: (n["Created"], n["Id"]))
        for net in others:
            _done(lambda net=net: self.client.api.remove_network(net["Id"]))  # 404: removed
        return keeper["Id"]

    def _network_id(self, name: str) -> str | None:
        found = [n for n in self.client.api.networks(names=[name]) if n["Name"] == name]
        return found[0]["Id"] if found else None

    def _subnets_in_use(self) -> list[str]:
        return [
            config["Subnet"]
            for net in self.client.api.networks()
            for config in (net.get("IPAM") or {}).get("Config") or []
            if config.get("Subnet")
        ]

    def network_gateway(self, name: str) -> str | None:
        try:
            return _gateway(self.client.api.inspect_network(name))
        except NotFound:
            return None

    def remove_network(self, name: str) -> bool:
        try:
            self.client.api.remove_network(name)
        except NotFound:
            return False
        return True

    def list_networks(self) -> dict[str, str | None]:
        """Our networks by name, with their gateway address (the host's address on each),
        in one API call."""
        nets = self.client.api.networks(filters={"label": self._labels()})
        return {n["Name"]: _gateway(n) for n in nets}

    def remove_volume(self, name: str) -> bool:
        try:
            self.client.api.remove_volume(name, force=True)
        except NotFound:
            return False
        return True

    # -- containers -----------------------------------------------------------------------

    def create(self, spec: ContainerSpec, holder: Actual | None = None) -> str:
        """Create the pod's container with its volume, files and hardening, in its network
        holder's namespace if it has one (``holder``: the one listed, if any); return its id."""
        api = self.client.api
        if not spec.volume.startswith("/"):  # a host path is an adopted pod's bind mount
            api.create_volume(spec.volume, labels={MANAGED: "true", INSTANCE: self.instance})
        self._seed_volume(spec)
        if spec.netns:
            self.ensure_holder(spec, holder)
        host_config = api.create_host_config(
            binds={spec.volume: {"bind": spec.state_dir, "mode": "rw"}},
            network_mode=f"container:{spec.netns}" if spec.netns else spec.network,
            mem_limit=spec.limits.memory_mb * 1024 * 1024,
            memswap_limit=spec.limits.memory_mb * 1024 * 1024,
            nano_cpus=int(spec.limits.cpus * 1e9),
            pids_limit=spec.limits.pids,
            cap_drop=["ALL"],
            cap_add=list(spec.cap_add) or None,
            security_opt=["no-new-privileges:true"],
            read_only=spec.read_only,
            tmpfs={"/tmp": "rw,nosuid,nodev,size=256m"} if spec.read_only else None,
            restart_policy={"Name": "unless-stopped"},
            log_config=LogConfig(type="json-file", config={"max-size": "10m", "max-file": "3"}),
        )
        created = api.create_container(
            spec.image,
            name=spec.name,
            command=list(spec.command) if spec.command else None,
            environment=spec.env,
            user=spec.user or "",
            labels=spec.final_labels(),
            healthcheck=None if spec.image_healthcheck else {"test": ["NONE"]},
            host_config=host_config,
            **({} if spec.netns else self._network_of(spec)),  # else the holder's
        )
        return created["Id"]

    def _network_of(self, spec: ContainerSpec) -> dict[str, Any]:
        """The hostname, network and DNS alias of a pod's network namespace. The hostname is
        stable across recreates: agents that lock their state by (hostname, pid), as OpenClaw's
        gateway owner lease does, can then reclaim a dead predecessor's lock."""
        api = self.client.api
        endpoint = api.create_endpoint_config(aliases=[spec.name])
        return {
            "hostname": spec.name[:63],
            "networking_config": api.create_networking_config({spec.network: endpoint}),
        }

    # -- network holders (core/netns.py) --------------------------------------------------

    @property
    def holders(self) -> bool:
        """Whether pods get a network holder: on one engine whose arch has the holder's
        program (a swarm's services do not)."""
        if self._arch is None:
            self._arch = str(self.client.version().get("Arch", ""))
        return netns.supported(self._arch)

    def ensure_holder(self, spec: ContainerSpec, holder: Actual | None) -> None:
        """The pod's holder running as ``spec`` wants it: the listed one if it is that (started
        if need be), else a new one (a changed or broken one is removed first)."""
        if holder is not None and holder.spec_hash == spec.holder_hash:
            try:
                if holder.state == "running" or self.start(holder.container_id):
                    return
            except docker.errors.APIError:  # its namespace cannot be set up again: a new one
                pass
        self.remove(holder.container_id if holder else spec.netns or "")
        api = self.client.api
        labels = {k: spec.labels[k] for k in (MANAGED, INSTANCE, POD_ID) if k in spec.labels}
        make = lambda: api.create_container(  # noqa: E731
            self._holder_image(),
            name=spec.netns,
            user="65534:65534",
            labels={**labels, netns.ROLE: netns.HOLDER_ROLE, SPEC_HASH: spec.holder_hash},
            host_config=api.create_host_config(
                network_mode=spec.network,
                mem_limit=64 << 20,  # its program needs nothing: a cap, as pods have
                pids_limit=4,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges:true"],
                read_only=True,
                # never restarted by Docker: a new namespace under a running pod would leave
                # the pod on the old one, cut off; serve recreates the pod with it instead
                restart_policy={"Name": "no"},
                log_config=LogConfig(type="none"),
            ),
            **self._network_of(spec),
        )["Id"]
        self._started(make)

    def _holder_image(self) -> str:
        """The holder's image, imported from the program's bytes the first time (no registry)."""
        assert self._arch is not None
        tag = netns.image_tag(self._arch)
        if not self.image_exists(tag):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                data = netns.program(self._arch)
                info = tarfile.TarInfo(netns.PROGRAM.lstrip("/"))
                info.size, info.mode = len(data), 0o755
                tar.addfile(info, io.BytesIO(data))
            repository, version = tag.split(":")
            changes = [f'CMD ["{netns.PROGRAM}"]']
            self.client.api.import_image_from_data(
                buf.getvalue(), repository=repository, tag=version, changes=changes
            )
        return tag

    def _seed_volume(self, spec: ContainerSpec) -> None:
        """Own the state dir by the agent's user and write its files, through a container that
        is created and never started (the pod's own may have a read-only root fs)."""
        with self.mounted(spec.image, spec.volume, spec.state_dir, "seed") as seeder:
            parent = str(PurePosixPath(spec.state_dir).parent)
            self.client.api.put_archive(seeder, parent, state_archive(spec))

    @contextlib.contextmanager
    def mounted(self, image: str, volume: str, mount: str, role: str) -> Iterator[str]:
        """The id of a container with ``volume`` at ``mount``, created and never started, for
        the engine's archive calls; removed afterwards."""
        api = self.client.api
        helper = api.create_container(
            image,
            command=["true"],
            labels={INSTANCE: self.instance, "agentpod.role": role},
            network_disabled=True,
            host_config=api.create_host_config(binds={volume: {"bind": mount, "mode": "rw"}}),
        )
        try:
            yield helper["Id"]
        finally:
            self.remove(helper["Id"])

    def start(self, container_id: str) -> bool:
        return _done(lambda: self.client.api.start(container_id))

    def create_started(self, spec: ContainerSpec, holder: Actual | None = None) -> str | None:
        """``create`` then ``start``: the running container's id, or None when it was removed
        before it could start."""
        return self._started(lambda: self.create(spec, holder))

    def _started(self, make: Callable[[], str]) -> str | None:
        """Make a container and start it. Starting many at once, the engine now and then fails
        a start ("OCI runtime start failed": docker/for-linux#647, seen here with 50 pods and
        their holders made in one pass) and leaves the container broken: it is removed and
        made once more."""
        cid = make()
        try:
            return cid if self.start(cid) else None
        except docker.errors.APIError as exc:
            if START_RACE not in str(exc):
                raise
        self.remove(cid)
        cid = make()
        return cid if self.start(cid) else None

    def stop(self, container_id: str, timeout: int = 10) -> bool:
        """SIGTERM, then SIGKILL after ``timeout`` (the agent can release its locks)."""
        return _done(lambda: self.client.api.stop(container_id, timeout=timeout))

    def restart(self, container_id: str, timeout: int = 10) -> bool:
        return _done(lambda: self.client.api.restart(container_id, timeout=timeout))

    def remove(self, container_id: str) -> bool:
        return _done(lambda: self.client.api.remove_container(container_id, force=True))

    def exec(
        self, container_id: str, argv: list[str], user: str | None = None
    ) -> ExecResult | None:
        """Run a command in a running container (no TTY, no stdin) and wait for it."""
        return _unless_gone(lambda: self._exec(container_id, argv, user))

    def _exec(self, container_id: str, argv: list[str], user: str | None) -> ExecResult:
        api = self.client.api
        created = api.exec_create(
            container_id, argv, stdout=True, stderr=True, stdin=False, tty=False, user=user or ""
        )
        out, err = api.exec_start(created["Id"], demux=True)
        code = api.exec_inspect(created["Id"]).get("ExitCode")
        return ExecResult(
            exit_code=-1 if code is None else int(code),
            stdout=(out or b"").decode(errors="replace"),
            stderr=(err or b"").decode(errors="replace"),
        )

    def image_exists(self, image: str) -> bool:
        try:
            self.client.api.inspect_image(image)
        except NotFound:
            return False
        return True

    def pull(self, image: str) -> None:
        try:
            self.client.images.pull(image)
        except DockerError as exc:
            raise RuntimeError(
                f"image {image} is not on this machine and cannot be pulled ({_short(exc)}): "
                "load it with 'docker load' or pass --image"
            ) from None

    def ping(self) -> str:
        """The engine's version, or raise RuntimeUnavailable."""
        return self.client.version().get("Version", "?")


def _gateway(network: dict[str, Any]) -> str | None:
    configs = (network.get("IPAM") or {}).get("Config") or []
    return next((c["Gateway"] for c in configs if c.get("Gateway")), None)
