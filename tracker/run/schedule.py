"""The schedule: crontab expressions from `[schedule]` as APScheduler 3.x triggers.

Why this exists instead of calling `CronTrigger.from_crontab` directly:
- APScheduler 3.x numbers weekdays 0 = Monday, crontab 0 = Sunday, and
  `from_crontab` passes the field through unchanged, so "0 8 * * 1" would fire on
  Tuesdays. It also rejects wrapping name ranges such as the default "sun-thu"
  (sun is 6 in its numbering). We parse the day-of-week field with crontab's
  meaning (0 and 7 = Sunday, names, ranges, steps, lists) and hand APScheduler
  an explicit list of day names, which it cannot misread.
- Everything else here is pure: which jobs exist for a config, the last and next
  fire time at a given instant, and which jobs were missed while the process was
  down. Tests call these with plain datetimes, never by waiting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from tracker.config import Config
from tracker.config.lines import locate
from tracker.timeutil import utc
from tracker.errors import ConfigError

JOBS = ("poll", "catch_up", "digest", "email", "propose")
# Jobs that do the same work: a successful poll also satisfies the catch-up poll.
ACTION = {"poll": "poll", "catch_up": "poll", "digest": "digest", "email": "email", "propose": "propose"}
# Never-run jobs are not caught up at start (a fresh install should not send a
# digest of nothing or open a PR at once), except these: a first poll fills the store.
RUN_WHEN_NEVER_RUN = frozenset({"poll", "catch_up"})
MAX_CATCH_UP_AGE = timedelta(days=8)
DISABLED = ("", "off", "none", "never")

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * sun",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DAY_ITEM = re.compile(r"^(?P<range>\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(?P<step>\d+))?$")


def _day_number(token: str) -> int:
    """A crontab day token -> 0..6 with 0 = Sunday (7 also means Sunday)."""
    if token.isdigit():
        n = int(token)
        if not 0 <= n <= 7:
            raise ValueError(f"day of week {token} is out of range 0-7 (0 and 7 are Sunday)")
        return n % 7
    name = token[:3]
    if token not in (name, _full_day(name)) or name not in DAY_NAMES:
        raise ValueError(f"unknown day of week {token!r} (use sun, mon, tue, wed, thu, fri, sat or 0-7)")
    return DAY_NAMES.index(name)


def _full_day(abbrev: str) -> str:
    full = {"sun": "sunday", "mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday",
            "fri": "friday", "sat": "saturday"}
    return full.get(abbrev, abbrev)


def crontab_days(field: str) -> tuple[int, ...]:
    """The days (0 = Sunday .. 6 = Saturday) a crontab day-of-week field selects.

    Ranges go forward and may wrap ("fri-mon" = fri, sat, sun, mon); "7" and the
    end of "1-7" are Sunday, as in Vixie cron."""
    days: set[int] = set()
    for item in field.lower().split(","):
        m = _DAY_ITEM.match(item.strip())
        if not m:
            raise ValueError(f"cannot read day-of-week item {item!r}")
        step = int(m["step"]) if m["step"] else 1
        if step < 1:
            raise ValueError(f"step in {item!r} must be at least 1")
        part = m["range"]
        if part == "*":
            first, span = 0, 7
        elif "-" in part:
            a, b = part.split("-")
            first = _day_number(a)
            span = 8 - first if b == "7" else (_day_number(b) - first) % 7 + 1
        else:
            first = _day_number(part)
            span = 7 - first if m["step"] else 1
        days.update((first + i) % 7 for i in range(0, span, step))
    return tuple(sorted(days))


def crontab_trigger(expr: str, timezone: str | ZoneInfo, key: str = "schedule") -> CronTrigger:
    """A CronTrigger that means what the crontab expression means to a crontab user.

    Day-of-month and day-of-week, when both restricted, must BOTH match (APScheduler's
    rule; Vixie cron would fire when either matches)."""
    tz = timezone if isinstance(timezone, ZoneInfo) else zone(timezone)
    text = MACROS.get(expr.strip().lower(), expr)
    fields = text.split()
    if len(fields) != 5:
        raise ConfigError(
            f"key '{key}': expected a crontab expression with 5 fields (minute hour day month weekday), got {expr!r}", key=key
        )
    minute, hour, day, month, dow = fields
    try:
        names = ",".join(DAY_NAMES[d] for d in crontab_days(dow)) if dow != "*" else "*"
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=names, timezone=tz)
    except ValueError as exc:
        raise ConfigError(f"key '{key}': bad crontab expression {expr!r}: {exc}", key=key) from None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"key 'schedule.timezone': unknown time zone {name!r}",
                          "use an IANA time zone name such as America/New_York or Europe/Berlin", key="schedule.timezone") from None


@dataclass(frozen=True)
class JobSpec:
    """One job of the daemon: its crontab line and trigger, or why it does not run."""

    name: str
    expr: str
    trigger: CronTrigger | None
    skip_reason: str | None = None
    note: str | None = None

    @property
    def enabled(self) -> bool:
        return self.trigger is not None


def _service_missing(config: Config, name: str) -> str | None:
    if name == "digest" and config.telegram is None:
        return "no [telegram] table in the config"
    if name == "email" and config.email is None:
        return "no [email] table in the config"
    return None


def job_specs(config: Config) -> list[JobSpec]:
    """Every job in JOBS order; a disabled or unconfigured one carries its reason."""
    try:
        return _job_specs(config)
    except ConfigError as exc:
        raise ConfigError(f"{locate(config.file, exc.key) if exc.key else config.file}: {exc.message}", exc.hint) from None


def _job_specs(config: Config) -> list[JobSpec]:
    sched = config.schedule
    tz = zone(sched.timezone)
    specs = []
    for name in JOBS:
        expr = getattr(sched, name)
        missing = _service_missing(config, name)
        note = "no [github] table: writes out/ files only, no pull request" if name == "propose" and config.github is None else None
        if expr.strip().lower() in DISABLED:
            specs.append(JobSpec(name, expr, None, f"schedule.{name} is {expr!r} (disabled)"))
        elif missing:
            specs.append(JobSpec(name, expr, None, missing))
        else:
            specs.append(JobSpec(name, expr, crontab_trigger(expr, tz, f"schedule.{name}"), note=note))
    return specs


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first fire time at or after `after` (an aware datetime)."""
    return trigger.get_next_fire_time(None, after)


