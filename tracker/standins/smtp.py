"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests and `tracker demo`.

It keeps every accepted message, can refuse chosen recipients with 550 (or with the
reply given: `refuse={"x@y": "530 5.7.0 Authentication required"}`) or defer them
with 450 a number of times first (`defer`, as greylisting does), refuse chosen
senders at MAIL FROM with the reply given (`refuse_sender`), drop the
connection instead of answering DATA (the client never gets an acknowledgement),
either losing the message (`drop_data`) or keeping it (`keep_then_drop`, the
hostile case: delivered, yet never confirmed), and check a login. Port 0 picks a free port; `.port` tells which.

With `tls="starttls"` (STARTTLS required before MAIL and AUTH) or `tls="ssl"`
(implicit TLS from the first byte), give `certfile`/`keyfile` (PEM) for the server
certificate. With STARTTLS a login is refused before the TLS upgrade, as a real
server does; with implicit TLS the whole connection is encrypted anyway.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data, policy=default)


class _FreePortController(Controller):
    """aiosmtpd's Controller, but port 0 works: read the bound port before the self-test."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpStandin:
    """`with SmtpStandin(refuse={"x@y"}) as smtp:` then email.host/port = smtp.host/smtp.port."""

    refuse: set[str] | dict[str, str] = field(default_factory=set)  # recipient (-> its reply; a set: 550)
    refuse_sender: dict[str, str] = field(default_factory=dict)  # MAIL FROM address -> its reply ("553 ...")
    defer: dict[str, int] = field(default_factory=dict)  # recipient -> RCPTs answered 450 (greylisting) first
    drop_data: int = 0
    keep_then_drop: int = 0
    credentials: tuple[str, str] | None = None
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    attempts: int = 0
    host: str = "127.0.0.1"
    tls: str = "none"
    certfile: str | None = None
    keyfile: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: _FreePortController | None = None

    @property
    def port(self) -> int:
        assert self._controller is not None, "stand-in not started"
        return int(self._controller.port)

    def start(self) -> "SmtpStandin":
        kwargs: dict[str, Any] = {}
        if self.tls not in ("none", "starttls", "ssl"):
            raise ValueError(f"tls must be 'none', 'starttls' or 'ssl', not {self.tls!r}")
        if self.tls != "none":
            if not self.certfile:
                raise ValueError("tls needs certfile (and keyfile) in PEM")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.certfile, self.keyfile)
            if self.tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                kwargs.update(ssl_context=context)
        if self.credentials is not None:
            # aiosmtpd only knows TLS it negotiated itself (STARTTLS); an implicit-TLS
            # connection is encrypted from the start, so it needs no such check.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=self.tls == "starttls")
        self._controller = _FreePortController(self, hostname=self.host, port=0, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "SmtpStandin":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def messages_to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if address in r.recipients]

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.credentials is not None
            and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        )
        if ok:
            with self._lock:
                self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]) -> str:
        if address in self.refuse_sender:
            return self.refuse_sender[address]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address] if isinstance(self.refuse, dict) else "550 5.1.1 mailbox unavailable"
        with self._lock:
            if self.defer.get(address, 0) > 0:
                self.defer[address] -= 1
                return "450 4.2.0 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.attempts += 1
            drop = self.drop_data > 0
            keep_and_drop = not drop and self.keep_then_drop > 0
            if drop:
                self.drop_data -= 1
            else:
                self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content)))
            if keep_and_drop:
                self.keep_then_drop -= 1
                drop = True
        if drop:
            server.transport.abort()
            return "421 4.3.0 connection dropped"
        return "250 OK"
