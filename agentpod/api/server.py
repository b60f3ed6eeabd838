"""Serving the API from a thread of ``agentpod serve`` (uvicorn on a socket we bind ourselves).

The address may be taken (a second serve on this machine, a standby, holds it later): the
thread keeps trying every second and serves as soon as it is free. A crash of the server is
logged and the server started again; nothing here ever stops the reconcile loop.
"""

from __future__ import annotations

import logging
import socket
import threading

log = logging.getLogger("agentpod.api")

RETRY_S = 1.0


class ApiThread(threading.Thread):
    def __init__(self, app: object, host: str, port: int) -> None:
        super().__init__(name="api", daemon=True)
        self.app = app
        self.host = host
        self.port = port
        self.listening = threading.Event()
        self._stopping = threading.Event()
        self._server = None  # the uvicorn.Server while one runs

    def run(self) -> None:
        waiting_said = False
        while not self._stopping.is_set():
            try:
                sock = self._bind()
            except OSError as exc:
                if not waiting_said:
                    waiting_said = True
                    log.warning(
                        '{"event": "api.listen.waiting", "address": "%s:%d", "error": "%s"}',
                        self.host,
                        self.port,
                        exc.strerror or exc,
                    )
                self._stopping.wait(RETRY_S)
                continue
            self._serve(sock)

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so; without it
        # a small response waits ~40 ms for the client's delayed ACK (Nagle)
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(512)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]  # the real one when asked for port 0
        return sock

    def _serve(self, sock: socket.socket) -> None:
        import uvicorn

        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", server_header=False
        )
        self._server = server = uvicorn.Server(config)
        log.info('{"event": "api.listening", "address": "%s:%d"}', self.host, self.port)
        self.listening.set()
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # uvicorn exits with SystemExit on some failures
            log.warning('{"event": "api.failed", "error": "%s"}', exc)
            self._stopping.wait(RETRY_S)
        finally:
            self.listening.clear()
            sock.close()

    def stop(self, timeout: float = 5) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        self.join(timeout)
