"""`tracker digest`, `tracker decide`, `tracker bot`: delivery and triage from the terminal."""

from __future__ import annotations

import click

from tracker.timeutil import utcnow
from tracker.commands.common import comma_list, json_option, parse_now, pass_app, print_json
from tracker.errors import DeliveryError, TrackerError


def _channels(value: str | None, config) -> list[str]:  # type: ignore[no-untyped-def]
    from tracker.deliver.outbox import CHANNELS, configured_channels, require_channel, require_chats  # start-up: decide needs no clients

    if not value:
        return configured_channels(config) or ["stdout"]
    names = comma_list(value, CHANNELS, "channel", "'--channel'")
    for name in names:
        require_channel(config, name)
    if "telegram" in names:
        require_chats(config)
    return names


def _periods(text: str | None) -> list[str | None]:
    """`--period`: one period or a comma list, as `--channel` takes; None is each channel's default."""
    from tracker.deliver.digest import PERIODS  # start-up: decide needs no rendering

    return [None] if text is None else list(comma_list(text, list(PERIODS), "period", "'--period'"))


@click.command("digest")
@click.option("--channel", "channel", default=None, metavar="LIST",
              help="Comma-separated channels: stdout, telegram, email (default: every configured one, else stdout).")
@click.option("--period", "period", default=None, metavar="LIST",
              help="day, week or both (day,week): papers first seen in the last day or week "
                   "(default: day for telegram/stdout, week for email).")
@click.option("--dry-run", is_flag=True, help="Render and print the digest; send nothing and mark nothing delivered.")
@click.option("--now", "now_text", default=None,
              help="Pretend the current time is this ISO date-time, as `poll --now` did (replays, tests).")
@json_option
@pass_app
def digest(app, channel: str | None, period: str | None, dry_run: bool, now_text: str | None, as_json: bool) -> None:
    """Render and deliver the digest of papers not yet delivered on each channel."""
    # start-up: the delivery clients (PTB, SMTP) load only for digest and bot
    from tracker.deliver.outbox import run_digest
    from tracker.store import open_store

    config = app.config
    channels = _channels(channel, config)
    periods = _periods(period)
    db = open_store(config.store.path)
    now = parse_now(now_text) if now_text else utcnow()
    try:
        reports = [run_digest(config, db, name, each, now, dry_run=dry_run) for name in channels for each in periods]
    finally:
        db.conn.close()
    if as_json:
        print_json([r.to_json() for r in reports])
    else:
        for r in reports:
            if r.channel == "stdout" or r.dry_run:
                for text in r.messages:
                    click.echo(text.rstrip() + "\n")
            if r.channel == "stdout":
                continue
            click.echo(f"{r.channel}: {r.papers} paper(s) ({r.period}): {_state(r)}")
    failures = [f for r in reports for f in r.failures]
    if failures:
        raise DeliveryError(
            "; ".join(failures), "undelivered messages stay in the outbox and are re-sent by the next `tracker digest`"
        )


def _state(r) -> str:
    """What a channel's run did, including messages an earlier run left in the outbox."""
    if r.dry_run:
        return "dry run, nothing sent"
    parts = ["nothing new"] if r.skipped_empty else []
    unit = "email(s)" if r.channel == "email" else "message(s)"
    if r.resent:
        parts.append(f"{r.resent} {unit} left over from an earlier run re-sent")
    if r.sent or not r.skipped_empty:
        to = f" to {r.recipients} recipient(s)" if r.channel == "email" else ""
        parts.append(f"{r.sent} {unit} sent{to}, {r.delivered} paper(s) delivered")
    if r.failures:
        rows = r.failed
        what = f"{rows} recipient cop{'y' if rows == 1 else 'ies'}" if r.channel == "email" else f"{rows} message(s)"
        errors = f" ({len(r.failures)} error(s))" if len(r.failures) != rows else ""
        parts.append(f"{what} failed{errors}, kept in the outbox for the next run")
    return "; ".join(parts) if parts != ["nothing new"] else "nothing new, not sent"


