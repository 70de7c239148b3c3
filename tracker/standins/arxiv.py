"""A replay server for the arXiv API and RSS feeds on 127.0.0.1, for tests and `tracker demo`.

It answers `/api/query` (Atom) and `/rss/{cat1+cat2}` (RSS 2.0) from real data:
recorded responses from tests/fixtures are served byte for byte when a request
matches the URL they were recorded for (ORIGINS.md), everything else is built
from real daily listings. Faults are injected on demand (`inject`, or
`GET /_control/inject?kind=503&times=2` when run standalone) and every request
is recorded, so tests can assert on paging, queries and delays.

    python -m tracker.standins.arxiv --listings PATH --port 8001
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tracker.standins.arxiv_feeds import (
    SAMPLE_LISTINGS, ListedPaper, QueryError, atom_entry, atom_feed, error_feed, listed_papers, parse_query, read_listings,
    rss_feed,
)
from tracker.standins.server import LoopbackServer

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
FAULTS = ("500", "503", "429", "slow", "truncate", "html", "error_feed", "empty_page", "reset")
HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>\n"
    "<body><h1>Service Temporarily Unavailable</h1><p>arXiv is down for maintenance.</p></body></html>\n"
)


@dataclass(frozen=True)
class Recorded:
    path: str
    params: dict[str, str]
    at: float
    status: int = 200


@dataclass
class Fault:
    kind: str
    times: int = 1
    route: str | None = None
    min_start: int = 0
    retry_after: str = "1"
    seconds: float = 3.0
    message: str = "incorrect id format for abc"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/atom+xml; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


def recorded_responses(fixtures: Path = FIXTURES) -> dict[tuple[str, str, str, str], Path]:
    """(search_query, id_list, start, max_results) -> recorded body, from ORIGINS.md."""
    out: dict[tuple[str, str, str, str], Path] = {}
    origins = fixtures / "ORIGINS.md"
    if not origins.exists():
        return out
    for line in origins.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*(\S+\.xml)\s*\|.*request url: (\S+)", line)
        if m and (fixtures / "arxiv-api" / m.group(1)).exists():
            q = {k: v[0] for k, v in parse_qs(urlsplit(m.group(2)).query, keep_blank_values=True).items()}
            key = (q.get("search_query", ""), q.get("id_list", ""), q.get("start", "0"), q.get("max_results", "10"))
            out[key] = fixtures / "arxiv-api" / m.group(1)
    return out


def recorded_feeds(fixtures: Path = FIXTURES) -> dict[str, Path]:
    """Category -> recorded RSS file (their channel link says which feed they are)."""
    out: dict[str, Path] = {}
    for path in sorted((fixtures / "arxiv-rss").glob("*.xml")) if (fixtures / "arxiv-rss").exists() else ():
        m = re.search(r"<link>https?://rss\.arxiv\.org/rss/([^<]+)</link>", path.read_text(encoding="utf-8"))
        if m:
            out[m.group(1)] = path
    return out


class ArxivReplay(LoopbackServer):
    """The server object: `with ArxivReplay() as arxiv: ... arxiv.api_url, arxiv.rss_url`."""

    def __init__(
        self,
        listings: str | Path | list[dict[str, Any]] | None = SAMPLE_LISTINGS,
        limit: int | None = None,
        rss_day: str | None = None,
        fixtures: Path = FIXTURES,
        latency: float = 0.0,
        port: int = 0,
    ) -> None:
        rows = read_listings(listings) if isinstance(listings, (str, Path)) else (listings or [])
        self.papers: list[ListedPaper] = listed_papers(rows, limit)
        self.by_id = {p.id: p for p in self.papers}
        days = sorted({p.announced for p in self.papers})
        self.rss_day = rss_day or (days[-1] if days else "2025-10-31")
        self.recorded = recorded_responses(fixtures)
        self.feeds = recorded_feeds(fixtures)
        self.latency = latency
        self.port = port
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._cache: dict[str, list[ListedPaper]] = {}

    name = "arxiv-replay"
    protocol_version = "HTTP/1.1"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/query"

    @property
    def rss_url(self) -> str:
        return f"{self.url}/rss"

    # ---- test API ----
    def inject(self, kind: str, times: int = 1, route: str | None = None, **options: Any) -> Fault:
        """Queue a fault for the next `times` matching requests (`route`: "api" or "rss").
        Options: min_start (API pages from this offset on), retry_after, seconds, message."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r} (known: {', '.join(FAULTS)})")
        fault = Fault(kind, times, route, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def replace(self, paper_id: str, version: int | None = None, title: str | None = None, when: datetime | None = None) -> ListedPaper:
        """A new version of a listed paper (as if the authors replaced it)."""
        p = self.by_id[paper_id]
        p.version = version or p.version + 1
        p.title = title or p.title
        p.updated = when or p.submitted + timedelta(days=1)
        p.announced = self.rss_day
        self._cache.clear()
        return p

    def api_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/api/")]

    # ---- serving ----
    def _take_fault(self, route: str, params: dict[str, str]) -> Fault | None:
        start = int(params.get("start", "0") or 0) if route == "api" else 0
        with self._lock:
            for fault in self.faults:
                if fault.route not in (None, route) or start < fault.min_start:
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        route = "api" if parts.path.rstrip("/").endswith("/api/query") else "rss" if parts.path.startswith("/rss/") else "other"
        if parts.path.startswith("/_control/"):
            reply = self._control(parts.path, params)
        else:
            fault = self._take_fault(route, params) if route != "other" else None
            reply = self._reply(route, parts.path, params, fault)
        self.requests.append(Recorded(parts.path, params, time.monotonic(), reply.status))
        if self.latency or reply.delay:
            time.sleep(self.latency + reply.delay)
        if reply.status < 0:
            handler.close_connection = True
            handler.connection.close()
            return
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.content_type)
        handler.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            handler.send_header(name, value)
        handler.end_headers()
        try:
            handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _reply(self, route: str, path: str, params: dict[str, str], fault: Fault | None) -> Reply:
        now = datetime.now(timezone.utc)
        if fault is not None:
            if fault.kind in ("500", "503", "429"):
                headers = (("Retry-After", fault.retry_after),) if fault.kind != "500" else ()
                return Reply(int(fault.kind), f"HTTP {fault.kind}\n".encode(), "text/plain", headers)
            if fault.kind == "html":
                return Reply(200, HTML_PAGE.encode(), "text/html; charset=utf-8")
            if fault.kind == "error_feed":
                return Reply(200, error_feed(fault.message, now).encode())
            if fault.kind == "reset":
                return Reply(-1, b"")
        if route == "api":
            reply = self._api(params, now, empty=fault is not None and fault.kind == "empty_page")
        elif route == "rss":
            reply = self._rss(unquote(path[len("/rss/"):]))
        else:
            reply = Reply(404, b"not found\n", "text/plain")
        if fault is not None and fault.kind == "truncate":
            return Reply(reply.status, reply.body[: len(reply.body) // 2], reply.content_type)
        if fault is not None and fault.kind == "slow":
            return Reply(reply.status, reply.body, reply.content_type, reply.headers, delay=fault.seconds)
        return reply

    def matching(self, query: str) -> list[ListedPaper]:
        with self._lock:
            if query not in self._cache:
                test = parse_query(query)
                self._cache[query] = sorted((p for p in self.papers if test(p)), key=lambda p: (p.submitted, p.id))
            return self._cache[query]

    def _api(self, params: dict[str, str], now: datetime, empty: bool = False) -> Reply:
        query, id_list = params.get("search_query", ""), params.get("id_list", "")
        start, size = int(params.get("start", "0") or 0), int(params.get("max_results", "10") or 10)
        key = (query, id_list, str(start), str(size))
        if key in self.recorded and not empty:
            return Reply(200, self.recorded[key].read_bytes())
        try:
            found = self.matching(query) if query else list(self.papers)
        except QueryError as exc:
            return Reply(200, error_feed(f"malformed query: {exc}", now).encode())
        if id_list:
            wanted = {i.strip().split("v")[0] for i in id_list.split(",") if i.strip()}
            found = [p for p in found if p.id in wanted]
        page = [] if empty else found[start : start + size]
        body = atom_feed(query, id_list, start, size, len(found), (atom_entry(p) for p in page), now)
        return Reply(200, body.encode())

    def _rss(self, cats_text: str) -> Reply:
        cats = [c for c in cats_text.replace(" ", "+").split("+") if c]
        if len(cats) == 1 and cats[0] in self.feeds:
            return Reply(200, self.feeds[cats[0]].read_bytes(), "application/rss+xml; charset=utf-8")
        wanted = set(cats)
        items = [p for p in self.papers if p.announced == self.rss_day and wanted.intersection(p.categories)]
        return Reply(200, rss_feed(cats, self.rss_day, items).encode(), "application/rss+xml; charset=utf-8")

    def _control(self, path: str, params: dict[str, str]) -> Reply:
        try:
            if path == "/_control/inject":
                self.inject(params.get("kind", ""), int(params.get("times", "1")), params.get("route") or None)
            elif path == "/_control/clear":
                self.clear_faults()
            elif path == "/_control/latency":
                self.latency = float(params.get("seconds", "0"))
            else:
                return Reply(404, b"unknown control\n", "text/plain")
        except ValueError as exc:
            return Reply(400, f"{exc}\n".encode(), "text/plain")
        return Reply(200, b"ok\n", "text/plain")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve arXiv API and RSS replies from real listings on 127.0.0.1.")
    parser.add_argument("--listings", type=Path, default=SAMPLE_LISTINGS, help="PAPERS-style listings (.jsonl or .jsonl.gz)")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on (0 = any free port)")
    parser.add_argument("--limit", type=int, default=None, help="serve only the first N listed papers")
    parser.add_argument("--rss-day", default=None, help="announcement day the RSS feed shows (default: the last one)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    args = parser.parse_args(argv)
    server = ArxivReplay(args.listings, limit=args.limit, rss_day=args.rss_day, latency=args.latency, port=args.port)
    server.start()
    print(f"arXiv replay: {len(server.papers)} papers; api_url = {server.api_url}; rss_url = {server.rss_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
