"""The delivery outbox: what a digest will send, what the service acknowledged, and
which papers each channel has really delivered.

A digest is written here as outbox rows (one per message per target) in one
transaction before anything is sent. A row turns `sent` only after the service
acknowledged it, and a paper turns `delivered` on a channel only when every row of
that channel carrying it is sent. Pending rows are re-sent by the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sqlite_utils import Database

from tracker import jsonl
from tracker.models import Paper, SectionScore, WorkLink
from tracker.store.batch import each_chunk
from tracker.store.classifications import section_score
from tracker.store.links import links_for
from tracker.store.papers import row_to_paper
from tracker.timeutil import now_iso

PENDING, SENT, CANCELLED, FAILED = "pending", "sent", "cancelled", "failed"
QUEUED, DELIVERED, OVERFLOW = "queued", "delivered", "overflow"


@dataclass(frozen=True)
class OutboxMessage:
    """A message to queue: its target (chat id, mail address), body and the papers it carries."""

    target: str
    body: str
    paper_ids: tuple[str, ...]
    payload: dict[str, Any]


@dataclass(frozen=True)
class OutboxRow:
    id: int
    run_id: int
    channel: str
    target: str
    seq: int
    body: str
    payload: dict[str, Any]
    paper_ids: tuple[str, ...]
    status: str
    attempts: int
    last_error: str | None
    message_id: str | None


@dataclass(frozen=True)
class Candidate:
    """A classified paper that a channel has not delivered yet (nor queued)."""

    paper: Paper
    first_seen: str
    scores: tuple[SectionScore, ...]
    links: tuple[WorkLink, ...]


def last_window_end(db: Database, channel: str) -> str | None:
    row = db.execute("SELECT max(window_end) FROM digest_runs WHERE channel = ?", [channel]).fetchone()
    return row[0] if row else None


def undelivered(db: Database, channel: str, start: str, end: str) -> list[Candidate]:
    """Classified papers first seen from `start` to `end`, both included, that `channel`
    never queued. Times are stored to the second, so a paper stored in the very second a
    digest starts is in it; windows that touch may overlap, and the deliveries table
    (not the window) keeps a paper from being picked twice."""
    sql = (
        "SELECT p.* FROM papers p WHERE p.first_seen >= ? AND p.first_seen <= ? "
        "AND EXISTS (SELECT 1 FROM classifications c WHERE c.paper_id = p.id) "
        "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.paper_id = p.id AND d.channel = ?) "
        "ORDER BY p.first_seen, p.id"
    )
    rows = [dict(r) for r in db.query(sql, [start, end, channel])]
    return _candidates(db, rows)


def seen_before(db: Database, at: str) -> bool:
    """Whether any stored paper was first seen before `at` (the store was already collecting)."""
    return db.execute("SELECT 1 FROM papers WHERE first_seen < ? LIMIT 1", [at]).fetchone() is not None


def _candidates(db: Database, rows: list[dict[str, Any]]) -> list[Candidate]:
    ids = [r["id"] for r in rows]
    scores: dict[str, list[SectionScore]] = {i: [] for i in ids}
    for chunk, marks in each_chunk(ids):
        for row in db.query(f"SELECT * FROM classifications WHERE paper_id IN ({marks}) ORDER BY paper_id, rank", chunk):
            scores[row["paper_id"]].append(section_score(row, row["section"]))
    links = links_for(db, ids)
    return [
        Candidate(row_to_paper(r), r.get("first_seen") or "", tuple(scores[r["id"]]), tuple(links.get(r["id"], ())))
        for r in rows
    ]


def decisions_between(db: Database, start: str, end: str) -> list[dict[str, Any]]:
    """Each paper's latest decision, when that decision was taken in [start, end)."""
    sql = (
        "SELECT d.paper_id, d.decision, d.section, d.decided_by, d.via, d.decided_at, p.title FROM decisions d "
        "JOIN papers p ON p.id = d.paper_id WHERE d.id IN (SELECT max(id) FROM decisions GROUP BY paper_id) "
        "AND d.decided_at >= ? AND d.decided_at < ? ORDER BY d.decided_at, d.id"
    )
    return [dict(r) for r in db.query(sql, [start, end])]


