"""A bounded httpx transport: every request has a total deadline (connect + all reads),
and every blocking wait is cut into ticks that check the stop event.

httpx's own timeouts bound each read, not the request: a server that trickles one
byte a second never trips them. Here the socket layer (an httpcore network backend)
clamps each connect/read/write to the time left before the request's deadline and
to `TICK`, so a trickling or silent server ends the request at its deadline and a
SIGTERM ends it within a tick. The deadline is per request, set by `deadline()`
around the call (a context variable, so one transport serves every thread).
"""

from __future__ import annotations

import contextvars
import errno
import select
import socket
import time
import typing
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import httpcore
import httpx
from httpcore._backends.sync import SyncBackend, SyncStream

from tracker.net.retry import TICK, check_stop

_DEADLINE: contextvars.ContextVar["Deadline | None"] = contextvars.ContextVar("tracker_http_deadline", default=None)


@dataclass
class Deadline:
    seconds: float
    end: float
    passed: bool = False

    def left(self) -> float:
        return self.end - time.monotonic()


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Bound every socket wait inside the block to `seconds` in total."""
    current = Deadline(seconds, time.monotonic() + seconds)
    token = _DEADLINE.set(current)
    try:
        yield current
    finally:
        _DEADLINE.reset(token)


def _deadline_passed(current: typing.Any, kind: type[Exception]) -> Exception:
    """Mark the request's deadline as the reason it ended, and the error to raise."""
    current.passed = True
    return kind(f"no complete answer within the {current.seconds:g}s deadline")


def _budget(timeout: float | None, kind: type[Exception]) -> float | None:
    """The seconds this wait may take: its own timeout, clamped to the request deadline."""
    check_stop("a network request")
    current = _DEADLINE.get()
    if current is None:
        return timeout
    left = current.left()
    if left <= 0:
        raise _deadline_passed(current, kind)
    return left if timeout is None else min(timeout, left)


def _sliced(timeout: float | None, kind: type[Exception], wait: typing.Callable[[float | None], typing.Any]) -> typing.Any:
    """Call `wait(slice)` until it returns, retrying its timeout in ticks; the whole
    wait is bounded by `timeout` and the deadline, and a stop ends it within a tick."""
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        budget = _budget(None if end is None else max(0.0, end - time.monotonic()), kind)
        if budget is not None and budget <= 0:
            raise kind("timed out")
        step = TICK if budget is None else min(TICK, budget)
        try:
            return wait(step)
        except socket.timeout:
            if budget is not None and budget <= TICK:
                current = _DEADLINE.get()
                if current is not None and current.left() <= 0:
                    raise _deadline_passed(current, kind) from None
                raise kind("timed out") from None


class _Stream(SyncStream):
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        def wait(step: float | None) -> bytes:
            self._sock.settimeout(step)
            return self._sock.recv(max_bytes)

        try:
            return _sliced(timeout, httpcore.ReadTimeout, wait)
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        while buffer:
            def wait(step: float | None) -> int:
                self._sock.settimeout(step)
                return self._sock.send(buffer)

            try:
                sent = _sliced(timeout, httpcore.WriteTimeout, wait)
            except OSError as exc:
                raise httpcore.WriteError(str(exc)) from exc
            buffer = buffer[sent:]

    def start_tls(self, ssl_context: typing.Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        budget = _budget(timeout, httpcore.ConnectTimeout)
        stream = super().start_tls(ssl_context, server_hostname, budget)
        return _Stream(stream.get_extra_info("socket"))


class BoundedBackend(SyncBackend):
    """SyncBackend whose connect is non-blocking and sliced, and whose streams are `_Stream`."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        _budget(timeout, httpcore.ConnectTimeout)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                if local_address:
                    sock.bind((local_address, 0))
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setblocking(False)
                code = sock.connect_ex(address)
                if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
                    def wait(step: float | None) -> None:
                        _, writable, _ = select.select([], [sock], [], step)
                        if not writable:
                            raise socket.timeout()

                    _sliced(timeout, httpcore.ConnectTimeout, wait)
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise httpcore.ConnectError(f"[Errno {code}] {errno.errorcode.get(code, '')} {host}:{port}")
                sock.setblocking(True)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return _Stream(sock)
            except BaseException as exc:
                sock.close()
                if isinstance(exc, httpcore.ConnectError):
                    error = exc
                    continue
                raise
        raise error


def bounded_transport(**kwargs: typing.Any) -> httpx.HTTPTransport:
    """An HTTPTransport whose connections use BoundedBackend (httpx exposes no option
    for the backend; `_pool._network_backend` is httpcore's documented constructor
    argument, set after the fact; tests/test_net_http.py fails if that ever changes)."""
    transport = httpx.HTTPTransport(**kwargs)
    pool = transport._pool
    if not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpcore changed: the connection pool has no _network_backend")
    pool._network_backend = BoundedBackend()
    return transport
