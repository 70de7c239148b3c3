"""Job runs: one row per scheduled (or `run --once`) job execution.

APScheduler's memory job store forgets everything on restart, so this table is
what the daemon's catch-up reads ("when did digest last succeed?") and what
`tracker status` shows. A run is inserted as "running" before the job starts;
the process holding run.lock marks leftovers "interrupted" at start, so a job
killed mid-way never counts as a success.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlite_utils import Database

from tracker import jsonl
from tracker.store.ledger import FAILED, INTERRUPTED, OK, RUNNING, SKIPPED, Ledger
from tracker.timeutil import iso

__all__ = ["FAILED", "INTERRUPTED", "OK", "RUNNING", "SKIPPED", "LEDGER", "JobRun", "parse",
           "record_job_start", "record_job_finish", "record_skipped", "last_job_runs", "ever_ran"]


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

    @property
    def started_at(self) -> datetime:
        return datetime.fromisoformat(self.started)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _row(r: Mapping[str, Any]) -> JobRun:
    return JobRun(
        id=r["id"], job=r["job"], trigger=r["trigger"] or "schedule", started=r["started"], finished=r["finished"],
        outcome=r["outcome"], error=r["error"], summary=jsonl.loads(r["summary"] or "{}"), next_run=r["next_run"],
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
            "summary": jsonl.dumps(dict(summary or {})),
            "next_run": iso(next_run) if next_run else None,
        },
    )


def record_skipped(db: Database, job: str, at: datetime, reason: str, trigger: str = "once") -> int:
    run_id = record_job_start(db, job, at, trigger)
    record_job_finish(db, run_id, at, SKIPPED, error=reason)
    return run_id


LEDGER: Ledger[JobRun] = Ledger(
    "job_runs", "job", "started DESC, id DESC", _row, "the process stopped before the job finished (killed or crashed)"
)


def last_job_runs(db: Database) -> dict[str, JobRun]:
    """The most recent run of each job (skips excluded: they say nothing about the job)."""
    return {r.job: r for r in LEDGER.latest(db, skip=(SKIPPED,))}


def ever_ran(db: Database, job: str) -> bool:
    return LEDGER.ever_ran(db, job, skip=(SKIPPED,))
