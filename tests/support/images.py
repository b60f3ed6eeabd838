"""Test images built locally (no registry): a busybox-static rootfs through ``docker import``.

Built once per content hash and cached by tag, so reruns take no time.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import docker

HERE = Path(__file__).parent / "images"
BUSYBOX = Path("/bin/busybox")
APPLETS = [
    "sh",
    "httpd",
    "wget",
    "nc",
    "cat",
    "echo",
    "sleep",
    "mkdir",
    "printf",
    "ls",
    "id",
    "touch",
    "rm",
    "test",
    "kill",
    "ps",
]


def _busybox() -> Path:
    found = shutil.which("busybox") or (str(BUSYBOX) if BUSYBOX.exists() else None)
    if not found:
        raise RuntimeError("busybox is missing: apt-get install -y busybox-static")
    out = subprocess.run(["ldd", found], capture_output=True, text=True)
    if "not a dynamic executable" not in (out.stdout + out.stderr):
        raise RuntimeError(f"{found} is not static: apt-get install -y busybox-static")
    return Path(found)


def _rootfs_tar(extra: dict[str, tuple[bytes, int]], dirs: dict[str, int] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d, owner in {
            "bin": 0,
            "tmp": 0,
            "data": 0,
            "home": 0,
            "etc": 0,
            "usr": 0,
            **(dirs or {}),
        }.items():
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            info.uid = info.gid = owner
            tar.addfile(info)
        tar.add(str(_busybox()), arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for name, (data, mode) in extra.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _build(
    client: docker.DockerClient,
    name: str,
    extra: dict[str, tuple[bytes, int]],
    dirs: dict[str, int],
    changes: list[str],
) -> str:
    parts = [k.encode() + v[0] for k, v in sorted(extra.items())] + [str(dirs).encode()]
    digest = hashlib.sha256(
        b"".join(parts) + str(changes).encode() + _busybox().read_bytes()
    ).hexdigest()[:12]
    tag = f"agentpod-test/{name}:{digest}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    args = ["docker", "import"]
    for change in changes:
        args += ["-c", change]
    subprocess.run(
        [*args, "-", tag], input=_rootfs_tar(extra, dirs), check=True, capture_output=True
    )
    return tag


PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\n"


def fake_openclaw_image(client: docker.DockerClient | None = None) -> str:
    """Gateway-shaped: ``node`` and ``openclaw`` on PATH serving /readyz on ``--port``, state
    dir /home/node/.openclaw owned by uid 1000 (as in the real image)."""
    client = client or docker.from_env()
    shim = (HERE / "web" / "node").read_bytes()
    extra = {
        "start.sh": ((HERE / "web" / "start.sh").read_bytes(), 0o755),
        "etc/passwd": (PASSWD, 0o644),
        "usr/local/bin/node": (shim, 0o755),
        "usr/local/bin/openclaw": (shim, 0o755),
    }
    dirs = {"home/node": 1000, "home/node/.openclaw": 1000, "usr/local/bin": 0}
    changes = [
        'CMD ["node", "openclaw.mjs", "gateway", "--allow-unconfigured"]',
        "ENV PATH=/usr/local/bin:/bin HOME=/home/node",
        "USER 1000",
        "EXPOSE 18789",
        'VOLUME ["/home/node/.openclaw"]',
    ]
    return _build(client, "fakeclaw", extra, dirs, changes)


def web_image(client: docker.DockerClient | None = None) -> str:
    """The stand-in agent image (see images/web/start.sh); returns its tag."""
    return _web(client, "web", "EXPOSE 8080")


def exiting_web_image(client: docker.DockerClient | None = None) -> str:
    """The stand-in agent that exits at once (MODE=exit): an image that never gets healthy."""
    return _web(client, "web-exit", "ENV MODE=exit")


def _web(client: docker.DockerClient | None, name: str, change: str) -> str:
    extra = {
        "start.sh": ((HERE / "web" / "start.sh").read_bytes(), 0o755),
        "etc/passwd": (PASSWD, 0o644),
    }
    return _build(client or docker.from_env(), name, extra, {}, ['CMD ["/start.sh"]', change])
