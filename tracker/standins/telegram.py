"""A local stand-in for the Telegram Bot API methods tracker uses, on 127.0.0.1.

It speaks the real wire format ({url}/bot{token}/{method}, form or JSON bodies,
`{"ok": ..., "result"|"error_code"|"description"|"parameters"}` replies), records every
request, keeps the messages it was sent, serves queued updates to getUpdates (long
polling), and can be told to fail: 429 with retry_after, 400, 403, 500, or a hang past
the client's timeout. Tests and `tracker demo` point `telegram.api_url` at `.url`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tracker.standins.server import LoopbackServer

FAULT_REPLIES = {
    400: "Bad Request: can't parse entities",
    403: "Forbidden: bot was blocked by the user",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass(frozen=True)
class Request:
    method: str
    params: dict[str, Any]
    token: str


@dataclass
class Fault:
    method: str | None
    status: int
    times: int
    retry_after: int = 0
    hang_seconds: float = 0.0
    chat_id: int | None = None
    after: int = 0
    raw: Any = None


@dataclass
class TelegramStandin(LoopbackServer):
    """`with TelegramStandin(token="123:abc") as tg:` then use `tg.url` as telegram.api_url."""

    token: str = "123456:standin-token"
    requests: list[Request] = field(default_factory=list)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _next_update: int = 1
    _next_message: int = 1
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _stopping: threading.Event = field(default_factory=threading.Event)
    hanging: threading.Event = field(default_factory=threading.Event)
    name = "telegram-standin"

    def stop(self) -> None:
        """Release long polls held open by getUpdates before the server shuts down."""
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        super().stop()

    def fail(
        self, method: str | None, status: int, times: int = 1, retry_after: int = 0,
        hang_seconds: float = 0.0, chat_id: int | None = None, after: int = 0, raw: Any = None,
    ) -> None:
        """Make `times` calls of `method` (None = any; only to `chat_id` if given), after
        letting `after` of them through, fail with `status` (429 takes retry_after; status 0
        with hang_seconds = no reply for that long, then a 500; `hanging` is set meanwhile;
        `raw` = answer with exactly that JSON body and `status`, e.g. 200 {"ok": false})."""
        with self._lock:
            self.faults.append(Fault(method, status, times, retry_after, hang_seconds, chat_id, after, raw))

    def queue_update(self, update: dict[str, Any]) -> int:
        """Queue an update (without update_id) for getUpdates; returns its update_id."""
        with self._lock:
            update = {"update_id": self._next_update, **update}
            self._next_update += 1
            self._updates.append(update)
            self._lock.notify_all()
            return update["update_id"]

    def calls(self, method: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Successful sendMessage calls, in order: {message_id, chat_id, text, reply_markup}."""
        with self._lock:
            return [m for m in self.messages.values() if chat_id is None or m["chat_id"] == chat_id]

    @property
    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = h.path.split("?")[0].strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return self._reply(h, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, method = parts[0][3:], parts[1]
        params = self._params(h)
        with self._lock:
            self.requests.append(Request(method, params, token))
            fault = self._take_fault(method, params)
        if token != self.token:
            return self._reply(h, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        if fault is not None:
            if fault.hang_seconds:
                self.hanging.set()
                self._stopping.wait(fault.hang_seconds)
            if fault.raw is not None:
                return self._reply(h, fault.status or 200, fault.raw)
            if not fault.status:
                return self._reply(h, 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
            body: dict[str, Any] = {"ok": False, "error_code": fault.status}
            if fault.status == 429:
                body.update(description=f"Too Many Requests: retry after {fault.retry_after}", parameters={"retry_after": fault.retry_after})
            else:
                body["description"] = FAULT_REPLIES.get(fault.status, "Error")
            return self._reply(h, fault.status, body)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._reply(h, 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})
        status, result = handler(params)
        if status != 200:
            return self._reply(h, status, {"ok": False, "error_code": status, "description": result})
        self._reply(h, 200, {"ok": True, "result": result})

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        for fault in self.faults:
            if fault.method not in (None, method) or fault.times <= 0:
                continue
            if fault.chat_id is not None and str(params.get("chat_id")) != str(fault.chat_id):
                continue
            if fault.after > 0:
                fault.after -= 1
                return None
            fault.times -= 1
            return fault
        return None

    @staticmethod
    def _params(h: BaseHTTPRequestHandler) -> dict[str, Any]:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0)).decode("utf-8")
        if "json" in (h.headers.get("Content-Type") or ""):
            return json.loads(raw or "{}")
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        for key in ("reply_markup", "allowed_updates", "link_preview_options"):
            if isinstance(params.get(key), str):
                try:
                    params[key] = json.loads(params[key])
                except json.JSONDecodeError:
                    pass
        return params

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _chat(chat_id: Any) -> dict[str, Any]:
        cid = int(chat_id)
        return {"id": cid, "type": "private" if cid > 0 else "supergroup", **({"title": "standin group"} if cid < 0 else {"first_name": "user"})}

    def _message(self, m: dict[str, Any]) -> dict[str, Any]:
        out = {"message_id": m["message_id"], "date": m["date"], "chat": self._chat(m["chat_id"]), "text": m["text"]}
        if m.get("reply_markup"):
            out["reply_markup"] = m["reply_markup"]
        return out

    def _m_getMe(self, params: dict[str, Any]) -> tuple[int, Any]:
        bot_id = int(self.token.split(":")[0]) if self.token.split(":")[0].isdigit() else 1
        return 200, {"id": bot_id, "is_bot": True, "first_name": "tracker", "username": "tracker_standin_bot"}

    def _m_getChat(self, params: dict[str, Any]) -> tuple[int, Any]:
        try:
            return 200, self._chat(params.get("chat_id"))
        except (TypeError, ValueError):
            return 400, "Bad Request: chat not found"

    def _m_sendMessage(self, params: dict[str, Any]) -> tuple[int, Any]:
        if not str(params.get("text") or "").strip():
            return 400, "Bad Request: message text is empty"
        if len(str(params["text"]).encode("utf-16-le")) // 2 > 4096:
            return 400, "Bad Request: message is too long"
        with self._lock:
            m = {
                "message_id": self._next_message,
                "chat_id": int(params["chat_id"]),
                "date": int(time.time()),
                "text": params["text"],
                "parse_mode": params.get("parse_mode"),
                "reply_markup": params.get("reply_markup"),
            }
            self._next_message += 1
            self.messages[m["message_id"]] = m
        return 200, self._message(m)

    def _edit(self, params: dict[str, Any], text: bool) -> tuple[int, Any]:
        with self._lock:
            m = self.messages.get(int(params.get("message_id") or 0))
            if m is None or m["chat_id"] != int(params.get("chat_id") or 0):
                return 400, "Bad Request: message to edit not found"
            new_text = params.get("text", m["text"]) if text else m["text"]
            new_markup = params.get("reply_markup")
            if new_text == m["text"] and new_markup == m.get("reply_markup"):
                return 400, "Bad Request: message is not modified"
            m.update(text=new_text, reply_markup=new_markup)
            return 200, self._message(m)

    def _m_editMessageText(self, params: dict[str, Any]) -> tuple[int, Any]:
        return self._edit(params, text=True)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> tuple[int, Any]:
        return self._edit(params, text=False)

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, True

    def _m_getUpdates(self, params: dict[str, Any]) -> tuple[int, Any]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._lock:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._stopping.is_set() and time.monotonic() < deadline:
                self._lock.wait(max(0.0, deadline - time.monotonic()))
            limit = int(params.get("limit") or 100)
            return 200, self._updates[:limit]

    def _m_deleteWebhook(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, True

    def _m_getMyCommands(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, []

    def _m_setMyCommands(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, True
