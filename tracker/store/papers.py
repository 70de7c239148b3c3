"""Papers in the store: one row per arXiv id, replaced only by a newer version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from sqlite_utils import Database

from tracker import jsonl
from tracker.models import Paper
from tracker.store.batch import each_chunk, select_in
from tracker.timeutil import now_iso


@dataclass
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_ids: tuple[str, ...] = ()

    def add(self, other: "UpsertCounts") -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.changed_ids = self.changed_ids + other.changed_ids


def _row(p: Paper, source: str, seen: str) -> dict[str, Any]:
    return {
        "id": p.id,
        "version": p.version,
        "title": p.title,
        "abstract": p.abstract,
        "authors": jsonl.dumps(list(p.authors)),
        "categories": jsonl.dumps(list(p.categories)),
        "primary_category": p.primary_category or (p.categories[0] if p.categories else None),
        "published": p.published,
        "updated": p.updated,
        "comment": p.comment,
        "journal_ref": p.journal_ref,
        "doi": p.doi,
        "announce_type": p.extra.get("announce_type"),
        "sources": jsonl.dumps([source]),
        "first_seen": seen,
        "last_seen": seen,
    }


def _is_newer(incoming: int | None, stored: int | None) -> bool:
    return incoming is not None and (stored is None or incoming > stored)


def upsert_papers(db: Database, papers: Iterable[Paper], source: str, seen: str | None = None) -> UpsertCounts:
    """Store a batch in one transaction; a paper already stored at the same or a newer
    version only gains `source`, `last_seen` and the feed's `announce_type` (the API has none,
    and a paper the API stored first must not lose it). Returns ids that are new or updated,
    which are the ones to (re)classify."""
    seen = seen or now_iso()
    batch: dict[str, Paper] = {}
    for p in papers:
        kept = batch.get(p.id)
        if kept is None or _is_newer(p.version, kept.version):
            batch[p.id] = p
    if not batch:
        return UpsertCounts()
    counts = UpsertCounts()
    changed: list[str] = []
    with db.atomic():
        existing: dict[str, tuple[int | None, list[str]]] = {}
        for pid, version, sources in select_in(db, "SELECT id, version, sources FROM papers WHERE id IN ({marks})", batch):
            existing[pid] = (version, jsonl.loads(sources or "[]"))
        new_rows, versions, touched = [], [], []
        for pid, p in batch.items():
            row = _row(p, source, seen)
            if p.version is not None:
                versions.append(
                    {"paper_id": pid, "version": p.version, "title": p.title, "updated": p.updated, "source": source, "seen_at": seen}
                )
            if pid not in existing:
                new_rows.append(row)
                counts.new += 1
                changed.append(pid)
                continue
            stored_version, sources = existing[pid]
            merged = sources if source in sources else sources + [source]
            if _is_newer(p.version, stored_version):
                row.pop("first_seen")
                if row["announce_type"] is None:  # only the feed says how a paper was announced
                    row.pop("announce_type")
                row["sources"] = jsonl.dumps(merged)
                db["papers"].update(pid, row)
                counts.updated += 1
                changed.append(pid)
            else:
                touched.append((seen, jsonl.dumps(merged), row["announce_type"], pid))
                counts.unchanged += 1
        if touched:
            db.conn.executemany("UPDATE papers SET last_seen = ?, sources = ?, announce_type = coalesce(?, announce_type) "
                                "WHERE id = ?", touched)
        if new_rows:
            db["papers"].insert_all(new_rows, batch_size=500)
        if versions:
            db["paper_versions"].insert_all(versions, ignore=True, batch_size=500)
    counts.changed_ids = tuple(changed)
    return counts


def row_to_paper(row: dict[str, Any]) -> Paper:
    return Paper(
        id=row["id"],
        title=row["title"],
        abstract=row.get("abstract") or "",
        authors=tuple(jsonl.loads(row.get("authors") or "[]")),
        categories=tuple(jsonl.loads(row.get("categories") or "[]")),
        published=row.get("published") or "",
        version=row.get("version"),
        updated=row.get("updated"),
        comment=row.get("comment"),
        journal_ref=row.get("journal_ref"),
        doi=row.get("doi"),
        primary_category=row.get("primary_category"),
        source=(jsonl.loads(row.get("sources") or "[]") or [None])[0],
    )


def get_paper(db: Database, paper_id: str) -> Paper | None:
    rows = list(db["papers"].rows_where("id = ?", [paper_id]))
    return row_to_paper(rows[0]) if rows else None


def papers_by_id(db: Database, ids: Sequence[str]) -> dict[str, Paper]:
    """The stored papers among `ids`, by id: one query per 500 ids, not one per paper."""
    found: dict[str, Paper] = {}
    for chunk, marks in each_chunk(ids):
        for row in db["papers"].rows_where(f"id IN ({marks})", chunk):
            found[row["id"]] = row_to_paper(row)
    return found


def stored_ids(db: Database, ids: Sequence[str]) -> set[str]:
    """Which of `ids` are stored."""
    return {r[0] for r in select_in(db, "SELECT id FROM papers WHERE id IN ({marks})", ids)}


def iter_papers(db: Database, where: str | None = None, params: list[Any] | None = None) -> Iterator[Paper]:
    for row in db["papers"].rows_where(where, params or [], order_by="published, id"):
        yield row_to_paper(row)
