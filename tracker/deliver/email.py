"""SMTP delivery of the weekly email (smtplib): building a header-safe message and
sending it to one recipient at a time over one connection that is re-opened when
the server drops it.

A refused recipient is final for that recipient only; a dropped connection or a
4xx reply is retried, then reported. A refused login or no AUTH to log in with, a
missing STARTTLS, a TLS failure, a refused sender (5xx to MAIL FROM) or a 530 (STARTTLS or a login required)
at any step is a setup problem, not a recipient's: it stops the run at once (one login
attempt, not one per recipient) and the messages stay pending for the next run. Credentials come from the environment and are
registered as secrets so no error or log line shows them.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import threading
import time
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any, Callable

from tracker.config import Config, EmailConfig
from tracker.deliver.digest import RenderedEmail, one_line
from tracker.errors import DeliveryError
from tracker.logs import log, register_secret, scrub
from tracker.net import retry
from tracker.net.retry import TICK, RetryPolicy, Transient

logger = logging.getLogger("tracker.deliver.email")
TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError, OSError)


class _Deferred(Transient):
    """The server asked to try this recipient again later (a 4xx to RCPT): retried, then kept."""


class RecipientRefused(DeliveryError):
    """The server refused this recipient (or this message) for good: not retried."""


class SmtpUnavailable(DeliveryError):
    """The server could not be reached, kept dropping the connection after every retry, or
    refused the setup (TLS, login, sender): the run stops and its messages stay pending."""


class SmtpUnknownState(DeliveryError):
    """The connection was lost after the message data went out and before the server's
    reply: it may or may not have been kept. Never retried here; the outbox bounds it."""


class _Tracked:
    """Notes when a message's data (ending in CRLF.CRLF) has been written to the server."""

    data_sent = False

    def send(self, s: Any) -> None:
        super().send(s)  # type: ignore[misc]
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.data_sent = True


class _SMTP(_Tracked, smtplib.SMTP):
    pass


class _SMTP_SSL(_Tracked, smtplib.SMTP_SSL):
    pass


def build_message(
    sender: str, recipient: str, rendered: RenderedEmail, now: datetime, message_id: str | None = None
) -> EmailMessage:
    """multipart/alternative (text, then HTML). Header values are flattened to one line
    first, so a title with a line break can never start a header of its own."""
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = one_line(rendered.subject, 200)
    msg["From"] = one_line(sender)
    msg["To"] = one_line(recipient)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text, cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return msg


def credentials(config: Config) -> tuple[str | None, str | None]:
    cfg = config.email
    if cfg is None or not cfg.username_env:
        return None, None
    user = config.secret("email.username_env", cfg.username_env)
    password = config.secret("email.password_env", cfg.password_env) if cfg.password_env else None
    register_secret(password)
    return user, password


