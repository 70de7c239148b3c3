"""A local stand-in for Semantic Scholar's citations endpoint, for tests and `tracker demo`.

GET /graph/v1/paper/ARXIV:{id}/citations?fields=...&limit=N&offset=K answers like
the real API: `{"offset": K, "next": K+N (only when more), "data": [{"citingPaper":
{...}}]}`, 404 for an unknown paper, 403 for a wrong `x-api-key` when a key is
required. It binds 127.0.0.1 on a free port, records every request (path, query,
headers) and can fail the next requests on demand (429 with Retry-After, 5xx).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tracker.standins.server import LoopbackServer

CITATIONS = re.compile(r"^/graph/v1/paper/ARXIV:([^/]+)/citations$")
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Recorded:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class Fault:
    status: int
    retry_after: str | None
    times: int


@dataclass
class SemanticScholarStandin(LoopbackServer):
    """`with SemanticScholarStandin() as s2:`; point `citations.api_url` at `s2.url`."""

    api_key: str | None = None
    citations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    name = "s2-standin"

    def add_citation(self, work_arxiv_id: str, citing_arxiv_id: str | None, title: str,
                     published: str | None, authors: tuple[str, ...] = ()) -> None:
        """Record that a paper cites the work; `citing_arxiv_id=None` is a paper without one."""
        rows = self.citations.setdefault(work_arxiv_id, [])
        ids: dict[str, Any] = {"CorpusId": 1000 + len(rows)}
        if citing_arxiv_id:
            ids["ArXiv"] = citing_arxiv_id
        rows.append({
            "paperId": f"s2-{work_arxiv_id}-{len(rows)}",
            "externalIds": ids,
            "title": title,
            "publicationDate": published,
            "authors": [{"authorId": None, "name": a} for a in authors],
        })

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        with self._lock:
            self.faults.append(Fault(status, retry_after, times))

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = parse_qs(parts.query)
        with self._lock:
            self.requests.append(Recorded(parts.path, query, {k.lower(): v for k, v in h.headers.items()}))
            fault = self.faults[0] if self.faults else None
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.pop(0)
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            _send(h, fault.status, {"message": "Too Many Requests" if fault.status == 429 else "Internal Server Error"}, headers)
            return
        if self.api_key and h.headers.get("x-api-key") != self.api_key:
            _send(h, 403, {"message": "Forbidden"})
            return
        m = CITATIONS.match(parts.path)
        if not m:
            _send(h, 404, {"error": f"no route {parts.path}"})
            return
        work = m.group(1)
        if work not in self.citations:
            _send(h, 404, {"error": f"Paper with id ARXIV:{work} not found"})
            return
        try:
            offset = int(query.get("offset", ["0"])[0])
            limit = int(query.get("limit", ["100"])[0])
        except ValueError:
            _send(h, 400, {"error": "offset and limit must be integers"})
            return
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            _send(h, 400, {"error": f"limit must be 1..{MAX_LIMIT}, offset >= 0"})
            return
        rows = self.citations[work]
        fields = set(query.get("fields", [""])[0].split(",")) - {""}
        page = [{"citingPaper": _only(r, fields)} for r in rows[offset : offset + limit]]
        body: dict[str, Any] = {"offset": offset, "data": page}
        if offset + limit < len(rows):
            body["next"] = offset + limit
        _send(h, 200, body)


def _only(row: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k == "paperId" or not fields or k in fields}


def _send(h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(payload).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(data)
