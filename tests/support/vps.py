"""A "fresh VPS" for end-to-end install tests: a Debian rootfs with systemd and the Docker engine,
booted as a container whose PID 1 is systemd (this machine's is not).

- The image is built with debootstrap from the Debian mirror apt uses and cached by tag (a hash
  of the package list), so only the first run pays for it.
- It runs with an explicit ``--cap-add`` list of every capability this host holds (``--privileged``
  fails here: the host lacks CAP_SYS_RESOURCE), seccomp unconfined, the host's cgroup namespace,
  and ``/sys/fs/cgroup`` bound read-only.
- The cgroup trap: systemd inside mounts every v1 controller the host has not mounted, where the
  host cannot see them, and the host's ``docker stats`` then reads 0 B for every container. So
  every controller of /proc/cgroups is mounted on the host first (:func:`ensure_host_cgroups`).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.buildcache import ensure_image
from tests.support.proc import wait_until

SUITE = "bookworm"
PACKAGES = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "docker.io",
    "python3",
    "python3-venv",
    "curl",
    "ca-certificates",
    "iproute2",
    "iptables",
    "procps",
]
IMAGE_REVISION = "1"  # bump to rebuild the cached image
CGROUP_ROOT = Path("/sys/fs/cgroup")

CAP_NAMES = [  # capability numbers 0..37, as Docker names them (20.10 knows no BPF/PERFMON/...)
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
]


class VpsError(RuntimeError):
    pass


def sh(*args: str, input: bytes | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(list(args), input=input, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise VpsError(
            f"{' '.join(args[:6])} -> {proc.returncode}\n"
            f"{proc.stdout.decode(errors='replace')[-3000:]}\n"
            f"{proc.stderr.decode(errors='replace')[-3000:]}"
        )
    return proc.stdout.decode(errors="replace")


def debian_mirror() -> str:
    """The Debian mirror apt already uses on this machine."""
    texts = []
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    for text in texts:
        for url in re.findall(r"(?:URIs:|^deb)\s+(\S+)", text, flags=re.M):
            if "debian" in url and "security" not in url:
                return url
    return "http://deb.debian.org/debian"


def host_caps() -> list[str]:
    """Every capability in this process's bounding set (what ``--cap-add`` may ask for)."""
    status = Path("/proc/self/status").read_text()
    bnd = int(re.search(r"^CapBnd:\s*([0-9a-f]+)", status, flags=re.M).group(1), 16)  # type: ignore[union-attr]
    return [name for bit, name in enumerate(CAP_NAMES) if bnd & (1 << bit)]


