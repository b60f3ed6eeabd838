"""Real headless Chromium for live tests: Debian's ``chromium`` driven by PyPI ``playwright``
(never ``playwright install``: no browser download). In a network namespace, the browser
process itself runs there (a wrapper execs it through ``ip netns exec``; Playwright talks to
it over a pipe), so its traffic comes from the namespace's own address."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.netns import Netns

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("AGENTPOD_TEST_ARTIFACTS") or Path(tempfile.gettempdir()))


@contextmanager
def chromium(resolve_to: str, netns: Netns | None = None) -> Iterator:  # -> Browser
    """A headless Chromium where every ``*.localhost`` name resolves to ``resolve_to``."""
    from playwright.sync_api import sync_playwright

    executable = CHROMIUM
    with tempfile.TemporaryDirectory(prefix="chromium-") as tmp:
        if netns is not None:
            executable = f"{tmp}/chromium-in-{netns.name}"
            Path(executable).write_text(
                f'#!/bin/sh\nexec ip netns exec {netns.name} {CHROMIUM} "$@"\n'
            )
            os.chmod(executable, 0o755)
        rules = f"--host-resolver-rules=MAP *.localhost {resolve_to}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=[*FLAGS, rules])
            try:
                yield browser
            finally:
                browser.close()


def screenshot(page, name: str) -> Path:  # page: playwright Page
    """Saved as a test artifact; the path is printed (pytest shows it with -s or on failure)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"agentpod-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
