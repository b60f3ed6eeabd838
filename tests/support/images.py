"""Test images built locally (no registry): a busybox-static rootfs through ``docker import``.

Built once per content hash and cached by tag (safe when several workers ask at once), so
reruns take no time.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from tests.support.buildcache import ensure_image

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
    # the swarm runtime seeds, copies and checks volumes on their nodes with the image's tools
    "tar",
    "sha256sum",
    "tee",
    "mkfifo",
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
    name: str,
    extra: dict[str, tuple[bytes, int]],
    dirs: dict[str, int],
    changes: list[str],
) -> str:
    parts = [k.encode() + v[0] for k, v in sorted(extra.items())] + [str(dirs).encode()]
    digest = hashlib.sha256(
        b"".join(parts) + str((changes, APPLETS)).encode() + _busybox().read_bytes()
    ).hexdigest()[:12]
    return ensure_image(
        f"agentpod-test/{name}:{digest}",
        lambda tag: docker_import(_rootfs_tar(extra, dirs), changes, tag),
    )


def docker_import(rootfs: bytes, changes: list[str], tag: str) -> None:
    """``docker import`` a rootfs tarball as ``tag`` (tagged only once the import is complete)."""
    args = ["docker", "import"]
    for change in changes:
        args += ["-c", change]
    subprocess.run([*args, "-", tag], input=rootfs, check=True, capture_output=True)


PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\n"


def fake_openclaw_image() -> str:
    """Gateway-shaped: ``node`` and ``openclaw`` on PATH serving /readyz on ``--port``, state
    dir /home/node/.openclaw owned by uid 1000 (as in the real image)."""
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
    return _build("fakeclaw", extra, dirs, changes)


def web_image() -> str:
    """The stand-in agent image (see images/web/start.sh); returns its tag."""
    return _web("web", "EXPOSE 8080")


def exiting_web_image() -> str:
    """The stand-in agent that exits at once (MODE=exit): an image that never gets healthy."""
    return _web("web-exit", "ENV MODE=exit")


def _web(name: str, change: str) -> str:
    extra = {
        "start.sh": ((HERE / "web" / "start.sh").read_bytes(), 0o755),
        "etc/passwd": (PASSWD, 0o644),
    }
    return _build(name, extra, {}, ['CMD ["/start.sh"]', change])
