"""A local stand-in for the few GitHub REST endpoints `propose --pr` uses.

It binds 127.0.0.1 on a free port, keeps pull requests in memory, records every
request (method, path, query, headers, JSON body) so tests can assert what was
sent, and can be told to fail the next requests (401, 422, 5xx) to exercise
error handling. `tracker demo` uses it too.
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

PULLS = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls$")
PULL = re.compile(r"^/repos/([^/]+)/([^/]+)/pulls/(\d+)$")
REPO = re.compile(r"^/repos/([^/]+)/([^/]+)$")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any


@dataclass
class Fault:
    status: int
    message: str
    method: str | None
    times: int


@dataclass
class GitHubStandin(LoopbackServer):
    """Start with `with GitHubStandin(token="t") as gh:`; point `github.api_url` at `gh.url`."""

    token: str | None = None
    requests: list[Recorded] = field(default_factory=list)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    next_number: int = 1
    push: bool = True  # what GET /repos/{owner}/{name} reports in permissions.push
    _lock: threading.Lock = field(default_factory=threading.Lock)
    name = "github-standin"

    def fail_next(self, status: int, message: str = "", method: str | None = None, times: int = 1) -> None:
        """Answer the next `times` requests (of `method`, if given) with `status` and GitHub's error shape."""
        with self._lock:
            self.faults.append(Fault(status, message or _reason(status), method, times))

    def set_state(self, number: int, state: str) -> None:
        """Mark a pull request "merged", "closed" or "open", as a maintainer would."""
        with self._lock:
            pr = self.pulls[number]
            pr["state"] = "open" if state == "open" else "closed"
            pr["merged"] = state == "merged"
            pr["merged_at"] = "2025-11-03T10:00:00Z" if state == "merged" else None

    def calls(self, method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if method is None or r.method == method]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Recorded(h.command, split.path, parse_qs(split.query), dict(h.headers.items()), body))
            fault = next((f for f in self.faults if f.method in (None, h.command)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
        if fault is not None:
            errors = [{"resource": "PullRequest", "code": "custom", "message": fault.message}] if fault.status == 422 else []
            return _send(h, fault.status, {"message": _reason(fault.status) if errors else fault.message, "errors": errors})
        if self.token is not None and h.headers.get("Authorization") != f"Bearer {self.token}":
            return _send(h, 401, {"message": "Bad credentials"})
        status, payload = self._route(h.command, split.path, parse_qs(split.query), body)
        _send(h, status, payload)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        m = PULLS.match(path)
        with self._lock:
            if m and method == "GET":
                state = query.get("state", ["open"])[0]
                head = query.get("head", [None])[0]
                found = [
                    p for p in self.pulls.values()
                    if (state == "all" or p["state"] == state) and (head is None or p["head"]["label"] == head)
                ]
                return 200, found
            if m and method == "POST":
                return self._create(m.group(1), m.group(2), body)
            m = REPO.match(path)
            if m and method == "GET":
                return 200, {"full_name": f"{m.group(1)}/{m.group(2)}", "default_branch": "main",
                             "permissions": {"admin": False, "push": self.push, "pull": True}}
            m = PULL.match(path)
            if m and int(m.group(3)) in self.pulls:
                pr = self.pulls[int(m.group(3))]
                if method == "GET":
                    return 200, pr
                if method == "PATCH" and isinstance(body, dict):
                    for key in ("title", "body", "state", "base"):
                        if key in body:
                            pr[key] = body[key] if key != "base" else {"ref": body[key]}
                    return 200, pr
        return 404, {"message": "Not Found"}

    def _create(self, owner: str, name: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("title", "head", "base")):
            return 422, {"message": "Validation Failed", "errors": [{"message": "title, head and base are required"}]}
        label = body["head"] if ":" in body["head"] else f"{owner}:{body['head']}"
        if any(p["head"]["label"] == label and p["state"] == "open" for p in self.pulls.values()):
            return 422, {"message": "Validation Failed", "errors": [{"message": f"A pull request already exists for {label}."}]}
        number = self.next_number
        self.next_number += 1
        pr = {
            "number": number,
            "url": f"{self.url}/repos/{owner}/{name}/pulls/{number}",
            "html_url": f"https://github.invalid/{owner}/{name}/pull/{number}",
            "state": "open",
            "draft": bool(body.get("draft")),
            "merged": False,
            "merged_at": None,
            "title": body["title"],
            "body": body.get("body") or "",
            "head": {"ref": label.split(":", 1)[1], "label": label},
            "base": {"ref": body["base"]},
        }
        self.pulls[number] = pr
        return 201, pr


def _reason(status: int) -> str:
    return {401: "Bad credentials", 422: "Validation Failed", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Error")


def _send(h: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json; charset=utf-8")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)
