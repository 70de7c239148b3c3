"""Stored classifications: a paper's sections with scores and the matches that explain them."""

from __future__ import annotations

from typing import Iterable

from sqlite_utils import Database

from tracker import jsonl
from tracker.models import Match, SectionScore
from tracker.store.batch import each_chunk
from tracker.timeutil import now_iso


def save_classifications(
    db: Database, results: Iterable[tuple[str, list[SectionScore]]], fingerprint: str, at: str | None = None
) -> None:
    """Replace each paper's sections; an out-of-scope paper keeps no rows."""
    at = at or now_iso()
    rows, ids = [], []
    for paper_id, scores in results:
        ids.append(paper_id)
        for rank, s in enumerate(scores):
            rows.append(
                {
                    "paper_id": paper_id,
                    "section": s.section,
                    "rank": rank,
                    "score": s.score,
                    "relevance": s.relevance,
                    "matches": jsonl.dumps([m.to_json() for m in s.matches]),
                    "rules_fingerprint": fingerprint,
                    "classified_at": at,
                }
            )
    with db.atomic():
        for chunk, marks in each_chunk(ids):
            db.execute(f"DELETE FROM classifications WHERE paper_id IN ({marks})", chunk)
        if rows:
            db["classifications"].insert_all(rows, batch_size=500)


def fingerprints_of(db: Database, paper_id: str) -> set[str]:
    """The rules fingerprints a paper's stored sections were made with."""
    sql = "SELECT DISTINCT rules_fingerprint FROM classifications WHERE paper_id = ?"
    return {r[0] for r in db.execute(sql, [paper_id]).fetchall()}


def top_scores_above(db: Database, threshold: float) -> list[tuple[str, float]]:
    """(paper id, score) of every paper whose top section scores above `threshold`, by id."""
    sql = "SELECT paper_id, score FROM classifications WHERE rank = 0 AND score > ? ORDER BY paper_id"
    return [(pid, score) for pid, score in db.execute(sql, [threshold]).fetchall()]


def sections_by_paper(db: Database) -> dict[str, list[str]]:
    """Every classified paper's section ids, best first."""
    out: dict[str, list[str]] = {}
    for pid, section in db.execute("SELECT paper_id, section FROM classifications ORDER BY paper_id, rank").fetchall():
        out.setdefault(pid, []).append(section)
    return out


def load_classifications(db: Database, paper_id: str, headings: dict[str, str] | None = None) -> list[SectionScore]:
    """A paper's stored sections, best first; `headings` maps section id to heading text."""
    headings = headings or {}
    out = []
    for row in db["classifications"].rows_where("paper_id = ?", [paper_id], order_by="rank"):
        out.append(section_score(row, headings.get(row["section"], row["section"])))
    return out


def section_score(row: dict, heading: str) -> SectionScore:
    """A classifications row as the classifier made it."""
    matches = tuple(Match.from_json(m) for m in jsonl.loads(row["matches"] or "[]"))
    return SectionScore(row["section"], heading, row["score"], matches, row.get("relevance"))


def classified_with(db: Database) -> str | None:
    """The rules fingerprint the whole store was last classified with (None: never recorded)."""
    row = db.execute("SELECT rules_fingerprint FROM classified_with WHERE id = 1").fetchone()
    return row[0] if row else None


def set_classified_with(db: Database, fingerprint: str, at: str | None = None) -> None:
    db["classified_with"].upsert({"id": 1, "rules_fingerprint": fingerprint, "classified_at": at or now_iso()}, pk="id")