class SmtpSession:
    """One SMTP connection for a run: `with SmtpSession(cfg, user, pw) as s: s.send(...)`."""

    def __init__(
        self,
        cfg: EmailConfig,
        username: str | None = None,
        password: str | None = None,
        retries: int = 2,
        sleep: Callable[[float], None] | None = None,
        backoff: float = 1.0,
    ) -> None:
        register_secret(password)
        self.cfg, self.username, self.password = cfg, username, password
        self.retries, self.sleep, self.backoff = retries, sleep, backoff
        self.conn: smtplib.SMTP | None = None
        self.ends = time.monotonic() + cfg.deadline_seconds
        self._closed = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._connecting: smtplib.SMTP | None = None

    def __enter__(self) -> "SmtpSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._closed.set()

    def _watch(self) -> None:
        """smtplib's timeout bounds each read, not the session: a server trickling a byte
        a second would hold it forever. At the session deadline, or within a tick of a
        stop request, the socket is shut down, which ends whatever smtplib is waiting on."""
        while not self._closed.wait(TICK):
            if retry.STOP.is_set() or time.monotonic() >= self.ends:
                sock = getattr(self._connecting or self.conn, "sock", None)
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return

    def _check_bounds(self) -> None:
        retry.check_stop("an SMTP session")
        if time.monotonic() >= self.ends:
            raise SmtpUnavailable(
                f"SMTP {self.cfg.host}:{self.cfg.port}: the session passed its {self.cfg.deadline_seconds:g}s deadline",
                "the messages not sent stay pending for the next run; raise email.deadline_seconds for a slow server",
            )

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError):
                self.conn.close()
            self.conn = None

    def probe(self) -> None:
        """Connect, secure and log in as a send would, then hang up without sending (`tracker check`)."""
        self.conn = self._connect()
        self.close()

    def _connect(self) -> smtplib.SMTP:
        cfg = self.cfg
        context = ssl.create_default_context()
        if cfg.security == "ssl":
            conn: smtplib.SMTP = _SMTP_SSL(timeout=cfg.timeout_seconds, context=context)
        else:
            conn = _SMTP(timeout=cfg.timeout_seconds)
        conn._host = cfg.host  # type: ignore[attr-defined]  # what __init__(host) sets: TLS checks this name
        self._connecting = conn  # the watchdog can reach the socket while the greeting trickles in
        try:
            code, message = self._greeting(conn)
            if code != 220:
                raise smtplib.SMTPConnectError(code, message)
            conn.ehlo()
            if cfg.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise SmtpUnavailable(
                        f"SMTP server {cfg.host}:{cfg.port} does not offer STARTTLS",
                        'set email.security = "ssl" or "none" to match the server',
                    )
                conn.starttls(context=context)
                conn.ehlo()
            if self.username:
                if not conn.has_extn("auth"):
                    raise SmtpUnavailable(
                        f"SMTP server {cfg.host}:{cfg.port} does not offer a login (no AUTH after EHLO)",
                        'servers often offer it only over TLS: set email.security = "starttls" or "ssl", '
                        "or leave email.username_env unset",
                    )
                conn.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            conn.close()
            raise SmtpUnavailable(
                f"SMTP server {cfg.host}:{cfg.port} refused the login: {exc.smtp_code} {_text(exc.smtp_error)}",
                "check the variables named by email.username_env and email.password_env",
            ) from None
        except BaseException:
            conn.close()
            raise
        finally:
            self._connecting = None
        return conn

    def _greeting(self, conn: smtplib.SMTP) -> tuple[int, bytes]:
        """Connect and read the server's 220. A server that takes the connection and then says
        nothing until the timeout is, nearly always, one that speaks TLS from the first byte
        (port 465) and waits for ours: a setup problem, reported at once, not retried."""
        cfg = self.cfg
        try:
            return conn.connect(cfg.host, cfg.port)
        except smtplib.SMTPServerDisconnected as exc:
            if cfg.security == "ssl" or "timed out" not in str(exc):
                raise
            raise SmtpUnavailable(
                f"SMTP server {cfg.host}:{cfg.port} took the connection but sent no greeting in {cfg.timeout_seconds:g}s",
                'a port that speaks TLS from the first byte (usually 465) needs email.security = "ssl"',
            ) from None

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        """Hand one message for one recipient to the server; returns once it accepted it.
        Dropped connections and 4xx replies are retried under the one retry policy."""

        def on_retry(exc: Transient, attempt: int, wait: float) -> None:
            log(logger, logging.WARNING, "email.retry", recipient=recipient, attempt=attempt, error=exc.problem)

        policy = RetryPolicy(retries=self.retries, backoff=self.backoff, sleep=self.sleep, on_retry=on_retry)
        try:
            policy.call(lambda: self._attempt(sender, recipient, data))
        except Transient as exc:
            deferred = isinstance(exc, _Deferred)
            raise SmtpUnavailable(
                f"SMTP {self.cfg.host}:{self.cfg.port}: sending to {recipient} failed after {exc.attempts} attempts: {exc.problem}",
                "the server deferred this recipient (greylisting, a full mailbox); the next run tries again" if deferred
                else "check email.host, email.port and email.security",
            ) from None

    def _attempt(self, sender: str, recipient: str, data: bytes) -> None:
        self._check_bounds()
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="smtp-deadline", daemon=True)
            self._watchdog.start()
        try:
            if self.conn is None:
                self.conn = self._connect()
            self.conn.data_sent = False  # type: ignore[attr-defined]
            self.conn.sendmail(sender, [recipient], data)
            return
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = exc.recipients.get(recipient, (0, b""))
            if setup := self._setup_failure(code, reason, f"recipient {recipient}"):
                raise setup from None
            if not 400 <= code < 500:
                raise RecipientRefused(f"SMTP server refused recipient {recipient}: {code} {_text(reason)}") from None
            self._drop()
            raise _Deferred(f"recipient {recipient}: {code} {_text(reason)}") from None  # greylisting, a full mailbox
        except smtplib.SMTPSenderRefused as exc:
            hint = "check email.from: the server must accept it as the sender" if exc.smtp_code >= 500 else None
            if setup := self._setup_failure(exc.smtp_code, exc.smtp_error, f"the sender {sender} (MAIL FROM)", hint):
                raise setup from None
            error = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        except smtplib.SMTPResponseException as exc:  # SMTPDataError included
            if setup := self._setup_failure(exc.smtp_code, exc.smtp_error, f"the message to {recipient}"):
                raise setup from None
            error = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if exc.smtp_code >= 500:
                raise RecipientRefused(f"SMTP server refused the message to {recipient}: {error}") from None
        except ssl.SSLCertVerificationError as exc:
            self._drop()
            raise SmtpUnavailable(
                f"SMTP server {self.cfg.host}:{self.cfg.port}: TLS certificate not trusted: {_text(exc.verify_message or str(exc))}",
                "check email.host matches the server's certificate; for a private CA set SSL_CERT_FILE to its PEM bundle",
            ) from None
        except ssl.SSLError as exc:
            self._drop()
            raise SmtpUnavailable(
                f"SMTP server {self.cfg.host}:{self.cfg.port}: TLS failed ({self.cfg.security}): {_text(exc.reason or str(exc))}",
                'check email.security ("ssl" for port 465, "starttls" for 587) and email.port',
            ) from None
        except TRANSIENT as exc:
            error = scrub(f"{type(exc).__name__}: {exc}")
            if getattr(self.conn, "data_sent", False):
                self._drop()
                raise SmtpUnknownState(
                    f"SMTP {self.cfg.host}:{self.cfg.port}: connection lost after the message to {recipient} was sent, "
                    f"before the server confirmed it ({error})"
                ) from None
        self._drop()
        raise Transient(error)

    def _setup_failure(self, code: int, reply: bytes | str, what: str, hint: str | None = None) -> SmtpUnavailable | None:
        """A 530 (STARTTLS or a login required), or any refusal given with a `hint`, is about
        the config, not a recipient: it stops the run and the messages stay pending, so fixing
        the config delivers them next run. Counted as a recipient's refusal, they were given up."""
        if code == 530:
            hint = "the server needs STARTTLS or a login: set email.security / email.username_env"
        if hint is None:
            return None
        return SmtpUnavailable(f"SMTP server {self.cfg.host}:{self.cfg.port} refused {what}: {code} {_text(reply)}", hint)

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


def _text(raw: bytes | str) -> str:
    return scrub(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))
