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


def _rootfs_tar(extra: dict[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "data", "home", "etc"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
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


def web_image(client: docker.DockerClient | None = None) -> str:
    """The stand-in agent image (see images/web/start.sh); returns its tag."""
    client = client or docker.from_env()
    script = (HERE / "web" / "start.sh").read_bytes()
    passwd = b"root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home:/bin/sh\n"
    extra = {"start.sh": (script, 0o755), "etc/passwd": (passwd, 0o644)}
    digest = hashlib.sha256(script + passwd + _busybox().read_bytes()).hexdigest()[:12]
    tag = f"agentpod-test/web:{digest}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    changes = ['CMD ["/start.sh"]', "EXPOSE 8080"]
    args = ["docker", "import"]
    for change in changes:
        args += ["-c", change]
    subprocess.run([*args, "-", tag], input=_rootfs_tar(extra), check=True, capture_output=True)
    return tag
