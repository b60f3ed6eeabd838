"""The image of a pod's network holder: one static program that waits forever, nothing else.

A holder keeps a pod's network namespace while the pod's own container dies and starts again,
so a restart skips dockerd's network setup (serialized in the engine: 10 restarts at once took
~3 s on a bridge, ~0.8 s joining living holders). No registry is needed: the image is imported
from a tar made here, as Kubernetes' ``pause`` image is built from a tiny C program.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile

PROGRAM = "/pause"
_BASE = 0x400000
_HEADERS = 64 + 56  # one ELF64 header and one program header

# machine code of "loop: wait for a signal; jump to loop", by Docker's architecture name
_MACHINES: dict[str, tuple[int, bytes]] = {
    # mov eax, 34 (pause); syscall; jmp back
    "amd64": (0x3E, bytes.fromhex("b8220000000f05ebf5")),
    # mov x0..x3, #0; mov x8, #73 (ppoll with no fds and no timeout); svc #0; b back
    "arm64": (
        0xB7,
        b"".join(
            struct.pack("<I", word)
            for word in (
                0xD2800000,
                0xD2800001,
                0xD2800002,
                0xD2800003,
                0xD2800928,
                0xD4000001,
                0x17FFFFFA,
            )
        ),
    ),
}


class UnsupportedArchitecture(RuntimeError):
    pass


def program(arch: str) -> bytes:
    """A static ELF executable for ``arch`` (Docker's name: amd64, arm64) that never exits."""
    if arch not in _MACHINES:
        raise UnsupportedArchitecture(
            f"no network holder for architecture {arch}: AgentPod runs on amd64 and arm64"
        )
    machine, code = _MACHINES[arch]
    size = _HEADERS + len(code)
    header = b"\x7fELF\x02\x01\x01" + bytes(9)  # 64-bit, little-endian, version 1
    header += struct.pack(
        "<HHIQQQIHHHHHH", 2, machine, 1, _BASE + _HEADERS, 64, 0, 0, 64, 56, 1, 0, 0, 0
    )
    loadable = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, size, size, 0x1000)  # r-x
    return header + loadable + code


def rootfs(arch: str) -> bytes:
    """The image's whole file system as a tar: the program, owned by root, executable."""
    data = program(arch)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(PROGRAM.lstrip("/"))
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tag(arch: str) -> str:
    """The image's name, by its content: a new program is a new image."""
    digest = hashlib.sha256(program(arch)).hexdigest()[:12]
    return f"agentpod-netns:{arch}-{digest}"
