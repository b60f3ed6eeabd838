"""Backup archives on disk: one tar (gzip-compressed when the name ends in .gz or .tgz) whose
first member is the manifest, then the members it lists with their size and sha256."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from agentpod.core.backup import MANIFEST, BackupError, Manifest, Member, check_format

CHUNK = 1 << 20


GZIP_LEVEL = 6  # tarfile's own is 9: twice the CPU for a few per cent


def _compressed(path: Path) -> bool:
    return path.name.endswith((".gz", ".tgz"))


def digest(path: Path) -> Member:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
    return Member(size=path.stat().st_size, sha256=sha.hexdigest())


def write(dest: Path, manifest: Manifest, staged: Path) -> None:
    """The archive at ``dest`` (0600, written to a temporary name then renamed): the manifest,
    then every member of it from the files under ``staged``."""
    tmp = dest.with_name(f".{dest.name}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL)
            if _compressed(dest)
            else contextlib.nullcontext(raw) as fh,
            tarfile.open(fileobj=fh, mode="w|") as tar,
        ):
            data = manifest.model_dump_json(indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(data), 0o600
            info.mtime = int(manifest.created_at.timestamp())
            tar.addfile(info, io.BytesIO(data))
            for name in manifest.members:
                tar.add(staged / name, arcname=name, recursive=False, filter=_private)
        tmp.replace(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Members readable by root alone (set in place: ``TarInfo.replace`` is missing before
    Python 3.11.4, e.g. from Debian 12's 3.11.2)."""
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    return info


def _manifest(data: bytes) -> Manifest:
    try:
        manifest = Manifest.model_validate_json(data)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise BackupError(f"the archive's manifest is not valid: {problem}") from None
    check_format(manifest)
    return manifest


@contextmanager
def _reading(path: Path) -> Iterator[tarfile.TarFile]:
    try:
        with tarfile.open(path, mode="r|*") as tar:
            yield tar
    except FileNotFoundError:
        raise BackupError(f"no archive {path}") from None
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:  # zlib.error is OSError-like
        raise BackupError(f"{path} is not a readable archive: {exc}") from None


def _first_manifest(tar: tarfile.TarFile, path: Path) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST:
        raise BackupError(f"{path} is not an AgentPod backup (no {MANIFEST} first)")
    fh = tar.extractfile(first)
    assert fh is not None
    return _manifest(fh.read())


def read_manifest(path: Path) -> Manifest:
    """Only the manifest (the first member): cheap, checks nothing else."""
    with _reading(path) as tar:
        return _first_manifest(tar, path)


def _safe(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(parts) and not PurePosixPath(name).is_absolute() and ".." not in parts


def unpack(path: Path, into: Path) -> Manifest:
    """Unpack every member into ``into`` and check each against the manifest: size, sha256,
    nothing missing, nothing extra. Raises BackupError on the first problem."""
    with _reading(path) as tar:
        manifest = _first_manifest(tar, path)
        seen: set[str] = set()
        while (info := tar.next()) is not None:
            expected = manifest.members.get(info.name)
            if expected is None or not info.isfile() or not _safe(info.name):
                raise BackupError(f"{path}: unexpected member {info.name!r}")
            got = _extract(tar, info, into / info.name)
            if got != expected:
                raise BackupError(
                    f"{path}: {info.name} is corrupted (sha256 {got.sha256[:12]}…, "
                    f"expected {expected.sha256[:12]}…)"
                )
            seen.add(info.name)
    missing = sorted(set(manifest.members) - seen)
    if missing:
        raise BackupError(f"{path} is incomplete: {', '.join(missing)} missing")
    return manifest


def _extract(tar: tarfile.TarFile, info: tarfile.TarInfo, dest: Path) -> Member:
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = tar.extractfile(info)
    assert src is not None
    sha, size = hashlib.sha256(), 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return Member(size=size, sha256=sha.hexdigest())
