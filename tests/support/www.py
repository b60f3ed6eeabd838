"""Files over HTTP for a VPS container: what ``curl | bash`` fetches in the install tests."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def served_files(files: list[Path], www: Path, address: str) -> Iterator[str]:
    """``files`` (linked into the empty directory ``www``) served on ``address`` (a VPS's bridge
    gateway) at a free port; yields the base URL."""
    for src in files:
        (www / src.name).symlink_to(src)
    handler = functools.partial(QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer((address, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
