"""A pod's network holder: a tiny container that owns the pod's network namespace (address,
DNS alias, hostname) while the pod's own container joins it (``network_mode=container:``).

Why: starting a container in a new network namespace is serialized by the engine and the
kernel (~0.15 s each here, so 10 restarted at once take ~2 s); joining a living namespace is
not. A pod's restart then skips the network setup, and the pod keeps its address across
restarts, recreates and upgrades. This module is pure: names, labels and the holder's program.
"""

from __future__ import annotations

import hashlib
import struct

ROLE = "agentpod.role"
HOLDER_ROLE = "netns"
HOLDER_SUFFIX = ".net"
IMAGE_REPOSITORY = "agentpod-netns"
PROGRAM = "/pause"

_ARM64 = (0xD2800928, 0xD2800000, 0xD2800001, 0xD2800002, 0xD2800003, 0xD4000001, 0x17FFFFFA)
# The holder's only process: a loop on pause() (x86-64) or ppoll(NULL, 0, NULL, NULL) (arm64,
# which has no pause), so it sleeps until killed. Machine code by Docker's name of the arch.
_CODE = {
    # mov eax, 34 (pause); syscall; jmp back to the mov
    "amd64": (62, bytes.fromhex("b822000000 0f05 ebf7")),
    # (arm64, _ARM64) movz x8, #73 (ppoll); movz x0..x3, #0; svc #0; b back to the first movz
    "arm64": (183, struct.pack("<7I", *_ARM64)),
}
_BASE = 0x400000
_HEADERS = 64 + 56  # the ELF header and one program header; the code follows them


def holder_name(container: str) -> str:
    """The holder of the pod whose container is ``container``."""
    return f"{container}{HOLDER_SUFFIX}"


def supported(arch: str) -> bool:
    return arch in _CODE


def program(arch: str) -> bytes:
    """A static ELF executable (129 bytes on amd64) that sleeps until killed."""
    machine, code = _CODE[arch]
    size = _HEADERS + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, System V
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", 2, machine, 1, _BASE + _HEADERS, 64, 0, 0, 64, 56, 1, 0, 0, 0
    )
    segment = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, size, size, 0x1000)  # R+X
    return header + segment + code


def image_tag(arch: str) -> str:
    """The holder image's name: by arch and the program's digest, so a change makes a new one."""
    digest = hashlib.sha256(program(arch)).hexdigest()[:12]
    return f"{IMAGE_REPOSITORY}:{arch}-{digest}"
