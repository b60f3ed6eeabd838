"""Helpers for tests that run ``agentpod serve`` as a real process."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float = 20, every: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(every)


def start_serve(
    env: dict[str, str], *args: str, until: str = "serve.started"
) -> tuple[subprocess.Popen, Path]:
    """Start ``agentpod serve ARGS`` and wait for ``until`` in its log (the leader says
    serve.started, a standby serve.standby). The caller stops it and removes the log."""
    log = Path(tempfile.mkstemp(prefix="serve-", suffix=".log")[1])
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentpod", "serve", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: proc.poll() is not None or until in log.read_text(), 30)
        assert proc.poll() is None, log.read_text()
    except BaseException:
        proc.kill()
        proc.wait()
        log.unlink()
        raise
    return proc, log


@contextmanager
def serving(
    env: dict[str, str], *args: str, until: str = "serve.started"
) -> Iterator[tuple[subprocess.Popen, Path]]:
    """Run ``agentpod serve ARGS`` until the block ends; it must stop cleanly on SIGTERM."""
    proc, log = start_serve(env, *args, until=until)
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = stop_or_kill(proc, 30)
        text = log.read_text()
        log.unlink()
    assert code == 0, text
    assert "serve.stopped" in text, text


def stop_or_kill(proc: subprocess.Popen, timeout: float) -> int | None:
    """The exit code of a serve told to stop; if it does not within ``timeout``, it is made to
    print every thread's stack (SIGUSR1) into its log and killed, and None is returned."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(2)
        proc.kill()
        proc.wait()
        return None
