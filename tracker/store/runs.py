"""Poll runs: one row per source per poll, so the next poll knows where to start.

A run is inserted as "running" and committed before fetching starts; only a
finished run is marked "ok". A run killed mid-way stays "running" until the next
poll (holding the poll lock) marks it "interrupted", and never counts as success.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from tracker.timeutil import now_iso

RUNNING, OK, FAILED, INTERRUPTED = "running", "ok", "failed", "interrupted"


@dataclass(frozen=True)
class Run:
    id: int
    source: str
    window_start: str
    window_end: str
    started: str
    finished: str | None
    outcome: str
    fetched: int
    new: int
    updated: int
    requests: int
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _run(row: dict[str, Any]) -> Run:
    return Run(**{k: row.get(k) for k in Run.__dataclass_fields__})


def start_run(db: Database, source: str, window_start: datetime, window_end: datetime, at: str | None = None) -> int:
    table = db["poll_runs"]
    table.insert(
        {
            "source": source,
            "window_start": window_start.isoformat(timespec="seconds"),
            "window_end": window_end.isoformat(timespec="seconds"),
            "started": at or now_iso(),
            "outcome": RUNNING,
            "fetched": 0,
            "new": 0,
            "updated": 0,
            "requests": 0,
        }
    )
    return int(table.last_pk)


def update_counts(db: Database, run_id: int, fetched: int, new: int, updated: int, requests: int) -> None:
    db["poll_runs"].update(run_id, {"fetched": fetched, "new": new, "updated": updated, "requests": requests})


def finish_run(
    db: Database, run_id: int, outcome: str, fetched: int, new: int, updated: int, requests: int,
    error: str | None = None, at: str | None = None,
) -> None:
    db["poll_runs"].update(
        run_id,
        {
            "finished": at or now_iso(),
            "outcome": outcome,
            "fetched": fetched,
            "new": new,
            "updated": updated,
            "requests": requests,
            "error": error,
        },
    )


def mark_interrupted(db: Database, at: str | None = None) -> int:
    """Runs still "running" belong to a dead process (the caller holds the poll lock)."""
    cursor = db.execute(
        "UPDATE poll_runs SET outcome = ?, finished = ?, error = ? WHERE outcome = ?",
        [INTERRUPTED, at or now_iso(), "the poll process stopped before finishing (killed or crashed)", RUNNING],
    )
    return cursor.rowcount


def last_success(db: Database, source: str) -> Run | None:
    rows = list(
        db.query(
            "SELECT * FROM poll_runs WHERE source = ? AND outcome = ? ORDER BY window_end DESC, id DESC LIMIT 1",
            [source, OK],
        )
    )
    return _run(rows[0]) if rows else None


def last_runs(db: Database) -> list[Run]:
    """The most recent run of each source, by source name."""
    rows = db.query(
        "SELECT * FROM poll_runs WHERE id IN (SELECT MAX(id) FROM poll_runs GROUP BY source) ORDER BY source"
    )
    return [_run(r) for r in rows]


def runs_of(db: Database, source: str | None = None, limit: int = 20) -> list[Run]:
    where, params = ("WHERE source = ?", [source]) if source else ("", [])
    return [_run(r) for r in db.query(f"SELECT * FROM poll_runs {where} ORDER BY id DESC LIMIT {int(limit)}", params)]
