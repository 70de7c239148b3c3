"""Links between new papers and the survey's listed works ("mentions", "cites")."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from sqlite_utils import Database

from tracker.models import WorkLink
from tracker.store.batch import select_in
from tracker.timeutil import now_iso


def save_links(db: Database, links: Iterable[WorkLink], at: str | None = None) -> int:
    """Insert links, keeping the first record of each (paper, work, kind)."""
    at = at or now_iso()
    rows = [
        {"paper_id": l.paper_id, "work_id": l.work_id, "kind": l.kind, "where": l.where, "created": at} for l in links
    ]
    if rows:
        db["links"].insert_all(rows, ignore=True, batch_size=500)
    return len(rows)


def links_for(db: Database, paper_ids: Iterable[str]) -> dict[str, list[WorkLink]]:
    """Each paper's links, with the linked work's title when the work is known."""
    out: dict[str, list[WorkLink]] = defaultdict(list)
    sql = (
        "SELECT l.paper_id, l.work_id, l.kind, l.[where], w.title FROM links l "
        "LEFT JOIN works w ON w.id = l.work_id WHERE l.paper_id IN ({marks}) "
        "ORDER BY l.paper_id, l.kind, l.work_id"
    )
    for pid, wid, kind, where, title in select_in(db, sql, paper_ids):
        out[pid].append(WorkLink(pid, wid, kind, where or "", title or ""))
    return dict(out)
