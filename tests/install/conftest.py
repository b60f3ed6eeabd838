"""Fixtures of the end-to-end install tests: the release pyz, a booted fresh VPS (one per
module, removed even on failure) and an HTTP server that hands both to ``curl | bash``."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.vps import Vps, vps_image
from tests.support.www import served_files

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pyz() -> Path:
    """``make pyz``, as a user types it (a no-op when dist/agentpod.pyz is newer than the
    sources; .ci/run has already run it)."""
    if not shutil.which("make"):
        pytest.fail("make is missing: apt-get install -y make", pytrace=False)
    proc = subprocess.run(
        ["make", "-C", str(ROOT), "pyz"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return ROOT / "dist" / "agentpod.pyz"


@pytest.fixture(scope="module")
def vps(docker_client) -> Iterator[Vps]:
    machine = Vps.boot(vps_image(), f"agentpod-vps-{uuid.uuid4().hex[:6]}")
    try:
        yield machine
    finally:
        machine.remove()


@pytest.fixture(scope="module")
def served(pyz: Path, vps: Vps, tmp_path_factory) -> Iterator[str]:
    """get-agentpod.sh, the pyz and its .sha256 over HTTP on the VPS's bridge gateway."""
    files = [ROOT / "get-agentpod.sh", pyz, pyz.with_name("agentpod.pyz.sha256")]
    with served_files(files, tmp_path_factory.mktemp("www"), vps.gateway()) as url:
        yield url
