"""Counts about the store, one function per fact: what `tracker status`, the bot's
/status, the weekly email and the demo all report."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from tracker.store import runs
from tracker.store.decisions import latest_decisions
from tracker.store.deliveries import backlog


def section_counts(db: Database, start: str | None = None, end: str | None = None, primary: bool = True) -> dict[str, int]:
    """Papers per section: by their top section only (`primary`, so counts add up to the
    papers), else in every section they match; only papers first seen in [start, end) when given."""
    where, params = [], []
    if primary:
        where.append("c.rank = 0")
    if start is not None:
        where.append("p.first_seen >= ?")
        params.append(start)
    if end is not None:
        where.append("p.first_seen < ?")
        params.append(end)
    sql = (
        "SELECT c.section, count(*) FROM classifications c JOIN papers p ON p.id = c.paper_id "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} GROUP BY c.section"
    )
    return {section: n for section, n in db.execute(sql, params).fetchall()}


def totals(db: Database) -> dict[str, int]:
    """Papers stored, classified and decided, versions seen, failed or interrupted poll runs."""
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    decided = latest_decisions(db).values()
    return {
        "papers": one("SELECT COUNT(*) FROM papers"),
        "classified": one("SELECT COUNT(DISTINCT paper_id) FROM classifications"),
        "versions": one("SELECT COUNT(*) FROM paper_versions"),
        "failed_runs": one(f"SELECT COUNT(*) FROM poll_runs WHERE outcome NOT IN ('{runs.OK}', '{runs.RUNNING}')"),
        "accepted": sum(1 for d in decided if d.decision in ("accept", "move")),
        "rejected": sum(1 for d in decided if d.decision == "reject"),
    }


def status(db: Database) -> dict[str, Any]:
    """The store's part of `tracker status`: last run per source, papers per section
    (every section a paper matches), totals and the delivery backlog per channel."""
    return {
        "last_runs": [r.to_json() for r in runs.LEDGER.latest(db)],
        "sections": section_counts(db, primary=False),
        "totals": totals(db),
        "delivery_backlog": backlog(db),
    }
