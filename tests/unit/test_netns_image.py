"""The network holder's program: a valid static ELF for each architecture AgentPod runs on."""

from __future__ import annotations

import io
import struct
import tarfile

import pytest

from agentpod.services import netns_image


@pytest.mark.parametrize(("arch", "machine"), [("amd64", 0x3E), ("arm64", 0xB7)])
def test_program_is_a_loadable_static_elf(arch: str, machine: int) -> None:
    elf = netns_image.program(arch)
    assert elf[:7] == b"\x7fELF\x02\x01\x01"  # 64-bit, little-endian
    kind, got_machine, _, entry, phoff = struct.unpack_from("<HHIQQ", elf, 16)
    assert (kind, got_machine, phoff) == (2, machine, 64)  # an executable, no interpreter
    p_type, flags, offset, vaddr, _, filesz, memsz, _ = struct.unpack_from("<IIQQQQQQ", elf, 64)
    assert (p_type, flags, offset) == (1, 5, 0) and filesz == memsz == len(elf)
    assert vaddr + 120 == entry < vaddr + len(elf)  # the code right after the headers


def test_the_image_is_named_by_its_content_and_holds_only_the_program() -> None:
    assert netns_image.tag("amd64") != netns_image.tag("arm64")
    assert netns_image.tag("amd64") == netns_image.tag("amd64")
    with tarfile.open(fileobj=io.BytesIO(netns_image.rootfs("amd64"))) as tar:
        (member,) = tar.getmembers()
        assert "/" + member.name == netns_image.PROGRAM and member.mode == 0o755


def test_an_unknown_architecture_is_a_clear_error() -> None:
    with pytest.raises(netns_image.UnsupportedArchitecture, match="amd64 and arm64"):
        netns_image.program("riscv64")
