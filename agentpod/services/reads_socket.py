"""``pod list`` and ``pod status`` answered by a running ``serve`` over a Unix socket in the
home (``serve.sock``, mode 0600: its owner, who owns the database too), so that the CLI needs
neither psycopg nor a connection of its own: one line of JSON asks, one answers.

The socket serves the root CLI only: it answers what the database's owner may read, and
``control/pod_reads.py`` checks the caller as for any other source of rows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentpod.core.names import PodRef
from agentpod.services import errors

log = logging.getLogger("agentpod.serve")

SOCKET_NAME = "serve.sock"
TIMEOUT_S = 5.0
OPS = ("pod_views", "pod_views_json", "has_tenant")
REFUSALS = {"NotFound": errors.NotFound, "Conflict": errors.Conflict}


def socket_path(home: Path) -> Path:
    return home / SOCKET_NAME


# -- the CLI's side ---------------------------------------------------------------------------


class SocketRows:
    """Pods' rows from a running serve (``pod_reads.Rows``); ``connect`` says whether one runs."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lines = sock.makefile("rb")
        self._tenants: frozenset[str] | None = None

    @classmethod
    def connect(cls, home: Path) -> SocketRows | None:
        """A client of this home's serve, or None when none answers here (then read the
        database): no socket, a stale one, or one this user may not open."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT_S)
        try:
            sock.connect(str(socket_path(home)))
        except OSError:
            sock.close()
            return None
        return cls(sock)

    @contextlib.contextmanager
    def scoped(self, tenants: frozenset[str] | None) -> Iterator[None]:
        self._tenants = tenants
        try:
            yield
        finally:
            self._tenants = None

    def pod_views(
        self,
        url: tuple[str, str],
        tenant: str | None = None,
        ref: PodRef | None = None,
        tenants: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]:
        return self._ask("pod_views", url=url, tenant=tenant, ref=ref and str(ref), tenants=tenants)

    def pod_views_json(
        self,
        url: tuple[str, str],
        tenant: str | None = None,
        tenants: frozenset[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> str:
        asked = {"url": url, "tenant": tenant, "tenants": tenants, "limit": limit, "offset": offset}
        return self._ask("pod_views_json", **asked)

    def has_tenant(self, name: str) -> bool:
        return self._ask("has_tenant", name=name)

    def close(self) -> None:
        self._lines.close()
        self._sock.close()

    def _ask(self, op: str, **args: Any) -> Any:
        scope = None if self._tenants is None else sorted(self._tenants)
        if args.get("tenants") is not None:
            args["tenants"] = sorted(args["tenants"])
        request = {"op": op, "args": args, "scope": scope}
        self._sock.sendall(json.dumps(request).encode() + b"\n")
        answer = json.loads(self._lines.readline() or b'{"error": ["Failed", "serve hung up"]}')
        if "error" in answer:
            kind, message = answer["error"]
            raise REFUSALS.get(kind, RuntimeError)(message)
        return answer["ok"]


# -- serve's side ----------------------------------------------------------------------------


class ReadsServer:
    """Answers ``SocketRows`` from ``source`` (the store) on a thread of ``serve``."""

    def __init__(self, source: Any, home: Path) -> None:
        self.source = source
        self.path = socket_path(home)
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._inode = 0

    def start(self) -> None:
        """Listen (a stale socket of a serve gone is replaced); a failure is logged, never
        fatal: the CLI reads the database then."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        handler = _handler(self.source)
        old = os.umask(0o177)  # 0600 from the start: no moment where others may connect
        try:
            self._server = socketserver.ThreadingUnixStreamServer(str(self.path), handler)
        except OSError as exc:
            log.warning('{"event": "reads.socket.failed", "error": "%s"}', exc)
            return
        finally:
            os.umask(old)
        self._server.daemon_threads = True
        self._inode = self.path.stat().st_ino
        threading.Thread(target=self._server.serve_forever, name="reads", daemon=True).start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            if self.path.stat().st_ino == self._inode:  # not another serve's, made since
                self.path.unlink()


def _handler(source: Any) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                # times as str(): as the CLI prints them
                self.wfile.write(json.dumps(answer(source, line), default=str).encode() + b"\n")

    return Handler


def answer(source: Any, line: bytes) -> dict[str, Any]:
    """One request's answer: ``{"ok": result}`` or ``{"error": [kind, message]}``."""
    try:
        request = json.loads(line)
        op, args, scope = request["op"], dict(request["args"]), request.get("scope")
        if op not in OPS:
            raise ValueError(f"unknown request {op!r}")
        if "url" in args:
            args["url"] = tuple(args["url"])
        if args.get("tenants") is not None:
            args["tenants"] = frozenset(args["tenants"])
        if args.get("ref"):
            args["ref"] = PodRef.parse(args["ref"])
        with source.scoped(None if scope is None else frozenset(scope)):
            return {"ok": getattr(source, op)(**args)}
    except errors.StoreError as exc:
        return {"error": [type(exc).__name__, str(exc)]}
    except Exception as exc:  # the CLI says it in one line
        return {"error": ["Failed", f"serve could not answer: {exc}"]}
