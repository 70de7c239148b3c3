"""Running jobs: one cycle (`run --once`) and the daemon (`run`).

Each job is a stage callable `(config, db, now) -> StageReport` (tracker.models):
the runner reads only its `ok`, `counts()` and `errors()`, so a test injects fakes
with the same three. Every execution is recorded in job_runs before it starts and after
it ends; a failing job is logged and recorded, and the next one still runs.

Shutdown: SIGTERM/SIGINT set a stop flag. Nothing new starts; the job in
progress gets `STOP_GRACE_SECONDS` to finish its current stage, then the
process-wide network stop (tracker.net.retry.STOP) is set, which ends every
network wait and backoff within a tick (the stage records a failed, resumable
run). The process exits 0. A second signal exits at once (the next start marks
the job "interrupted"; the poll windows and outbox make a repeat safe).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Mapping

from tracker.run import schedule
from tracker.config import Config
from tracker.errors import TrackerError
from tracker.logs import log
from tracker.net import retry
from tracker.timeutil import iso, utcnow
from tracker.deliver.bot import run_bot
from tracker.deliver.outbox import run_digest
from tracker.models import StageReport
from tracker.propose.proposals import run_propose
from tracker.run.pipeline import KNOWN_SOURCES, poll
from tracker.store import Database, jobs, open_store

logger = logging.getLogger("tracker.run")

Stage = Callable[[Config, Database, datetime], StageReport]
Clock = Callable[[], datetime]
ONCE_ORDER = ("poll", "digest", "email", "propose")
EMAIL_MAX_GAP = timedelta(days=7)
BOT_STOP_SECONDS = 5.0  # the bot's long poll ends within a tick of retry.STOP
STOP_GRACE_SECONDS = 5.0


def poll_sources(config: Config) -> list[str]:
    wanted = ["api", "rss"] + (["citations"] if config.citations.provider != "none" else [])
    return [s for s in wanted if s in KNOWN_SOURCES]


def poll_stage(config: Config, db: Database, now: datetime) -> StageReport:
    return poll(config, db, poll_sources(config), now)


def digest_stage(config: Config, db: Database, now: datetime) -> StageReport:
    return run_digest(config, db, "telegram", "day", now)


def email_stage(config: Config, db: Database, now: datetime) -> StageReport:
    """The weekly email reports on the period between the last two fire times of
    schedule.email, so a run at 08:03 or a catch-up on Tuesday covers the same week."""
    spec = next(s for s in schedule.job_specs(config) if s.name == "email")
    period = schedule.scheduled_period(spec.trigger, now) if spec.trigger is not None else None
    return run_digest(config, db, "email", "week", now, scheduled=period)


def propose_stage(config: Config, db: Database, now: datetime) -> StageReport:
    return run_propose(config, db, now, open_pr=config.github is not None)


def default_stages() -> dict[str, Stage]:
    return {"poll": poll_stage, "digest": digest_stage, "email": email_stage, "propose": propose_stage}


def failure(report: StageReport) -> str | None:
    """Why a stage that returned normally still failed (a poll source, a chat)."""
    if report.ok:
        return None
    return "; ".join(report.errors()) or "the stage reported a failure"


@dataclass(frozen=True)
class JobResult:
    job: str
    outcome: str
    error: str | None = None
    seconds: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome in (jobs.OK, jobs.SKIPPED)


def run_job(
    config: Config,
    db: Database,
    job: str,
    stages: Mapping[str, Stage],
    clock: Clock = utcnow,
    trigger: str = "schedule",
    cron: Any = None,
) -> JobResult:
    """Run one job, record it, never raise for its failure (the next job must run)."""
    started = clock()
    run_id = jobs.record_job_start(db, job, started, trigger)
    log(logger, logging.INFO, "job.start", job=job, trigger=trigger)
    began = time.perf_counter()
    outcome, error, summary = jobs.OK, None, {}
    try:
        report = stages[schedule.ACTION.get(job, job)](config, db, started)
        summary = report.counts()
        error = failure(report)
    except TrackerError as exc:
        error = str(exc)
    except Exception as exc:  # a bug in a stage must not stop the daemon
        error = f"{type(exc).__name__}: {exc}"
        logger.exception("job.crashed", extra={"fields": {"job": job}})
    except BaseException:
        jobs.record_job_finish(db, run_id, clock(), jobs.INTERRUPTED, "interrupted before the job finished")
        raise
    if error:
        outcome = jobs.FAILED
    seconds = round(time.perf_counter() - began, 3)
    finished = clock()
    next_run = schedule.next_fire(cron, finished) if cron is not None else None
    jobs.record_job_finish(db, run_id, finished, outcome, error, summary, next_run)
    fields = {"job": job, "seconds": seconds, **{k: v for k, v in summary.items() if k not in ("job", "seconds", "error")}}
    if error:
        log(logger, logging.ERROR, "job.failed", **fields, error=error)
    else:
        log(logger, logging.INFO, "job.done", **fields)
    return JobResult(job, outcome, error, seconds, summary)


def email_due(config: Config, db: Database, now: datetime) -> bool:
    """Due when the email crontab fired since the last successful email, or that
    success is older than 7 days, or there never was one."""
    spec = next(s for s in schedule.job_specs(config) if s.name == "email")
    if spec.trigger is None:
        return False
    success = jobs.LEDGER.last_success(db, "email")
    if success is None or now - success.started_at >= EMAIL_MAX_GAP:
        return True
    fired = schedule.last_fire(spec.trigger, now)
    return fired is not None and fired > success.started_at


def _once_skip(config: Config, db: Database, job: str, now: datetime) -> str | None:
    if job == "digest" and config.telegram is None:
        return "no [telegram] table in the config"
    if job == "email":
        if config.email is None:
            return "no [email] table in the config"
        if not email_due(config, db, now):
            return "not due: the weekly email already went out since schedule.email last fired"
    return None


def run_once(
    config: Config,
    db: Database,
    stages: Mapping[str, Stage] | None = None,
    clock: Clock = utcnow,
    stop: threading.Event | None = None,
) -> list[JobResult]:
    """poll, digest, email (when due), propose, in that order; each recorded.
    A failed stage does not stop the next; a stop request ends after the current one."""
    stages = stages or default_stages()
    stale = jobs.LEDGER.mark_interrupted(db, clock())
    if stale:
        log(logger, logging.WARNING, "job.interrupted_runs", count=stale)
    results = []
    for job in ONCE_ORDER:
        if stop is not None and stop.is_set():
            log(logger, logging.WARNING, "run.stopped", remaining=",".join(ONCE_ORDER[len(results):]))
            break
        now = clock()
        reason = _once_skip(config, db, job, now)
        if reason:
            jobs.record_skipped(db, job, now, reason)
            log(logger, logging.INFO, "job.skipped", job=job, reason=reason)
            results.append(JobResult(job, jobs.SKIPPED, reason))
            continue
        if job == "propose" and config.github is None:
            log(logger, logging.INFO, "job.propose.files_only", reason="no [github] table in the config")
        results.append(run_job(config, db, job, stages, clock, trigger="once"))
    return results


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT -> set `stop`; a second one exits at once. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log(logger, logging.WARNING, "run.forced_exit", signal=name)
            os._exit(128 + signum)
        log(logger, logging.INFO, "run.stopping", signal=name, hint="finishing the current job; send again to exit at once")
        stop.set()
        timers.append(interrupt_after(STOP_GRACE_SECONDS))

    timers: list[threading.Timer] = []
    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for timer in timers:
            timer.cancel()
        retry.STOP.clear()


def interrupt_after(seconds: float) -> threading.Timer:
    """Set the network stop after `seconds`: the grace the running stage gets to finish."""
    timer = threading.Timer(seconds, retry.STOP.set)
    timer.daemon = True
    timer.start()
    return timer


def start_bot(config: Config, stop: threading.Event) -> threading.Thread | None:
    """Run the Telegram triage bot in this process when `telegram.run_bot` is true.

    It long-polls in its own thread with its own store connection (SQLite
    connections are per thread) and ends within one poll timeout after `stop`."""
    if config.telegram is None or not config.telegram.run_bot:
        return None

    def target() -> None:
        db = open_store(config.store.path)
        try:
            run_bot(config, db, stop=stop.is_set)
        except TrackerError as exc:
            log(logger, logging.ERROR, "bot.failed", error=str(exc), hint="the scheduler keeps running; fix and restart")
        except Exception:
            logger.exception("bot.crashed")
        finally:
            db.close()

    thread = threading.Thread(target=target, name="tracker-bot", daemon=True)
    thread.start()
    return thread


def _on_scheduler_event(event: Any) -> None:
    from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

    kind = {EVENT_JOB_MISSED: "job.missed", EVENT_JOB_MAX_INSTANCES: "job.still_running"}.get(event.code, "job.event")
    log(logger, logging.WARNING, kind, job=event.job_id, scheduled=getattr(event, "scheduled_run_time", None))


def _success_time(db: Database, job: str) -> datetime | None:
    success = jobs.LEDGER.last_success(db, job)
    return success.started_at if success else None


def startup(config: Config, db: Database, specs: list[schedule.JobSpec], now: datetime) -> list[str]:
    """Housekeeping before the scheduler starts: mark runs of a dead process
    interrupted, log the skipped jobs, return the jobs to catch up once."""
    stale = jobs.LEDGER.mark_interrupted(db, now)
    if stale:
        log(logger, logging.WARNING, "job.interrupted_runs", count=stale)
    for spec in specs:
        if spec.skip_reason:
            log(logger, logging.INFO, "job.disabled", job=spec.name, reason=spec.skip_reason)
        elif spec.note:
            log(logger, logging.INFO, "job.note", job=spec.name, note=spec.note)
    names = [s.name for s in specs]
    return schedule.missed_jobs(
        specs, {n: _success_time(db, n) for n in names}, {n: jobs.ever_ran(db, n) for n in names}, now
    )


def serve(
    config: Config,
    stages: Mapping[str, Stage] | None = None,
    clock: Clock = utcnow,
    stop: threading.Event | None = None,
) -> None:
    """The daemon: catch up missed jobs once, then run the crontab jobs until `stop`.
    The caller holds run.lock and installs the signal handlers."""
    from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

    stages = stages or default_stages()
    stop = stop or threading.Event()
    specs = schedule.job_specs(config)
    db = open_store(config.store.path)
    try:
        missed = startup(config, db, specs, clock())
    finally:
        db.close()
    cron = {s.name: s.trigger for s in specs}

    def job(name: str, trigger: str) -> None:
        if stop.is_set():
            log(logger, logging.INFO, "job.skipped", job=name, reason="shutting down")
            return
        job_db = open_store(config.store.path)
        try:
            run_job(config, job_db, name, stages, clock, trigger, cron.get(name))
        finally:
            job_db.close()

    scheduler = schedule.build_scheduler(config, job, specs)
    scheduler.add_listener(_on_scheduler_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    scheduler.start()
    def catch_up() -> None:
        for name in missed:  # in order, one after another: the digest delivers what the poll fetched
            job(name, "catch-up")

    if missed:
        scheduler.add_job(catch_up, id="catch-up", name=f"catch-up ({', '.join(missed)})")
    log(logger, logging.INFO, "run.started", jobs=",".join(s.name for s in specs if s.enabled),
        catch_up=",".join(missed) or "none", timezone=config.schedule.timezone)
    bot = start_bot(config, stop)
    try:
        stop.wait()
    finally:
        grace = interrupt_after(STOP_GRACE_SECONDS)
        scheduler.shutdown(wait=True)
        if bot is not None:
            bot.join(BOT_STOP_SECONDS)
        grace.cancel()
        retry.STOP.clear()
        log(logger, logging.INFO, "run.stopped")


def status_jobs(scheduler_or_config: Any, db: Database, now: datetime) -> list[dict[str, Any]]:
    """For `tracker status`: each job's schedule, enabled or why not, last run, outcome,
    last success and next run. Pass the running scheduler (its own next run times) or
    the Config (next run times computed from the crontab lines at `now`)."""
    config = getattr(scheduler_or_config, "tracker_config", scheduler_or_config)
    live = {}
    if hasattr(scheduler_or_config, "get_jobs"):
        live = {j.id: getattr(j, "next_run_time", None) for j in scheduler_or_config.get_jobs()}
    last = jobs.last_job_runs(db)
    out = []
    for spec in schedule.job_specs(config):
        run = last.get(spec.name)
        if spec.trigger is None:
            next_run = None
        elif live.get(spec.name) is not None:
            next_run = live[spec.name]
        else:
            next_run = schedule.next_fire(spec.trigger, now)
        success = jobs.LEDGER.last_success(db, spec.name)
        out.append(
            {
                "job": spec.name,
                "schedule": spec.expr,
                "enabled": spec.enabled,
                "skip_reason": spec.skip_reason,
                "note": spec.note,
                "last_started": run.started if run else None,
                "last_finished": run.finished if run else None,
                "last_outcome": run.outcome if run else None,
                "last_error": run.error if run else None,
                "last_success": success.started if success else None,
                "next_run": iso(next_run) if next_run else None,
            }
        )
    return out
