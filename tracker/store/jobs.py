"""Job runs: one row per scheduled (or `run --once`) job execution.

APScheduler's memory job store forgets everything on restart, so this table is
what the daemon's catch-up reads ("when did digest last succeed?") and what
`tracker status` shows. A run is inserted as "running" before the job starts;
the process holding run.lock marks leftovers "interrupted" at start, so a job
killed mid-way never counts as a success.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from sqlite_utils import Database

RUNNING, OK, FAILED, INTERRUPTED, SKIPPED = "running", "ok", "failed", "interrupted", "skipped"


def iso(when: datetime | None) -> str | None:
    """UTC ISO text, so rows sort and compare as strings."""
    if when is None:
        return None
    if when.tzinfo is None:
        raise ValueError("job times must be timezone-aware")
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class JobRun:
    id: int
    job: str
    trigger: str
    started: str
    finished: str | None
    outcome: str
    error: str | None
    summary: dict[str, Any]
    next_run: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _row(r: Mapping[str, Any]) -> JobRun:
    return JobRun(
        id=r["id"], job=r["job"], trigger=r["trigger"] or "schedule", started=r["started"], finished=r["finished"],
        outcome=r["outcome"], error=r["error"], summary=json.loads(r["summary"] or "{}"), next_run=r["next_run"],
    )


def record_job_start(db: Database, job: str, started: datetime, trigger: str = "schedule") -> int:
    table = db["job_runs"]
    table.insert({"job": job, "trigger": trigger, "started": iso(started), "outcome": RUNNING})
    return int(table.last_pk)


def record_job_finish(
    db: Database,
    run_id: int,
    finished: datetime,
    outcome: str,
    error: str | None = None,
    summary: Mapping[str, Any] | None = None,
    next_run: datetime | None = None,
) -> None:
    db["job_runs"].update(
        run_id,
        {
            "finished": iso(finished),
            "outcome": outcome,
            "error": error,
            "summary": json.dumps(dict(summary or {}), ensure_ascii=False, default=str),
            "next_run": iso(next_run),
        },
    )


def record_skipped(db: Database, job: str, at: datetime, reason: str, trigger: str = "once") -> int:
    run_id = record_job_start(db, job, at, trigger)
    record_job_finish(db, run_id, at, SKIPPED, error=reason)
    return run_id


def mark_interrupted(db: Database, at: datetime) -> int:
    """Rows still "running" belong to a dead process (the caller holds run.lock)."""
    cursor = db.execute(
        "UPDATE job_runs SET outcome = ?, finished = ?, error = ? WHERE outcome = ?",
        [INTERRUPTED, iso(at), "the process stopped before the job finished (killed or crashed)", RUNNING],
    )
    return cursor.rowcount


def last_job_runs(db: Database) -> dict[str, JobRun]:
    """The most recent run of each job (skips excluded: they say nothing about the job)."""
    rows = db.query(
        "SELECT * FROM job_runs WHERE id IN (SELECT MAX(id) FROM job_runs WHERE outcome != ? GROUP BY job)", [SKIPPED]
    )
    return {r["job"]: _row(r) for r in rows}


def last_success(db: Database, job: str) -> datetime | None:
    """When the latest successful run of `job` started."""
    rows = list(db.query("SELECT MAX(started) AS s FROM job_runs WHERE job = ? AND outcome = ?", [job, OK]))
    return parse(rows[0]["s"]) if rows else None


def ever_ran(db: Database, job: str) -> bool:
    rows = list(db.query("SELECT 1 FROM job_runs WHERE job = ? AND outcome != ? LIMIT 1", [job, SKIPPED]))
    return bool(rows)


def runs_of(db: Database, job: str | None = None, limit: int = 20) -> list[JobRun]:
    where, params = ("WHERE job = ?", [job]) if job else ("", [])
    return [_row(r) for r in db.query(f"SELECT * FROM job_runs {where} ORDER BY id DESC LIMIT {int(limit)}", params)]


def job_status(db: Database, scheduler_or_config: Any, now: datetime) -> list[dict[str, Any]]:
    """Each job's schedule, last run, outcome and next run, for `tracker status`.

    Pass the running scheduler (its own next run times) or the Config (next run
    times computed from the crontab lines at `now`)."""
    from tracker.run import schedule

    config = getattr(scheduler_or_config, "tracker_config", scheduler_or_config)
    live = {}
    if hasattr(scheduler_or_config, "get_jobs"):
        live = {j.id: getattr(j, "next_run_time", None) for j in scheduler_or_config.get_jobs()}
    last = last_job_runs(db)
    out = []
    for spec in schedule.job_specs(config):
        run = last.get(spec.name)
        if spec.trigger is None:
            next_run = None
        elif live.get(spec.name) is not None:
            next_run = live[spec.name]
        else:
            next_run = schedule.next_fire(spec.trigger, now)
        success = last_success(db, spec.name)
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
                "last_success": iso(success),
                "next_run": iso(next_run),
            }
        )
    return out
