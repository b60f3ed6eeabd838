"""cgroup v2 layouts (Debian 12, Ubuntu 24.04; the CI machine has v1, read for real in
tests/integration/test_metrics_sources.py), as the kernel names the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentpod.services import cgroups

CID = "ab" * 32


@pytest.mark.parametrize("where", ["system.slice/docker-{id}.scope", "docker/{id}"])
def test_v2_usage_without_inactive_page_cache(tmp_path: Path, where: str) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    found = tmp_path / where.format(id=CID)
    found.mkdir(parents=True)
    (found / "memory.current").write_text("10485760\n")
    (found / "memory.stat").write_text("anon 6291456\nfile 4194304\ninactive_file 2097152\n")
    (found / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    assert cgroups.usage(CID, tmp_path) == cgroups.Usage(8388608, 2.5)


def test_v2_unknown_layout_or_unreadable_files_give_nothing(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    assert cgroups.usage(CID, tmp_path) is None
    found = tmp_path / "docker" / CID
    found.mkdir(parents=True)
    (found / "memory.current").write_text("max\n")
    assert cgroups.usage(CID, tmp_path) is None
