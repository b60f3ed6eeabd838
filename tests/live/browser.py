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
from typing import Any

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
def chromium(domain: str, resolve_to: str, netns: Netns | None = None) -> Iterator[Any]:
    """A headless Chromium (a playwright Browser) where every name under ``domain`` resolves
    to ``resolve_to``."""
    from playwright.sync_api import sync_playwright

    executable = CHROMIUM
    with tempfile.TemporaryDirectory(prefix="chromium-") as tmp:
        if netns is not None:
            executable = f"{tmp}/chromium-in-{netns.name}"
            Path(executable).write_text(
                f'#!/bin/sh\nexec ip netns exec {netns.name} {CHROMIUM} "$@"\n'
            )
            os.chmod(executable, 0o755)
        rules = f"--host-resolver-rules=MAP *.{domain} {resolve_to}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=[*FLAGS, rules])
            try:
                yield browser
            finally:
                browser.close()


class Watch:
    """What a page did, for failure messages: console errors, and the WebSocket frames that
    answered a request with an error (the gateway's own words). ``network_changes`` counts
    loads Chromium aborted with ERR_NETWORK_CHANGED, which it does whenever an interface comes
    or goes on this shared machine (Docker networks, veths); attach it before the first load."""

    def __init__(self, page: Any) -> None:
        self.events: list[str] = []
        self.network_changes = 0
        page.on("console", self._console)
        page.on("websocket", self._websocket)

    def _console(self, message: Any) -> None:
        if "ERR_NETWORK_CHANGED" in message.text:
            self.network_changes += 1
        if message.type == "error":
            self.events.append(f"console: {message.text[:300]}")

    def _websocket(self, ws: Any) -> None:
        self.events.append(f"ws open {ws.url}")
        ws.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        text = payload if isinstance(payload, str) else payload.decode(errors="replace")
        if '"ok":false' in text:
            self.events.append(f"ws< {text[:400]}")

    def __str__(self) -> str:
        changed = f"{self.network_changes} loads aborted by ERR_NETWORK_CHANGED"
        return "\n".join([*self.events[-20:], changed])


def goto(page: Any, url: str, tries: int = 5) -> None:
    """``page.goto``, again when Chromium aborted the navigation with ERR_NETWORK_CHANGED."""
    from playwright.sync_api import Error

    for attempt in range(1, tries + 1):
        try:
            page.goto(url)
            return
        except Error as exc:
            if "ERR_NETWORK_CHANGED" not in str(exc) or attempt == tries:
                raise


def screenshot(page: Any, name: str) -> Path:
    """Saved as a test artifact; the path is printed (pytest shows it with -s or on failure)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"agentpod-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
