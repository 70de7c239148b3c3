"""Store -> digest -> notify, through the outbox, so every paper is delivered at least
once and a crash can repeat at most the one message in flight.

Order of a run (per channel, under a lock): send what an earlier run left pending;
select undelivered papers; render them; write the messages as pending outbox rows
in one transaction; send each row and mark it sent right after the service's
acknowledgement. `stdout` only prints and marks nothing; `dry_run` writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from tracker.config import Config
from tracker.deliver.digest import PERIODS, Digest, build_digest, environment, render_email, render_stdout, weekly_summary, window
from tracker.errors import ConfigError, DeliveryError, TrackerError
from tracker.fsutil import atomic_write
from tracker.locking import exclusive
from tracker.logs import log
from tracker.deliver import triage
from tracker.deliver.email import SmtpSession, SmtpUnavailable, SmtpUnknownState, build_message, credentials
from tracker.config.lines import locate
from tracker.deliver.telegram import WHOAMI, TelegramClient, TelegramRefused, TelegramUnavailable, bot_token
from tracker.deliver.telegram_html import STATUS_RESERVE, compose, pack, render_empty, render_parts
from tracker.store import Database
from tracker.store import deliveries as outbox
from tracker.store.deliveries import Candidate
from tracker.store.status import section_counts
from tracker.timeutil import iso, utc

logger = logging.getLogger("tracker.deliver.outbox")
CHANNELS = ("stdout", "telegram", "email")
DEFAULT_PERIOD = {"stdout": "day", "telegram": "day", "email": "week"}
CRASH_ENV = "TRACKER_TEST_CRASH_AFTER_ACK"
GIVE_UP_AFTER = 3
# Sends of one email that may have reached the server unconfirmed (connection lost after
# the data): the first one and at most one repeat, ever. See docs/delivery.md.
UNCONFIRMED_SENDS = 2
_acks = 0
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class DigestReport:
    """What one channel's digest did. `queued`, `sent` and `resent` count Telegram messages,
    and emails: an email to three recipients is one email (one outbox row per recipient, so
    each is tracked), and `recipients` counts the addresses the server took it for."""

    channel: str
    period: str
    window_start: str
    window_end: str
    papers: int
    messages: tuple[str, ...] = ()
    email_html: str | None = None
    queued: int = 0
    sent: int = 0
    resent: int = 0
    delivered: int = 0
    failures: tuple[str, ...] = ()
    dry_run: bool = False
    skipped_empty: bool = False
    paper_ids: tuple[str, ...] = ()
    recipients: int = 0
    failed: int = 0  # outbox rows that failed this run (a Telegram message, an email's copy for one recipient)

    @property
    def ok(self) -> bool:
        return not self.failures

    def counts(self) -> dict[str, int]:
        out = {"papers": self.papers, "messages": len(self.messages), "queued": self.queued, "sent": self.sent,
               "resent": self.resent, "delivered": self.delivered, "failures": len(self.failures)}
        return out | ({"recipients": self.recipients} if self.channel == "email" else {})

    def errors(self) -> list[str]:
        return list(self.failures)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("email_html")
        out["messages"] = len(self.messages)
        return out


@dataclass
class _Tally:
    acks: list[tuple[int, bool]] = field(default_factory=list)  # per acknowledged row: its digest, and if left over
    delivered: int = 0
    failures: list[str] = field(default_factory=list)
    failed_rows: int = 0  # rows that failed this run, kept or given up: one error (a bad token) can fail many

    def sent(self, per_digest: bool) -> tuple[int, int]:
        """(sent, resent): acknowledged rows, or with `per_digest` the digests they belong to
        (the rows of one email are its recipients: an email to three is one email sent)."""
        if per_digest:
            return len({run for run, _ in self.acks}), len({run for run, left in self.acks if left})
        return len(self.acks), sum(left for _, left in self.acks)


def save_rendered(report: DigestReport, out_dir: Path) -> list[Path]:
    """Write what a digest rendered under `out_dir` (the demo shows it): one file per
    Telegram message, the email's text and HTML parts, the stdout text."""
    names: list[tuple[str, str]] = []
    if report.channel == "telegram":
        names = [(f"telegram-{i:02d}.html", body) for i, body in enumerate(report.messages, 1)]
    elif report.channel == "email":
        names = [("weekly-email.txt", text) for text in report.messages]
        names += [("weekly-email.html", report.email_html)] if report.email_html else []
    else:
        names = [("digest.txt", text) for text in report.messages]
    return [atomic_write(out_dir / name, body) for name, body in names]


