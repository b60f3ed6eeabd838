"""A WebSocket test image built locally: this machine's Python, its stdlib, the ``websockets``
package and ``images/ws/server.py``, imported with ``docker import`` (no registry, no base).

The interpreter's shared libraries are found with ``ldd`` and copied at the same paths. Built
once per interpreter/library/server version and cached by tag (a few seconds when missing).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import websockets

from tests.support.buildcache import ensure_image
from tests.support.images import docker_import

HERE = Path(__file__).parent / "images" / "ws"
SKIP_DIRS = {
    "__pycache__",
    "test",
    "tests",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "pydoc_data",
    "site-packages",
    "dist-packages",
}
SKIP_MODULES = re.compile(r"^(_tkinter|_test|xx|_ctypes_test|_xxtest)")
LDD_PATH = re.compile(r"(/\S+) \(0x")


def _interpreter() -> Path:
    return Path(os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable))


def _stdlib() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _shared_libs(binaries: list[Path]) -> set[str]:
    found: set[str] = set()
    for chunk in range(0, len(binaries), 50):
        out = subprocess.run(
            ["ldd", *map(str, binaries[chunk : chunk + 50])], capture_output=True, text=True
        ).stdout
        found.update(LDD_PATH.findall(out))
    return found


def _add_dirs(tar: tarfile.TarFile, path: str, made: set[str]) -> None:
    parts = Path(path).parts[1:-1]
    for i in range(1, len(parts) + 1):
        name = "/".join(parts[:i])
        if name not in made:
            made.add(name)
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)


def _add_file(tar: tarfile.TarFile, source: Path, target: str, made: set[str]) -> None:
    _add_dirs(tar, target, made)
    data = source.read_bytes()
    info = tarfile.TarInfo(target.lstrip("/"))
    info.size, info.mode = len(data), 0o755
    tar.addfile(info, io.BytesIO(data))


def _rootfs() -> tuple[bytes, list[str]]:
    stdlib, version = _stdlib(), f"python{sys.version_info[0]}.{sys.version_info[1]}"
    home = f"/py/lib/{version}"
    files: list[tuple[Path, str]] = [(_interpreter(), "/py/bin/python3")]
    for root, dirs, names in os.walk(stdlib):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith("config-")]
        rel = Path(root).relative_to(stdlib)
        for name in names:
            if name.endswith((".py", ".so")) and not SKIP_MODULES.match(name):
                files.append((Path(root) / name, f"{home}/{rel / name}".replace("/./", "/")))
    package = Path(websockets.__file__).parent
    for path in package.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            files.append((path, f"/app/websockets/{path.relative_to(package)}"))
    files.append((HERE / "server.py", "/app/server.py"))
    binaries = [src for src, _ in files if src.suffix == ".so"] + [_interpreter()]
    libs = _shared_libs(binaries)
    buf = io.BytesIO()
    made: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("tmp", "data"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777
            tar.addfile(info)
            made.add(d)
        for src, target in files:
            _add_file(tar, src, target, made)
        for lib in sorted(libs):
            _add_file(tar, Path(os.path.realpath(lib)), lib, made)
    return buf.getvalue(), sorted({str(Path(lib).parent) for lib in libs})


def ws_image() -> str:
    """The WebSocket stand-in agent image; returns its tag."""
    exe = _interpreter()
    key = "|".join(
        [
            sys.version,
            str(exe),
            str(exe.stat().st_size),
            websockets.__version__,
            (HERE / "server.py").read_text(),
            Path(__file__).read_text(),
        ]
    )
    tag = f"agentpod-test/ws:{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    return ensure_image(tag, _import)


def _import(tag: str) -> None:
    tar, lib_dirs = _rootfs()
    changes = [
        'CMD ["/py/bin/python3", "/app/server.py"]',
        "ENV PYTHONHOME=/py PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1",
        f"ENV LD_LIBRARY_PATH={':'.join(lib_dirs)}",
        "EXPOSE 8080",
    ]
    docker_import(tar, changes, tag)
