"""Cached test builds are safe when several processes ask at once (xdist workers on a new machine):
one builds, the others wait and reuse; a crashed half-build is rebuilt, never reused."""

from __future__ import annotations

import multiprocessing
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.support.buildcache import MARKER, ensure_dir, ensure_image
from tests.support.images import docker_import

WORKERS = 4


def _slow_tree(log: Path):
    def build(tmp: Path) -> None:
        with open(log, "a") as fh:
            fh.write("build\n")
        for i in range(20):  # long enough for the others to arrive mid-build
            (tmp / f"part{i}").write_text(str(i))
            time.sleep(0.02)

    return build


def _ask_for_dir(target: str, log: str, results) -> None:
    path = ensure_dir(Path(target), _slow_tree(Path(log)))
    results.put(sorted(p.name for p in path.iterdir()))


def _ask_for_image(tag: str, log: str, results) -> None:
    def build(t: str) -> None:
        with open(log, "a") as fh:
            fh.write("build\n")
        time.sleep(0.5)
        docker_import(b"\0" * 1024, [], t)  # an empty tar: a valid, empty image

    results.put(ensure_image(tag, build))


def _in_parallel(target, *args) -> list:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, results)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return got


def test_a_directory_is_built_once_and_never_seen_half_done(tmp_path: Path) -> None:
    target, log = tmp_path / "cache" / "tree", tmp_path / "builds.log"
    seen = _in_parallel(_ask_for_dir, str(target), str(log))
    assert log.read_text().count("build") == 1
    complete = sorted([MARKER, *(f"part{i}" for i in range(20))])
    assert seen == [complete] * WORKERS
    assert [p.name for p in target.parent.iterdir()] == ["tree"]  # no temporary dir left


def test_a_crashed_half_build_is_rebuilt(tmp_path: Path) -> None:
    target, log = tmp_path / "tree", tmp_path / "builds.log"
    target.mkdir()
    (target / "part0").write_text("half")  # what a killed build left: no marker

    def crashing(tmp: Path) -> None:
        (tmp / "part0").write_text("x")
        raise RuntimeError("killed mid-build")

    with pytest.raises(RuntimeError):
        ensure_dir(target, crashing)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # the failed build's temp dir is gone
    ensure_dir(target, _slow_tree(log))
    assert (target / MARKER).exists() and (target / "part0").read_text() == "0"


def test_an_image_is_built_once(docker_client) -> None:
    tag = f"agentpod-test/cache-probe:{uuid.uuid4().hex[:12]}"
    log = Path(f"/tmp/{tag.replace('/', '_')}.log")
    try:
        assert _in_parallel(_ask_for_image, tag, str(log)) == [tag] * WORKERS
        assert log.read_text().count("build") == 1
    finally:
        log.unlink(missing_ok=True)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
