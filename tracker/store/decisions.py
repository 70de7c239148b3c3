"""Maintainer decisions (accept, reject, move): an append-only log; the latest one counts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from tracker.errors import StoreError
from tracker.timeutil import now_iso

DECISIONS = ("accept", "reject", "move")


@dataclass(frozen=True)
class Decision:
    paper_id: str
    decision: str
    section: str | None
    decided_by: str
    via: str
    decided_at: str


def record_decision(
    db: Database,
    paper_id: str,
    decision: str,
    section: str | None = None,
    decided_by: str = "cli",
    via: str = "cli",
    at: str | None = None,
) -> Decision:
    """`move` needs a section and counts as accepting the paper into it. Repeating the paper's
    latest decision (a double tap, a Telegram update delivered again after a crash) records
    nothing new and returns that decision."""
    if decision not in DECISIONS:
        raise StoreError(f"unknown decision {decision!r} (expected one of {', '.join(DECISIONS)})")
    if decision == "move" and not section:
        raise StoreError("a 'move' decision needs a section")
    if not db["papers"].count_where("id = ?", [paper_id]):
        raise StoreError(f"paper {paper_id} is not in the store", "run `tracker poll` first, or check the id")
    with db.atomic():
        last = db.execute("SELECT decision, section, decided_by, via, decided_at FROM decisions WHERE paper_id = ? "
                          "ORDER BY id DESC LIMIT 1", [paper_id]).fetchone()
        if last is not None and (last[0], last[1]) == (decision, section):
            return Decision(paper_id, *last)
        d = Decision(paper_id, decision, section, decided_by, via, at or now_iso())
        db["decisions"].insert(
            {
                "paper_id": d.paper_id,
                "decision": d.decision,
                "section": d.section,
                "decided_by": d.decided_by,
                "via": d.via,
                "decided_at": d.decided_at,
            }
        )
    return d


def all_decisions(db: Database) -> list[Decision]:
    """Every decision, oldest first."""
    return [
        Decision(row["paper_id"], row["decision"], row["section"], row["decided_by"], row["via"], row["decided_at"])
        for row in db.query("SELECT * FROM decisions ORDER BY id")
    ]


def latest_decisions(db: Database) -> dict[str, Decision]:
    """Each paper's most recent decision."""
    return {d.paper_id: d for d in all_decisions(db)}
