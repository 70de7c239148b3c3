"""Poll runs: one row per source per poll, so the next poll knows where to start.

A run is inserted as "running" and committed before fetching starts; only a
finished run is marked "ok". A run killed mid-way stays "running" until the next
poll (holding the poll lock) marks it "interrupted", and never counts as success.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from tracker import jsonl
from tracker.store.ledger import FAILED, INTERRUPTED, OK, RUNNING, Ledger
from tracker.timeutil import iso, now_iso

__all__ = ["FAILED", "INTERRUPTED", "OK", "RUNNING", "LEDGER", "Run", "start_run", "update_counts", "finish_run"]


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
    detail: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _run(row: dict[str, Any]) -> Run:
    fields = {k: row.get(k) for k in Run.__dataclass_fields__}
    fields["detail"] = jsonl.loads(row.get("detail") or "{}")
    return Run(**fields)


def start_run(db: Database, source: str, window_start: datetime, window_end: datetime, at: str | None = None) -> int:
    table = db["poll_runs"]
    table.insert(
        {
            "source": source,
            "window_start": iso(window_start),
            "window_end": iso(window_end),
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
    error: str | None = None, at: str | None = None, detail: dict[str, int] | None = None,
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
            "detail": jsonl.dumps(detail) if detail else None,
        },
    )


LEDGER: Ledger[Run] = Ledger(
    "poll_runs", "source", "window_end DESC, id DESC", _run,
    "the poll process stopped before finishing (killed or crashed)",
)
