"""Cached builds that several test processes (xdist workers, parallel runs) may ask for at once.

One process builds under an inter-process lock (``flock``); the others wait on it and then reuse
what it published. A build is published atomically: an image by its tag (``docker import`` and
``docker build`` apply the tag only once the image is complete), a directory by renaming a
temporary one that holds a completion marker. A crashed half-build is never taken for a finished
one: without its marker a directory is removed and built again.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir()) / "agentpod-build-locks"
MARKER = ".complete"


@contextmanager
def build_lock(key: str) -> Iterator[None]:
    """Hold the machine-wide lock named ``key`` (released when the holder dies, too)."""
    LOCK_DIR.mkdir(mode=0o777, exist_ok=True)
    path = LOCK_DIR / (re.sub(r"[^A-Za-z0-9_.-]", "_", key) + ".lock")
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def ensure_image(tag: str, build: Callable[[str], object]) -> str:
    """Return ``tag``, calling ``build(tag)`` under the tag's lock when no such image exists yet."""
    if image_exists(tag):
        return tag
    with build_lock(f"image-{tag}"):
        if not image_exists(tag):
            build(tag)
    return tag


def ensure_dir(path: Path, build: Callable[[Path], object]) -> Path:
    """Return ``path``, a directory that ``build(tmp)`` filled in a fresh sibling ``tmp``.

    ``tmp`` is renamed to ``path`` only after ``build`` returned, with the marker inside."""
    if (path / MARKER).exists():
        return path
    with build_lock(f"dir-{path}"):
        if (path / MARKER).exists():
            return path
        if path.exists():  # a half-build from a crashed run (or an older layout)
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.building-", dir=path.parent))
        try:
            build(tmp)
            (tmp / MARKER).write_text(f"{os.getpid()}\n")
            tmp.rename(path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def ensure_file(path: Path, build: Callable[[Path], object]) -> Path:
    """Return ``path``, a file that ``build(tmp)`` wrote to a temporary sibling, renamed last."""
    if path.exists():
        return path
    with build_lock(f"file-{path}"):
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.building-{os.getpid()}")
        try:
            build(tmp)
            tmp.rename(path)
        finally:
            tmp.unlink(missing_ok=True)
    return path