def last_fire(trigger: CronTrigger, now: datetime, max_age: timedelta = MAX_CATCH_UP_AGE) -> datetime | None:
    """The latest fire time at or before `now`, looking back at most `max_age`."""
    found = None
    t = trigger.get_next_fire_time(None, utc(now) - max_age)
    while t is not None and t <= now:
        found = t
        # step in UTC: local wall-clock arithmetic loses the fold of the hour a clock change
        # repeats (01:00 EST + 1 s became 01:00:01 EDT, an hour back), and looped for ever
        t = trigger.get_next_fire_time(None, utc(t) + timedelta(seconds=1))
    return found


def scheduled_period(trigger: CronTrigger, now: datetime, max_age: timedelta = timedelta(days=40)) -> tuple[datetime, datetime] | None:
    """[previous fire, latest fire] at `now`: the period a run of this job reports on,
    whenever it actually runs (late, caught up, or re-run by hand). None before any fire."""
    end = last_fire(trigger, now, max_age)
    if end is None:
        return None
    start = last_fire(trigger, utc(end) - timedelta(seconds=1), max_age)
    return (start if start is not None else end - timedelta(days=7)), end


def missed_jobs(
    specs: Sequence[JobSpec],
    last_success: Mapping[str, datetime | None],
    ever_ran: Mapping[str, bool],
    now: datetime,
    max_age: timedelta = MAX_CATCH_UP_AGE,
) -> list[str]:
    """Jobs to run once at start: their last fire time (within `max_age`) is later
    than the last successful run of the same action. Several missed occurrences
    still give one run, and two jobs with the same action (poll, catch_up) give one.

    `last_success` and `ever_ran` are keyed by job name."""
    due: list[str] = []
    done_actions: set[str] = set()
    for spec in specs:
        if spec.trigger is None:
            continue
        action = ACTION[spec.name]
        siblings = [n for n in JOBS if ACTION[n] == action]
        if action in done_actions:
            continue
        if not any(ever_ran.get(n) for n in siblings) and spec.name not in RUN_WHEN_NEVER_RUN:
            continue
        fired = last_fire(spec.trigger, now, max_age)
        successes = [s for s in (last_success.get(n) for n in siblings) if s is not None]
        latest = max(successes) if successes else None
        never = latest is None and spec.name in RUN_WHEN_NEVER_RUN
        if never or (fired is not None and (latest is None or latest < fired)):
            due.append(spec.name)
            done_actions.add(action)
    return due


def build_scheduler(
    config: Config, job: Callable[[str, str], None], specs: Sequence[JobSpec] | None = None
) -> BackgroundScheduler:
    """A (not yet started) scheduler with one cron job per enabled spec, calling
    `job(name, "schedule")`.

    One worker thread per job: a job stuck on a slow server (until its deadline)
    never delays another job's schedule; jobs share the SQLite file through short
    WAL transactions and a busy timeout, and poll.lock keeps two polls apart.
    coalesce=True and max_instances=1: a job that fell behind (machine suspended,
    a long poll) runs once, not once per missed time, and never overlaps itself. misfire_grace_time: a run later than this is
    dropped (the next fire time, or the start-up catch-up, covers it); 0 = no limit.
    """
    specs = job_specs(config) if specs is None else specs
    grace = config.schedule.misfire_grace_seconds
    policy = {"coalesce": True, "max_instances": 1, "misfire_grace_time": grace if grace > 0 else None}
    scheduler = BackgroundScheduler(
        timezone=zone(config.schedule.timezone),
        executors={"default": ThreadPoolExecutor(max_workers=len(specs) + 1)},
        job_defaults=policy,
    )
    for spec in specs:
        if spec.trigger is not None:
            scheduler.add_job(job, trigger=spec.trigger, args=(spec.name, "schedule"), id=spec.name, name=spec.name,
                              **policy)
    scheduler.tracker_config = config  # lets job_status() list the disabled jobs too
    return scheduler
