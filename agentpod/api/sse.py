"""Server-Sent Events: each item one ``data:`` event (JSON, or a line of text)."""

from __future__ import annotations

import json
from typing import Any

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
KEEPALIVE = ": keep-alive\n\n"  # a comment line: keeps proxies from closing a quiet stream


def event(data: Any, name: str | None = None, event_id: int | None = None) -> str:
    text = data if isinstance(data, str) else json.dumps(data, default=str)
    lines = [f"event: {name}"] if name else []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in text.splitlines() or [""]]
    return "\n".join(lines) + "\n\n"