def ensure_host_cgroups() -> list[str]:
    """Mount every cgroup v1 controller of /proc/cgroups that the host has not mounted; return
    the hierarchies mounted here (systemd's names: ``net_cls,net_prio`` together)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return []  # cgroup v2: nothing to do
    enabled = [
        line.split()[0]
        for line in Path("/proc/cgroups").read_text().splitlines()[1:]
        if line.split()[-1] == "1"
    ]
    mounted: set[str] = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split(" - ")
        if len(fields) == 2 and fields[1].startswith("cgroup "):
            mounted.update(fields[1].split()[-1].split(","))
    missing = [c for c in enabled if c not in mounted]
    if not missing:
        return []
    groups: list[list[str]] = []
    pair = [c for c in ("net_cls", "net_prio") if c in missing]
    if pair:
        groups.append(pair)
    groups += [[c] for c in missing if c not in pair]
    if _mount_options(CGROUP_ROOT).startswith("ro"):  # left read-only by an earlier boot
        sh("mount", "-o", "remount,rw", str(CGROUP_ROOT))
    done = []
    for group in groups:
        name = ",".join(group)
        target = CGROUP_ROOT / name
        target.mkdir(exist_ok=True)
        sh("mount", "-t", "cgroup", "-o", name, "cgroup", str(target))
        if len(group) > 1:
            for member in group:
                link = CGROUP_ROOT / member
                if not link.exists():
                    link.symlink_to(name)
        done.append(name)
    return done


def _mount_options(path: Path) -> str:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if line.split()[4] == str(path):
            return line.split()[5]
    return ""


def vps_image() -> str:
    """The cached image tag of the fresh-VPS rootfs; built with debootstrap when missing."""
    digest = hashlib.sha256(f"{SUITE} {PACKAGES} {IMAGE_REVISION}".encode()).hexdigest()[:12]
    return ensure_image(f"agentpod-test/vps:{digest}", _build_vps_image)


def _build_vps_image(tag: str) -> None:
    if not shutil.which("debootstrap"):
        raise VpsError("debootstrap is missing: apt-get install -y debootstrap")
    root = Path(tempfile.mkdtemp(prefix="vps-rootfs-", dir="/var/tmp"))
    try:
        _debootstrap(root)
        (root / "etc/hostname").write_text("vps\n")
        # a fresh VPS has no machine id until its first boot
        (root / "etc/machine-id").write_text("")
        # keep journald small and quiet; no getty on a container console
        (root / "etc/systemd/journald.conf.d").mkdir(parents=True, exist_ok=True)
        (root / "etc/systemd/journald.conf.d/size.conf").write_text(
            "[Journal]\nSystemMaxUse=32M\nForwardToConsole=no\n"
        )
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        sh(
            "bash",
            "-c",
            'set -o pipefail; tar -C "$1" -c . | docker import -c \'CMD ["/sbin/init"]\' - "$2"',
            "-",
            str(root),
            tag,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _debootstrap(root: Path, attempts: int = 3) -> None:
    """debootstrap into ``root``, again from empty when the mirror failed (it does not retry a
    download itself: one lost Release file failed a whole CI run)."""
    for attempt in range(1, attempts + 1):
        try:
            sh("debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
               str(root), debian_mirror(), timeout=1200)  # fmt: skip
            return
        except VpsError:
            if attempt == attempts:
                raise
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            time.sleep(10 * attempt)


@dataclass
class Vps:
    """One booted fresh-VPS container."""

    name: str
    volume: str

    @classmethod
    def boot(cls, image: str, name: str, timeout: float = 120) -> Vps:
        ensure_host_cgroups()
        volume = f"{name}-docker"
        args = [
            "docker",
            "run",
            "-d",
            "--name",
            name,
            "--hostname",
            "vps",
            "--cgroupns=host",
            "-v",
            f"{CGROUP_ROOT}:{CGROUP_ROOT}:ro",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "-v",
            f"{volume}:/var/lib/docker",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "apparmor=unconfined",
            "--stop-signal",
            "SIGRTMIN+3",
        ]
        for cap in host_caps():
            args += ["--cap-add", cap]
        sh(*args, image)
        vps = cls(name, volume)
        vps.wait_running(timeout)
        return vps

    def exec(
        self,
        command: str,
        *,
        input: bytes | None = None,
        check: bool = True,
        timeout: float = 600,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        args = ["docker", "exec", "-i"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        proc = subprocess.run(
            [*args, self.name, "bash", "-c", command],
            input=input.decode() if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise VpsError(
                f"in {self.name}: {command!r} -> {proc.returncode}\n"
                f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
            )
        return proc

    def pipe(self, command: str, data: bytes = b"", timeout: float = 600) -> bytes:
        """Run ``command`` with ``data`` on its standard input; its standard output, in bytes
        (archives, tar streams)."""
        proc = subprocess.run(
            ["docker", "exec", "-i", self.name, "bash", "-c", command],
            input=data,
            capture_output=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise VpsError(
                f"in {self.name}: {command!r} -> {proc.returncode}: {proc.stderr[-2000:]!r}"
            )
        return proc.stdout

    def http(self, host: str, path: str = "/") -> tuple[int, str]:
        """GET ``path`` through the VPS's own port 80 with this Host header: status, body."""
        probe = self.exec(
            f"curl -s -o /tmp/body -w '%{{http_code}}' -H 'Host: {host}' http://127.0.0.1{path};"
            " echo; cat /tmp/body",
            check=False,
        )
        code, _, body = probe.stdout.partition("\n")
        return int(code.strip() or 0), body

    def wait_http(self, host: str, path: str = "/", timeout: float = 30) -> str:
        """The body of the first 200 for ``path`` on ``host`` through port 80."""

        def answered() -> tuple[int, str] | None:
            status, body = self.http(host, path)
            return (status, body) if status == 200 else None

        return wait_until(answered, timeout, every=0.5)[1]

    def wait_running(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            proc = self.exec("systemctl is-system-running", check=False, timeout=30)
            state = proc.stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        else:
            raise VpsError(f"systemd in {self.name} did not reach running: {state!r}")
        if state == "degraded":
            failed = self.exec("systemctl --failed --no-legend", check=False).stdout
            raise VpsError(f"systemd in {self.name} is degraded:\n{failed}")
        self.exec(
            "for i in $(seq 1 60); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done;"
            " systemctl status docker --no-pager; exit 1",
            timeout=90,
        )

    def gateway(self) -> str:
        """The address the container reaches this host on (its bridge's gateway)."""
        return sh(
            "docker",
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}",
            self.name,
        ).strip()

    def address(self) -> str:
        """The container's own address on that bridge (``hostname -I`` inside may list its
        Docker's docker0 first, an address this host has too)."""
        return sh(
            "docker",
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            self.name,
        ).strip()

    def load_image(self, tag: str) -> None:
        sh(
            "bash",
            "-c",
            'set -o pipefail; docker save "$1" | docker exec -i "$2" docker load',
            "-",
            tag,
            self.name,
        )

    def remove(self) -> None:
        """The container and its engine's volume (even when the engine is slow to stop it)."""
        try:
            subprocess.run(
                ["docker", "rm", "-f", "-v", self.name], capture_output=True, timeout=300
            )
        finally:
            subprocess.run(
                ["docker", "volume", "rm", "-f", self.volume], capture_output=True, timeout=300
            )