@click.command("decide")
@click.argument("arxiv_id")
@click.argument("decision", type=click.Choice(["accept", "reject", "move"]))
@click.argument("section", required=False)
@json_option
@pass_app
def decide(app, arxiv_id: str, decision: str, section: str | None, as_json: bool) -> None:
    """Record a maintainer's decision on a stored paper (the same as the Telegram buttons).

    SECTION (a configured section id) is required for `move`, optional for `accept`."""
    # start-up: decide loads the store only
    from tracker.models import split_arxiv_id
    from tracker.store import open_store
    from tracker.store.decisions import record_decision
    from tracker.store.papers import get_paper

    config = app.config
    if decision == "move" and not section:
        raise click.UsageError("`move` needs a SECTION id")
    if decision == "reject" and section:
        raise click.UsageError("`reject` takes no SECTION")
    if section and config.section(section) is None:
        valid = ", ".join(s.id for s in config.sections)
        raise click.BadParameter(f"unknown section {section!r} (sections in {config.file}: {valid})", param_hint="SECTION")
    split = split_arxiv_id(arxiv_id.removeprefix("arXiv:"))
    paper_id = split[0] if split else arxiv_id.strip()
    section_id = config.section(section).id if section else None  # type: ignore[union-attr]
    db = open_store(config.store.path)
    try:
        d = record_decision(db, paper_id, decision, section_id, decided_by="cli", via="cli")
        typed = split[1] if split else None
        stored = get_paper(db, paper_id) if typed is not None else None  # recorded: the paper is stored
    finally:
        db.conn.close()
    if stored is not None and stored.version not in (None, typed):
        click.echo(f"note: {paper_id} is stored at v{stored.version}, not v{typed}; a decision is about the paper, "
                   "whatever its version", err=True)
    if as_json:
        print_json({"paper_id": d.paper_id, "decision": d.decision, "section": d.section, "via": d.via, "decided_at": d.decided_at})
    else:
        click.echo(f"{d.paper_id}: {d.decision}" + (f" -> {d.section}" if d.section else ""))


@click.command("bot")
@click.option("--max-updates", type=int, default=None, help="Stop after handling this many updates (default: run until Ctrl-C).")
@click.option("--poll-timeout", type=click.IntRange(0, 60), default=25, show_default=True,
              help="Seconds each getUpdates long poll waits for news.")
@click.option("--whoami", is_flag=True,
              help="Wait for a message to the bot (send it /start from the chat the digest should go to), "
                   "print and reply that chat's id and your user id, then exit.")
@click.option("--wait", "wait_seconds", type=click.FloatRange(min=0), default=300, show_default=True,
              help="With --whoami: how long to wait for a message.")
@json_option
@pass_app
def bot(app, max_updates: int | None, poll_timeout: int, whoami: bool, wait_seconds: float, as_json: bool) -> None:
    """Run the Telegram triage bot (long polling): buttons, /latest, /search, /section, /status;
    /start or /whoami answers anyone with their chat and user id."""
    # start-up: the bot and its clients load only for `tracker bot`
    from tracker.deliver.bot import run_bot
    from tracker.deliver.outbox import require_channel
    from tracker.store import open_store

    config = app.config
    require_channel(config, "telegram")
    if whoami:
        from tracker.deliver.bot import whoami as ask  # start-up time: loads python-telegram-bot

        seen = ask(config, wait_seconds, poll_timeout)
        if as_json:
            print_json(seen)
        else:
            for s in seen:
                click.echo(f"chat id {s['chat_id']} ({s['chat_type']} {s['chat_title'] or ''}".rstrip() +
                           f"), user id {s['user_id']}" + (f" (@{s['username']})" if s["username"] else ""))
                click.echo(f"  in the config: [telegram] chat_ids = [{s['chat_id']}], allowed_user_ids = [{s['user_id']}]")
        if not seen:
            raise TrackerError(f"no message reached the bot within {wait_seconds:g} s",
                               "open a chat with your bot (or add it to the group), send /start, run this again")
        return
    db = open_store(config.store.path)
    try:
        handled = run_bot(config, db, max_updates=max_updates, poll_timeout=poll_timeout)
    except KeyboardInterrupt:
        handled = -1
    finally:
        db.conn.close()
    if handled >= 0:
        click.echo(f"bot stopped after {handled} update(s)")


COMMANDS = [digest, decide, bot]
