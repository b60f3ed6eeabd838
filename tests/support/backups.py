"""Files in a pod's volume, as tar streams through an engine, and a damaged backup archive."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import docker

Files = dict[str, tuple[bytes, int, int]]  # path -> (content, mode, uid)


def tar_of(files: dict[str, bytes]) -> bytes:
    """A tar of ``files`` (name -> content), each mode 0640 and owned by uid/gid 1000."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), 0o640, 1000, 1000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def files_of(stream: bytes) -> Files:
    """path -> (content, mode, uid) of every entry of a tar stream."""
    found = {}
    with tarfile.open(fileobj=io.BytesIO(stream)) as tar:
        for m in tar.getmembers():
            fh = tar.extractfile(m) if m.isfile() else None
            found[m.name] = (fh.read() if fh else b"", m.mode, m.uid)
    return found


def put_files(
    client: docker.DockerClient, container: str, directory: str, files: dict[str, bytes]
) -> None:
    """Write files (as uid 1000) into a pod's state dir through the engine."""
    client.api.put_archive(container, directory, tar_of(files))


def volume_files(client: docker.DockerClient, container: str, directory: str) -> Files:
    """path -> (content, mode, uid) of every entry under the pod's state dir."""
    stream, _ = client.api.get_archive(container, directory)
    return files_of(b"".join(stream))


def corrupt(archive: Path, needle: bytes, dest: Path) -> Path:
    """``dest``: the gzip ``archive`` unpacked to a plain tar with one byte of ``needle``
    flipped (its checksum no longer matches the manifest)."""
    data = bytearray(gzip.decompress(archive.read_bytes()))
    at = data.index(needle)
    data[at] ^= 0xFF
    dest.write_bytes(bytes(data))
    return dest