def get_agentpod(vps: Vps, served: str, *flags: str) -> str:
    """``curl -fsSL <served>/get-agentpod.sh | bash -s -- FLAGS`` in the VPS, as a new user types
    it (the pyz from ``served`` too); its whole output. Raises unless it succeeded, checked the
    pyz's sha256 and failed no task."""
    proc = vps.exec(
        f"curl -fsSL {served}/get-agentpod.sh"
        f" | AGENTPOD_DOWNLOAD_URL={served}/agentpod.pyz bash -s -- {' '.join(flags)}",
        check=False,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 or "sha256 ok" not in out or "failed=0" not in out:
        raise VpsError(f"get-agentpod.sh -> {proc.returncode}\n{out[-6000:]}")
    return out


def first_admin(vps: Vps, install_output: str) -> dict:
    """Log in to the installed HTTP API (127.0.0.1:8787 in the VPS) as the first admin with the
    password ``agentpod install`` showed once in ``install_output``; ``GET /api/v1/me`` with
    that session cookie."""
    found = re.search(r"its password, shown this once: (\S+)", install_output)
    if not found:
        raise VpsError(
            f"no first admin password in the install's output:\n{install_output[-3000:]}"
        )
    login = json.dumps({"username": "admin", "password": found.group(1)})
    api = "http://127.0.0.1:8787/api/v1"
    me = vps.exec(
        "cat > /tmp/login.json && curl -fsS --retry 30 --retry-delay 1 --retry-connrefused"
        " -c /tmp/jar -H 'Content-Type: application/json' --data-binary @/tmp/login.json"
        f" {api}/auth/login >/dev/null && grep -q agentpod_session /tmp/jar"
        f" && curl -fsS -b /tmp/jar {api}/me",
        input=login.encode(),
    )
    return json.loads(me.stdout)
