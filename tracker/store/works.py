"""Stored works: the survey's listed works and how each got its arXiv id."""

from __future__ import annotations

from typing import Any, Iterable

from sqlite_utils import Database

from tracker import jsonl
from tracker.store.batch import select_in
from tracker.models import TITLE_SEARCH, UNRESOLVED, Work


def _row(work: Work, at: str) -> dict[str, Any]:
    return {
        "id": work.id,
        "title": work.title,
        "arxiv_id": work.arxiv_id,
        "year": work.year,
        "section": work.section,
        "aliases": jsonl.dumps(list(work.aliases)),
        "resolved_by": work.resolved_by,
        "resolved_at": at,
    }


def save_works(db: Database, works: Iterable[Work], at: str, stale_ids: dict[str, str] | None = None) -> None:
    """Upsert works in one batch; `resolved_at` keeps the time a work was first resolved the way
    it is now. `stale_ids` maps a work id to the id it had before it was resolved (that row goes,
    unless it is some current work's id)."""
    stale_ids = stale_ids or {}
    works = list(works)
    with db.atomic():
        sql = "SELECT id, resolved_by, resolved_at FROM works WHERE id IN ({marks})"
        before = {r[0]: (r[1], r[2]) for r in select_in(db, sql, [w.id for w in works])}
        rows = []
        for w in works:
            by, when = before.get(w.id, (None, None))
            rows.append(_row(w, when if by == w.resolved_by and when else at))
        if rows:
            db["works"].upsert_all(rows, pk="id")
        current = {w.id for w in works}
        for old in {old for new, old in stale_ids.items() if new in current and old not in current}:
            db.execute("DELETE FROM works WHERE id = ?", [old])


def load_works(db: Database) -> list[Work]:
    """Stored works, aliases as stored."""
    out = []
    for r in db["works"].rows_where(order_by="section, id"):
        aliases = tuple(jsonl.loads(r["aliases"] or "[]"))
        out.append(Work(r["id"], r["title"], r["arxiv_id"], r["year"], r["section"] or "", aliases, r["resolved_by"] or ""))
    return out


def looked_up_works(db: Database) -> list[tuple[str, str | None, str]]:
    """(title, arxiv_id, resolved_by) of every work an arXiv title look-up has settled."""
    rows = db["works"].rows_where("resolved_by IN (?, ?)", [TITLE_SEARCH, UNRESOLVED])
    return [(r["title"], r["arxiv_id"], r["resolved_by"]) for r in rows]
