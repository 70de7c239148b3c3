"""The lifecycle every HTTP stand-in shares: a ThreadingHTTPServer on 127.0.0.1 in a
daemon thread, `url`, start/stop and `with`. A stand-in only implements `_handle`."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

S = TypeVar("S", bound="LoopbackServer")


class LoopbackServer:
    """Mix into a stand-in; set `port` (0 = any free one) and `protocol_version` if needed."""

    name = "standin"
    port = 0
    protocol_version = "HTTP/1.0"
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self._server is not None, f"{self.name}: start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self: S) -> S:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = owner.protocol_version

            def _dispatch(self) -> None:
                owner._handle(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port() -> int:
    """A loopback port where nothing listens (bound, then released): connections are refused."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SilentPort:
    """A loopback port that accepts connections (the kernel's backlog) but never answers:
    `with SilentPort() as port:` - a client waits for its own timeout."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
