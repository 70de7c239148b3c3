"""`tracker run [--once]`: the scheduler daemon, or one full cycle."""

from __future__ import annotations

import logging
import sys
import threading
from datetime import datetime

import click

from tracker.run import runner
from tracker.commands.common import json_option, parse_now, pass_app, print_json
from tracker.errors import TrackerError
from tracker.locking import exclusive
from tracker.logs import log
from tracker.timeutil import utcnow
from tracker.store import open_store


def pinned_clock(text: str) -> runner.Clock:
    """`--now`: time starts at `text` and moves on with the real clock, at least one
    second per reading, so each stage sees a later time than the one before (stored
    times have one-second resolution; a digest must see the poll that preceded it)."""
    import time
    from datetime import timedelta

    start = parse_now(text)
    began = time.monotonic()
    last: list[datetime] = []

    def clock() -> datetime:
        now = start + timedelta(seconds=time.monotonic() - began)
        if last and now < last[-1] + timedelta(seconds=1):
            now = last[-1] + timedelta(seconds=1)
        last[:] = [now]
        return now

    return clock


@click.command("run")
@click.option("--once", is_flag=True, help="Run one cycle (poll, digest, email when due, propose) and exit.")
@click.option("--now", "now_text", default=None,
              help="With --once: pretend the current time is this ISO date-time (replays, demos, tests).")
@json_option
@pass_app
def run_cmd(app, once: bool, now_text: str | None, as_json: bool) -> None:
    """Run the scheduled jobs from [schedule] until SIGTERM/Ctrl-C, or one cycle with --once.

    Only one `tracker run` may use a data directory at a time. On SIGTERM or
    Ctrl-C the job in progress finishes, then the process exits 0. With --once
    the exit code is 1 if any stage failed (the later stages still run)."""
    if now_text and not once:
        raise click.UsageError("--now only works with --once")
    clock = pinned_clock(now_text) if now_text else utcnow
    config = app.config
    start_checks(config)
    stop = threading.Event()
    with exclusive(config.data_dir / "run.lock", "tracker run"), runner.stop_on_signals(stop):
        if not once:
            runner.serve(config, stop=stop)
            return

        db = open_store(config.store.path)
        try:
            results = runner.run_once(config, db, clock=clock, stop=stop)
        finally:
            db.close()
    if as_json:
        print_json([{"job": r.job, "outcome": r.outcome, "error": r.error, "seconds": r.seconds, **r.summary} for r in results])
    else:
        for r in results:
            detail = r.error if r.error else " ".join(f"{k}={v}" for k, v in r.summary.items())
            click.echo(f"{r.job:<8} {r.outcome:<8} {detail}".rstrip())
    if not all(r.ok for r in results):
        click.echo("error: a stage failed (see above; the others still ran)", err=True)
        sys.exit(1)


def start_checks(config) -> None:
    """The offline part of `tracker check` at start: refuse to run without a secret,
    with a heading typo or an unwritable store."""
    from tracker.run.check import run_checks  # start-up time: it loads the Telegram, SMTP and git clients

    logger = logging.getLogger("tracker.run")
    checks = run_checks(config, network=False)
    for c in checks:
        if not c.skipped:
            log(logger, logging.INFO if c.ok else logging.WARNING, "check.ok" if c.ok else "check.failed",
                check=c.name, detail=c.detail, **({"fix": c.fix} if not c.ok and c.fix else {}))
    blocking = [c for c in checks if c.blocking and not c.ok]
    if blocking:
        raise TrackerError(f"not starting: {blocking[0].detail}" + (f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""),
                           blocking[0].fix)


def render_jobs(rows: list[dict]) -> list[str]:
    """`tracker status` lines for the jobs (runner.status_jobs)."""
    out = []
    for r in rows:
        if not r["enabled"]:
            out.append(f"{r['job']}: off ({r['skip_reason']})")
            continue
        last = f"last {r['last_outcome']} at {r['last_started']}" if r["last_outcome"] else "never run by the scheduler"
        out.append(f"{r['job']}: {r['schedule']!r}, {last}, next {r['next_run']}")
        if r["last_error"] and r["last_outcome"] != "ok":
            out.append(f"  error: {r['last_error']}")
    return out


def render_backlog(data: dict) -> list[str]:
    """`tracker status` lines for the delivery backlog (store.status)."""
    if not data:
        return ["nothing queued or delivered yet"]
    def messages(v: dict, kind: str) -> str:
        copies = v.get(f"{kind}_copies", 0)
        return f"{v[f'{kind}_messages']} messages" + (f" ({copies} recipient copies)" if copies > v[f"{kind}_messages"] else "")

    out = []
    for ch, v in sorted(data.items()):
        out.append(f"{ch}: {messages(v, 'pending')} pending, {v['queued_papers']} papers queued, "
                   f"{v['delivered_papers']} delivered" + (f", {v['overflow_papers']} over the daily cap" if v.get("overflow_papers") else "")
                   + (f", {messages(v, 'failed')} given up (see docs/delivery.md)" if v.get("failed_messages") else ""))
        if v.get("pending_error"):  # only pending rows carry one
            out.append(f"  last error: {v['pending_error']}")
    return out


COMMANDS = [run_cmd]
