"""Stored works: the survey's listed works and how each got its arXiv id."""

from __future__ import annotations

from typing import Any, Iterable

from sqlite_utils import Database

from tracker import jsonl
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
    """Upsert works; `resolved_at` keeps the time a work was first resolved the way it is now.
    `stale_ids` maps a work id to the id it had before it was resolved (that row goes)."""
    stale_ids = stale_ids or {}
    with db.atomic():
        for w in works:
            old = db.execute("SELECT resolved_by, resolved_at FROM works WHERE id = ?", [w.id]).fetchone()
            db["works"].upsert(_row(w, old[1] if old and old[0] == w.resolved_by and old[1] else at), pk="id")
            if w.id in stale_ids and stale_ids[w.id] != w.id:
                db.execute("DELETE FROM works WHERE id = ?", [stale_ids[w.id]])


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
