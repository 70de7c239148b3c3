"""Title look-ups that failed (network, not "no match"), with a back-off before the next try.

A survey lists dozens of works without an arXiv id; with arXiv down, trying them all
at every poll cost minutes. A failed look-up is remembered here and tried again only
after `retry_after`: 6 hours after the first failure, doubling, at most 7 days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from sqlite_utils import Database

from tracker.store.batch import select_in
from tracker.timeutil import iso

FIRST_BACKOFF = timedelta(hours=6)
MAX_BACKOFF = timedelta(days=7)


def backoff(failures: int) -> timedelta:
    return min(FIRST_BACKOFF * 2 ** max(0, failures - 1), MAX_BACKOFF)


def record_lookup_failure(db: Database, key: str, title: str, error: str, now: datetime) -> datetime:
    """Count one more failure for `key`; returns when it may be tried again."""
    row = db.execute("SELECT failures FROM lookup_failures WHERE key = ?", [key]).fetchone()
    failures = (row[0] if row else 0) + 1
    retry = now + backoff(failures)
    db["lookup_failures"].upsert(
        {"key": key, "title": title, "failures": failures, "last_error": error[:500], "failed_at": iso(now),
         "retry_after": iso(retry)},
        pk="key",
    )
    return retry


def lookups_waiting(db: Database, keys: Iterable[str], now: datetime) -> dict[str, str]:
    """Of `keys`, those still in their back-off: key -> when they may be tried again."""
    sql = "SELECT key, retry_after FROM lookup_failures WHERE key IN ({marks}) AND retry_after > ?"
    return {k: r for k, r in select_in(db, sql, keys, [iso(now)])}


def clear_lookup_failure(db: Database, key: str) -> None:
    db.execute("DELETE FROM lookup_failures WHERE key = ?", [key])