def require_channel(config: Config, channel: str) -> None:
    """An explicitly asked channel must be configured; the error names the missing table."""
    if channel not in CHANNELS:
        raise ConfigError(f"unknown channel {channel!r} (expected one of {', '.join(CHANNELS)})")
    if channel in ("telegram", "email") and getattr(config, channel) is None:
        raise ConfigError(
            f"{config.file}: channel '{channel}' is not configured: table [{channel}] is missing",
            f"add the [{channel}] table, as docs/delivery.md shows",
        )


def require_chats(config: Config) -> None:
    """A Telegram digest asked for by name needs a chat: `chat_ids = []` (allowed while
    `tracker bot --whoami` finds the ids) would report "0 sent" and exit 0."""
    assert config.telegram is not None
    if not config.telegram.chat_ids:
        raise ConfigError(f"{locate(config.file, 'telegram.chat_ids')}: key 'telegram.chat_ids' is empty: "
                          "the Telegram digest would go to no chat", WHOAMI)


def capped_digest(config: Config, candidates: list[Candidate], period: str, start: datetime, end: datetime) -> Digest:
    """The digest under `digest.max_papers`, which caps daily digests only: the weekly one is
    where the overflow goes."""
    cap = config.digest.max_papers if period == "day" else 0
    return replace(build_digest(candidates, config.sections, period, start, end, cap), weekly_email=config.email is not None)


def configured_channels(config: Config) -> list[str]:
    return [c for c in ("telegram", "email") if getattr(config, c) is not None]


def run_digest(
    config: Config,
    db: Database,
    channel: str,
    period: str | None,
    now: datetime,
    dry_run: bool = False,
    sleep: Sleep | None = None,
    scheduled: tuple[datetime, datetime] | None = None,
) -> DigestReport:
    """Render and deliver one channel's digest; see the module docstring for the order.

    `scheduled` is the period the schedule assigns to this run (the previous and the
    latest fire time of schedule.email): the weekly email's per-section counts cover it,
    not the 7 days before `now`, so a late or caught-up run counts the same week and two
    emails never count a paper twice. The papers listed are still every one not yet
    delivered up to `now`: none waits for a later email."""
    require_channel(config, channel)
    period = period or DEFAULT_PERIOD[channel]
    if period not in PERIODS:
        raise TrackerError(f"unknown period {period!r} (expected one of {', '.join(PERIODS)})")
    if channel == "stdout":
        return _stdout(config, db, period, now)
    with exclusive(config.data_dir / f".digest-{channel}.lock", f"digest --channel {channel}", wait_seconds=60):
        start, end = window(period, now, outbox.last_window_end(db, channel))
        candidates = outbox.undelivered(db, channel, iso(start), iso(end))
        digest = capped_digest(config, candidates, period, start, end)
        empty = not digest.count and not getattr(config, channel).send_empty
        if channel == "telegram":
            messages = [] if empty else _telegram_messages(config, digest)
            rendered, html = tuple(dict.fromkeys(m.body for m in messages)), None
        else:
            messages, rendered, html = ([], (), None) if empty else _email_messages(config, db, digest, now, scheduled)
        base = dict(channel=channel, period=period, window_start=iso(start), window_end=iso(end), papers=digest.count,
                    paper_ids=digest.paper_ids)
        if dry_run:
            return DigestReport(**base, messages=rendered, email_html=html, dry_run=True, skipped_empty=empty)
        if messages and channel == "telegram":  # a missing secret is a config error before anything is queued
            bot_token(config)
        elif messages:
            credentials(config)
        tally = _Tally()
        _send_pending(config, db, channel, tally, sleep, fresh_after=None)
        run_id = outbox.queue_digest(db, channel, period, (iso(start), iso(end)), messages, digest.paper_ids, iso(now),
                                     overflow=digest.overflow)
        log(logger, logging.INFO, "digest.queued", channel=channel, papers=digest.count, messages=len(messages), run=run_id,
            overflow=digest.more)
        if messages:
            _send_pending(config, db, channel, tally, sleep, fresh_after=run_id)
        email = channel == "email"
        sent, resent = tally.sent(per_digest=email)
        return DigestReport(
            **base, messages=rendered, email_html=html, queued=min(len(messages), 1) if email else len(messages),
            sent=sent, resent=resent, recipients=len(tally.acks) if email else 0,
            delivered=tally.delivered, failures=tuple(tally.failures), failed=tally.failed_rows, skipped_empty=empty,
        )