def queue_digest(
    db: Database,
    channel: str,
    period: str,
    window: tuple[str, str],
    messages: Sequence[OutboxMessage],
    paper_ids: Iterable[str],
    at: str | None = None,
    overflow: Iterable[str] = (),
) -> int:
    """Write a rendered digest as pending rows, and its papers as queued, in one transaction.

    `overflow` (papers over the daily cap) are recorded as such on this channel, so no later
    digest of the channel offers them again; other channels (the weekly email) still do."""
    at = at or now_iso()
    ids = list(dict.fromkeys(paper_ids))
    held = [p for p in dict.fromkeys(overflow) if p not in set(ids)]
    with db.atomic():
        run_id = db["digest_runs"].insert(
            {"channel": channel, "period": period, "window_start": window[0], "window_end": window[1], "created": at, "papers": len(ids)}
        ).last_pk
        for seq, m in enumerate(messages):
            row_id = db["outbox"].insert(
                {
                    "run_id": run_id,
                    "channel": channel,
                    "target": m.target,
                    "seq": seq,
                    "body": m.body,
                    "payload": jsonl.dumps(m.payload),
                    "status": PENDING,
                    "attempts": 0,
                    "created": at,
                }
            ).last_pk
            db["outbox_papers"].insert_all(({"outbox_id": row_id, "paper_id": p} for p in dict.fromkeys(m.paper_ids)), ignore=True)
        db["deliveries"].insert_all(
            ({"paper_id": p, "channel": channel, "run_id": run_id, "status": QUEUED, "queued_at": at} for p in ids),
            replace=True,
        )
        db["deliveries"].insert_all(
            ({"paper_id": p, "channel": channel, "run_id": run_id, "status": OVERFLOW, "queued_at": at} for p in held),
            replace=True,
        )
    return int(run_id)


def _row(db: Database, r: dict[str, Any]) -> OutboxRow:
    papers = tuple(p for (p,) in db.execute("SELECT paper_id FROM outbox_papers WHERE outbox_id = ? ORDER BY rowid", [r["id"]]))
    return OutboxRow(
        r["id"], r["run_id"], r["channel"], r["target"], r["seq"], r["body"], jsonl.loads(r["payload"] or "{}"),
        papers, r["status"], r["attempts"] or 0, r["last_error"], r["message_id"],
    )


def pending(db: Database, channel: str) -> list[OutboxRow]:
    """Rows still waiting for an acknowledgement, oldest digest first."""
    rows = db.query("SELECT * FROM outbox WHERE channel = ? AND status = ? ORDER BY run_id, seq", [channel, PENDING])
    return [_row(db, dict(r)) for r in rows]


def mark_sent(db: Database, row_id: int, message_id: str | None, at: str | None = None) -> list[str]:
    """Record the acknowledgement; returns the papers this made delivered on the row's channel."""
    return _settle(db, row_id, SENT, {"message_id": message_id, "sent_at": at or now_iso()}, at)


def cancel(db: Database, row_id: int, reason: str, at: str | None = None) -> list[str]:
    """Give up a row whose target is no longer configured; its papers count as delivered
    to every target that is."""
    return _settle(db, row_id, CANCELLED, {"last_error": reason}, at)


def _settle(db: Database, row_id: int, status: str, fields: dict[str, Any], at: str | None) -> list[str]:
    at = at or now_iso()
    with db.atomic():
        channel = db.execute("SELECT channel FROM outbox WHERE id = ?", [row_id]).fetchone()[0]
        db["outbox"].update(row_id, {"status": status, **fields})
        done = [
            pid
            for (pid,) in db.execute(
                "SELECT op.paper_id FROM outbox_papers op WHERE op.outbox_id = ? AND NOT EXISTS ("
                " SELECT 1 FROM outbox_papers o2 JOIN outbox o ON o.id = o2.outbox_id"
                " WHERE o2.paper_id = op.paper_id AND o.channel = ? AND o.status = ?)",
                [row_id, channel, PENDING],
            ).fetchall()
        ]
        for pid in done:
            db.execute(
                "UPDATE deliveries SET status = ?, delivered_at = ? WHERE paper_id = ? AND channel = ? AND status = ?",
                [DELIVERED, at, pid, channel, QUEUED],
            )
    return done


