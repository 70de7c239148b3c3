"""Run bookkeeping shared by poll runs (one row per source per poll) and job runs
(one row per scheduled job execution): the outcomes, what a dead process left
"running", the last success and the recent history of each name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Generic, Mapping, TypeVar

from sqlite_utils import Database

from tracker.timeutil import iso, utcnow

RUNNING, OK, FAILED, INTERRUPTED, SKIPPED = "running", "ok", "failed", "interrupted", "skipped"
R = TypeVar("R")


@dataclass(frozen=True)
class Ledger(Generic[R]):
    """One table of runs: `key` names what ran (a source, a job); `success_order`
    picks the latest success; `record` turns a row into the caller's dataclass."""

    table: str
    key: str
    success_order: str
    record: Callable[[Mapping[str, Any]], R]
    interrupted_error: str

    def mark_interrupted(self, db: Database, at: datetime | None = None) -> int:
        """Rows still "running" belong to a dead process (the caller holds the lock)."""
        cursor = db.execute(
            f"UPDATE {self.table} SET outcome = ?, finished = ?, error = ? WHERE outcome = ?",
            [INTERRUPTED, iso(at or utcnow()), self.interrupted_error, RUNNING],
        )
        return cursor.rowcount

    def last_success(self, db: Database, name: str) -> R | None:
        rows = list(db.query(
            f"SELECT * FROM {self.table} WHERE {self.key} = ? AND outcome = ? ORDER BY {self.success_order} LIMIT 1",
            [name, OK],
        ))
        return self.record(rows[0]) if rows else None

    def latest(self, db: Database, skip: tuple[str, ...] = ()) -> list[R]:
        """The most recent run of each name, by name; runs with an outcome in `skip` do not count."""
        where, params = (f"WHERE outcome NOT IN ({','.join('?' * len(skip))})", list(skip)) if skip else ("", [])
        rows = db.query(
            f"SELECT * FROM {self.table} WHERE id IN (SELECT MAX(id) FROM {self.table} {where} GROUP BY {self.key}) "
            f"ORDER BY {self.key}",
            params,
        )
        return [self.record(r) for r in rows]

    def runs_of(self, db: Database, name: str | None = None, limit: int = 20) -> list[R]:
        """The newest runs first, of one name or of all."""
        where, params = (f"WHERE {self.key} = ?", [name]) if name else ("", [])
        rows = db.query(f"SELECT * FROM {self.table} {where} ORDER BY id DESC LIMIT {int(limit)}", params)
        return [self.record(r) for r in rows]

    def ever_ran(self, db: Database, name: str, skip: tuple[str, ...] = ()) -> bool:
        where = f" AND outcome NOT IN ({','.join('?' * len(skip))})" if skip else ""
        return bool(list(db.query(f"SELECT 1 FROM {self.table} WHERE {self.key} = ?{where} LIMIT 1", [name, *skip])))