def _stdout(config: Config, db: Database, period: str, now: datetime) -> DigestReport:
    start, end = window(period, now)
    digest = capped_digest(config, outbox.undelivered(db, "stdout", iso(start), iso(end)), period, start, end)
    text = render_stdout(digest, environment(config.templates_dir))
    return DigestReport("stdout", period, iso(start), iso(end), digest.count, messages=(text,), paper_ids=digest.paper_ids)


def _telegram_messages(config: Config, digest: Digest) -> list[outbox.OutboxMessage]:
    assert config.telegram is not None
    env = environment(config.templates_dir)
    if not digest.count:
        bodies = [(render_empty(digest, env), [], ())]
    else:
        header, sections = render_parts(digest, env)
        bodies = []
        for parts in pack(header, sections, reserve=STATUS_RESERVE):
            ids = tuple(p.paper_id for p in parts if p.paper_id)
            bodies.append((compose(parts), parts, ids))
    return [
        outbox.OutboxMessage(
            target=str(chat),
            body=body,
            paper_ids=ids,
            payload={"parts": triage.parts_to_payload(parts), "keyboard": triage.entry_keyboard(parts)},
        )
        for chat in config.telegram.chat_ids
        for body, parts, ids in bodies
    ]


def _email_messages(
    config: Config, db: Database, digest: Digest, now: datetime, scheduled: tuple[datetime, datetime] | None
) -> tuple[list[outbox.OutboxMessage], tuple[str, ...], str]:
    """The week's counts (this period, to the second that ends it) against the previous
    period of the same length; with no paper stored before this period there is nothing
    to compare with, so the email shows no change rather than "+34"."""
    assert config.email is not None
    this_start, end = (utc(scheduled[0]), utc(scheduled[1])) if scheduled else (now - PERIODS[digest.period], now)
    prev_start, until = this_start - (end - this_start), iso(end + timedelta(seconds=1))
    previous = section_counts(db, iso(prev_start), iso(this_start)) if outbox.seen_before(db, iso(this_start)) else None
    summary = weekly_summary(
        config.sections,
        section_counts(db, iso(this_start), until),
        previous,
        outbox.decisions_between(db, iso(this_start), until),
    )
    rendered = render_email(digest, summary, environment(config.templates_dir))
    messages = []
    for recipient in config.email.to:
        msg = build_message(config.email.from_, recipient, rendered, now)
        messages.append(
            outbox.OutboxMessage(
                target=recipient,
                body=msg.as_bytes().decode("utf-8"),
                paper_ids=digest.paper_ids,
                payload={"subject": str(msg["Subject"]), "message_id": str(msg["Message-ID"])},
            )
        )
    return messages, (f"Subject: {rendered.subject}\n\n{rendered.text}",), rendered.html


def _acknowledged(db: Database, row: outbox.OutboxRow, message_id: str | None, tally: _Tally, fresh_after: int | None) -> None:
    """Bookkeeping right after an ack. CRASH_ENV=N kills the process after the N-th ack,
    before this bookkeeping: the outbox test uses it to prove a crash repeats one message."""
    global _acks
    _acks += 1
    crash_at = os.environ.get(CRASH_ENV)
    if crash_at and _acks >= int(crash_at):
        os.kill(os.getpid(), signal.SIGKILL)
    done = outbox.mark_sent(db, row.id, message_id)
    tally.acks.append((row.run_id, fresh_after is None))
    tally.delivered += len(done)
    log(logger, logging.INFO, "digest.sent", channel=row.channel, target=row.target, row=row.id, message=message_id, delivered=len(done))


def _failed(
    db: Database, row: outbox.OutboxRow, error: DeliveryError, tally: _Tally, final: bool = False, report: bool = True
) -> None:
    """A refusal (`final`) is retried by the next runs, then given up after GIVE_UP_AFTER.
    `report=False` records the failure on the row without repeating it in the run's failures."""
    gave_up = outbox.mark_failed(db, row.id, str(error), GIVE_UP_AFTER if final else None)
    tally.failed_rows += 1
    if report or gave_up:
        tally.failures.append(str(error) + (f" (gave up after {GIVE_UP_AFTER} refusals)" if gave_up else ""))
    log(logger, logging.WARNING, "digest.failed", channel=row.channel, target=row.target, row=row.id, error=str(error), gave_up=gave_up)


