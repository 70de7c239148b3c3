"""What learning rules keeps: the entries' abstracts (fetched once) and the tunes applied."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sqlite_utils import Database

from tracker.store.batch import select_in
from tracker.store.decisions import Decision
from tracker.timeutil import now_iso


def cached_abstracts(db: Database, ids: Sequence[str]) -> dict[str, str]:
    """Abstracts already looked up, by arXiv id; "" for an id arXiv did not know (not asked again)."""
    sql = "SELECT arxiv_id, abstract FROM entry_abstracts WHERE arxiv_id IN ({marks})"
    return {arxiv_id: abstract or "" for arxiv_id, abstract in select_in(db, sql, ids)}


def save_abstracts(db: Database, found: dict[str, tuple[str, str]], missing: Iterable[str], at: str | None = None) -> None:
    """`found`: arXiv id -> (title, abstract); `missing`: ids the API did not return."""
    at = at or now_iso()
    rows = [{"arxiv_id": i, "title": t, "abstract": a, "found": 1, "fetched_at": at} for i, (t, a) in found.items()]
    rows += [{"arxiv_id": i, "title": None, "abstract": "", "found": 0, "fetched_at": at} for i in missing if i not in found]
    if rows:
        with db.atomic():
            db["entry_abstracts"].upsert_all(rows, pk="arxiv_id")


@dataclass(frozen=True)
class NumberedDecision:
    """A decision with its row id, so a tune can say up to which one it has read."""

    row_id: int
    decision: Decision


def decisions_after(db: Database, after_id: int = 0) -> list[NumberedDecision]:
    """Each paper's latest decision among those recorded after row `after_id`."""
    latest: dict[str, NumberedDecision] = {}
    for row in db.query("SELECT * FROM decisions WHERE id > ? ORDER BY id", [after_id]):
        latest[row["paper_id"]] = NumberedDecision(
            row["id"], Decision(row["paper_id"], row["decision"], row["section"], row["decided_by"], row["via"], row["decided_at"])
        )
    return list(latest.values())


def top_sections(db: Database, paper_ids: Sequence[str]) -> dict[str, str]:
    """Each paper's stored primary section (what the digest showed it under)."""
    sql = "SELECT paper_id, section FROM classifications WHERE rank = 0 AND paper_id IN ({marks})"
    return dict(select_in(db, sql, paper_ids))


def last_tune(db: Database) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM tunes ORDER BY id DESC LIMIT 1"))
    return rows[0] if rows else None


def record_tune(db: Database, last_decision_id: int, config_path: str, changes: list[dict[str, Any]], at: str | None = None) -> None:
    db["tunes"].insert(
        {"applied_at": at or now_iso(), "last_decision_id": last_decision_id, "config_path": config_path,
         "changes": json.dumps(changes, ensure_ascii=False)}
    )
