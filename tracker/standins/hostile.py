"""A misbehaving HTTP server on 127.0.0.1, for tests of the bounds (issue: "bounded
everything"). Every behaviour is bounded in bytes and seconds and ends when the
server stops, so a test can never leave a thread trickling forever.

Behaviours (`HostileServer(kind, **options)`):
- "trickle": a 200 with a long Content-Length, then one byte every `interval` seconds;
- "silent": reads the request, never answers;
- "gzip-garbage": a 200 saying `Content-Encoding: gzip` with bytes that are not gzip;
- "redirect-loop": a 302 to itself, forever;
- "big": a 200 streaming `size` bytes of non-XML (with a Content-Length unless
  `announce` is false, then until the connection closes);
- "body": a 200 with `body` (bytes) as given, e.g. an Atom page built with `atom_page`.
- "pages": an Atom page of the same 10 entries at every start, claiming `total` results.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tracker.standins.arxiv_feeds import ListedPaper, atom_entry, atom_feed
from tracker.standins.server import LoopbackServer

MAX_SECONDS = 120.0
CHUNK = 64 * 1024
NOW = datetime(2025, 11, 1, tzinfo=timezone.utc)


def listed(i: int, abstract: str = "An abstract.", title: str | None = None) -> ListedPaper:
    return ListedPaper(id=f"2510.{i:05d}", title=title or f"Hostile paper {i}", abstract=abstract, authors=["A. Author"],
                       categories=["cs.CL"], announced="2025-10-31", submitted=datetime(2025, 10, 30, 12, tzinfo=timezone.utc))


def atom_page(papers: list[ListedPaper], total: int | None = None, start: int = 0) -> bytes:
    entries = [atom_entry(p) for p in papers]
    return atom_feed("q", "", start, len(entries), len(entries) if total is None else total, entries, NOW).encode()


@dataclass
class HostileServer(LoopbackServer):
    kind: str = "silent"
    interval: float = 1.0
    size: int = 200 * 1024 * 1024
    body: bytes = b""
    total: int = 500
    announce: bool = True
    protocol_version = "HTTP/1.1"
    requests: int = 0
    _stopping: threading.Event = field(default_factory=threading.Event)
    name = "hostile"

    def stop(self) -> None:
        self._stopping.set()
        super().stop()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        kind = self.kind
        try:
            if kind == "silent":
                self._stopping.wait(MAX_SECONDS)
                h.close_connection = True
            elif kind == "trickle":
                self._head(h, 200, {"Content-Type": "application/atom+xml", "Content-Length": "100000"})
                for _ in range(int(MAX_SECONDS / max(self.interval, 0.01))):
                    if self._stopping.wait(self.interval):
                        break
                    h.wfile.write(b" ")
                    h.wfile.flush()
                h.close_connection = True
            elif kind == "gzip-garbage":
                junk = b"this is not gzip at all " * 40
                self._head(h, 200, {"Content-Encoding": "gzip", "Content-Length": str(len(junk))})
                h.wfile.write(junk)
            elif kind == "redirect-loop":
                self._head(h, 302, {"Location": h.path, "Content-Length": "0"})
            elif kind == "big":
                length = {"Content-Length": str(self.size)} if self.announce else {"Connection": "close"}
                self._head(h, 200, {"Content-Type": "application/atom+xml", **length})
                h.close_connection = not self.announce
                chunk, sent = b"x" * CHUNK, 0
                while sent < self.size and not self._stopping.is_set():
                    piece = chunk[: self.size - sent]
                    h.wfile.write(piece)
                    sent += len(piece)
            elif kind == "body":
                self._head(h, 200, {"Content-Type": "application/atom+xml", "Content-Length": str(len(self.body))})
                h.wfile.write(self.body)
            elif kind == "pages":
                start = int(_query(h.path).get("start", "0") or 0)
                page = atom_page([listed(i) for i in range(10)], total=self.total, start=start)
                self._head(h, 200, {"Content-Type": "application/atom+xml", "Content-Length": str(len(page))})
                h.wfile.write(page)
            else:
                raise ValueError(f"unknown behaviour {kind!r}")
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    @staticmethod
    def _head(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()


def _query(path: str) -> dict[str, Any]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(path).query).items()}


class TricklingTcp:
    """A raw TCP server that greets with `greeting` one byte every `interval` seconds and
    never finishes a line: an SMTP server too slow for any per-read timeout to notice."""

    def __init__(self, greeting: bytes = b"220 slow.example ESMTP ready\r\n", interval: float = 0.2) -> None:
        self.greeting, self.interval = greeting, interval
        self._stopping = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="trickling-tcp", daemon=True)

    def __enter__(self) -> "TricklingTcp":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        conns = []
        try:
            while not self._stopping.is_set():
                try:
                    conn, _ = self._sock.accept()
                except OSError:
                    continue
                conns.append(conn)
                for byte in self.greeting[:-2]:  # never the line end
                    if self._stopping.wait(self.interval):
                        break
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break
        finally:
            for conn in conns:
                conn.close()