def _send_pending(
    config: Config, db: Database, channel: str, tally: _Tally, sleep: Sleep | None, fresh_after: int | None
) -> None:
    rows = [r for r in outbox.pending(db, channel) if (r.run_id == fresh_after if fresh_after else True)]
    targets = {str(c) for c in config.telegram.chat_ids} if channel == "telegram" and config.telegram else set()
    if channel == "email" and config.email:
        targets = set(config.email.to)
    live = []
    for row in rows:
        if row.target in targets:
            live.append(row)
        else:
            tally.delivered += len(outbox.cancel(db, row.id, f"target {row.target} is no longer configured"))
    if not live:
        return
    if channel == "telegram":
        asyncio.run(_send_telegram(config, db, live, tally, sleep, fresh_after))
    else:
        _send_email(config, db, live, tally, sleep, fresh_after)


async def _send_telegram(
    config: Config, db: Database, rows: list[outbox.OutboxRow], tally: _Tally,
    sleep: Sleep | None, fresh_after: int | None,
) -> None:
    assert config.telegram is not None
    token = bot_token(config)
    held: set[str] = set()  # chats whose remaining messages wait for the next run
    kwargs: dict[str, Any] = {}
    if sleep is not None:

        async def wait(seconds: float) -> None:
            sleep(seconds)

        kwargs["sleep"] = wait
    client = TelegramClient(config.telegram, token, **kwargs)
    try:
        await client.__aenter__()
    except DeliveryError as exc:
        for row in rows:  # every row keeps the reason; the run reports it once
            _failed(db, row, exc, tally, report=row is rows[0])
        return
    try:
        for row in rows:
            if row.target in held:
                continue
            try:
                message_id = await client.send_message(int(row.target), row.body, row.payload.get("keyboard"))
            except TelegramRefused as exc:
                if exc.kind != "BadRequest":  # a blocked bot or a bad token: the chat's other messages fail too
                    held.add(row.target)
                _failed(db, row, exc, tally, final=True)
                continue
            except TelegramUnavailable as exc:
                _failed(db, row, exc, tally)
                if exc.retry_after is None:  # Telegram unreachable or failing: every chat would wait the same
                    return
                held.add(row.target)  # flood control holds this chat; the others may still be sent to
                continue
            _acknowledged(db, row, str(message_id), tally, fresh_after)
    finally:
        await client.__aexit__(None, None, None)


def _send_email(
    config: Config, db: Database, rows: list[outbox.OutboxRow], tally: _Tally, sleep: Sleep | None, fresh_after: int | None
) -> None:
    assert config.email is not None
    user, password = credentials(config)
    with SmtpSession(config.email, user, password, **({"sleep": sleep} if sleep is not None else {})) as session:
        for row in rows:
            while True:  # again only after an unknown outcome, and at most UNCONFIRMED_SENDS times per row, ever
                if not outbox.begin_send(db, row.id, UNCONFIRMED_SENDS):
                    _gave_up_unconfirmed(db, row, tally)
                    break
                try:
                    session.send(config.email.from_, row.target, row.body.encode("utf-8"))
                except SmtpUnknownState as exc:
                    log(logger, logging.WARNING, "digest.unconfirmed", channel=row.channel, target=row.target, row=row.id,
                        message=row.payload.get("message_id"), error=str(exc))
                    continue
                except SmtpUnavailable as exc:
                    outbox.undo_send(db, row.id)
                    _failed(db, row, exc, tally)
                    return
                except DeliveryError as exc:
                    outbox.undo_send(db, row.id)
                    _failed(db, row, exc, tally, final=True)
                    break
                _acknowledged(db, row, row.payload.get("message_id"), tally, fresh_after)
                break


def _gave_up_unconfirmed(db: Database, row: outbox.OutboxRow, tally: _Tally) -> None:
    error = (f"email to {row.target} (Message-ID {row.payload.get('message_id')}) given up: the server never confirmed "
             f"it in {UNCONFIRMED_SENDS} sends, each lost after the message went out; it may have arrived")
    outbox.give_up(db, row.id, error)
    tally.failed_rows += 1
    tally.failures.append(error)
    log(logger, logging.WARNING, "digest.failed", channel=row.channel, target=row.target, row=row.id, error=error, gave_up=True)