def mark_failed(db: Database, row_id: int, error: str, give_up_after: int | None = None) -> bool:
    """Count a failed attempt; the row stays pending so the next run tries again, unless
    it was refused for good `give_up_after` times: then it is `failed` and its papers stay
    queued (never delivered). Other failures (`give_up_after` None) never count toward
    that. Returns True when the row was given up."""
    with db.atomic():
        refused = give_up_after is not None
        db.execute("UPDATE outbox SET attempts = attempts + 1, refusals = refusals + ?, last_error = ? WHERE id = ?",
                   [int(refused), error, row_id])
        if not refused:
            return False
        refusals = db.execute("SELECT refusals FROM outbox WHERE id = ?", [row_id]).fetchone()[0]
        if refusals < give_up_after:
            return False
        db.execute("UPDATE outbox SET status = ? WHERE id = ?", [FAILED, row_id])
        return True


def begin_send(db: Database, row_id: int, limit: int) -> bool:
    """Record, before it starts, a send that could reach the server unacknowledged; False
    (nothing recorded) when `limit` such sends already happened: the row must not go again."""
    with db.atomic():
        (count,) = db.execute("SELECT unconfirmed FROM outbox WHERE id = ?", [row_id]).fetchone()
        if (count or 0) >= limit:
            return False
        db.execute("UPDATE outbox SET unconfirmed = unconfirmed + 1 WHERE id = ?", [row_id])
        return True


def undo_send(db: Database, row_id: int) -> None:
    """The send surely did not deliver (refused, or lost before the data went out)."""
    db.execute("UPDATE outbox SET unconfirmed = max(unconfirmed - 1, 0) WHERE id = ?", [row_id])


def give_up(db: Database, row_id: int, error: str) -> None:
    """Stop sending a row for good; its papers stay queued (never marked delivered)."""
    db.execute("UPDATE outbox SET status = ?, last_error = ? WHERE id = ?", [FAILED, error, row_id])


def find_message(db: Database, channel: str, target: str, message_id: str) -> OutboxRow | None:
    """The sent row behind a delivered message (the bot edits it after a decision)."""
    rows = list(
        db.query(
            "SELECT * FROM outbox WHERE channel = ? AND target = ? AND message_id = ? ORDER BY id DESC LIMIT 1",
            [channel, target, message_id],
        )
    )
    return _row(db, dict(rows[0])) if rows else None


def delivered_ids(db: Database, channel: str) -> set[str]:
    return {pid for (pid,) in db.execute("SELECT paper_id FROM deliveries WHERE channel = ? AND status = ?", [channel, DELIVERED])}


def backlog(db: Database) -> dict[str, dict[str, Any]]:
    """Per channel: pending and failed (given up) messages, queued (not yet delivered), delivered
    papers, and papers held back by the daily cap (`overflow_papers`, left to the weekly email).
    An email is one message however many recipients it has (one outbox row each, counted
    apart as `pending_copies` / `failed_copies`). `pending_error`: why the latest pending
    message that failed a try is still pending (a manual `digest` leaves no run row)."""
    out: dict[str, dict[str, Any]] = {}

    def entry(channel: str) -> dict[str, Any]:
        return out.setdefault(channel, {"pending_messages": 0, "failed_messages": 0, "queued_papers": 0,
                                        "delivered_papers": 0, "overflow_papers": 0})

    for channel, status, rows, emails in db.execute(
        "SELECT channel, status, count(*), count(DISTINCT run_id) FROM outbox WHERE status IN (?, ?) GROUP BY channel, status",
        [PENDING, FAILED],
    ):
        kind = "pending" if status == PENDING else "failed"
        entry(channel)[f"{kind}_messages"] = emails if channel == "email" else rows
        if channel == "email":
            entry(channel)[f"{kind}_copies"] = rows
    for channel, error in db.execute(
        "SELECT channel, last_error FROM outbox WHERE id IN (SELECT max(id) FROM outbox WHERE status = ? "
        "AND last_error IS NOT NULL GROUP BY channel)", [PENDING]):
        entry(channel)["pending_error"] = error
    names = {QUEUED: "queued_papers", OVERFLOW: "overflow_papers"}
    for channel, status, n in db.execute("SELECT channel, status, count(*) FROM deliveries GROUP BY channel, status"):
        entry(channel)[names.get(status, "delivered_papers")] += n
    return out


def failed_messages(db: Database, channel: str | None = None) -> list[OutboxRow]:
    """Rows given up for good, newest first: `status` names each one and why."""
    sql, params = "SELECT * FROM outbox WHERE status = ?", [FAILED]
    if channel is not None:
        sql, params = sql + " AND channel = ?", params + [channel]
    return [_row(db, dict(r)) for r in db.query(sql + " ORDER BY id DESC", params)]
