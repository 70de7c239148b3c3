"""Which papers went into which pull request, and what became of it.

A proposal is one pull request (repo + number). Its state is "open", "merged"
or "closed" (closed without merge). A paper in a merged proposal counts as
proposed for good; a paper whose only proposals were closed is pending again.
A paper a proposal found already in the survey (`listed_papers`) is done too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from sqlite_utils import Database

from tracker.timeutil import now_iso

STATES = ("open", "merged", "closed")


@dataclass(frozen=True)
class Proposal:
    id: int
    repo: str
    branch: str
    base: str
    pr_number: int
    pr_url: str
    title: str
    state: str
    head_sha: str
    paper_ids: tuple[str, ...]


def record_proposal(
    db: Database,
    *,
    repo: str,
    branch: str,
    base: str,
    pr_number: int,
    pr_url: str,
    title: str,
    head_sha: str,
    papers: Iterable[tuple[str, str]],
    at: str | None = None,
) -> int:
    """Insert or refresh the open proposal for (repo, pr_number); its papers become exactly
    `papers` (paper id, section), since an update regenerates the whole branch."""
    at = at or now_iso()
    with db.atomic():
        found = db.execute("SELECT id FROM proposals WHERE repo = ? AND pr_number = ?", [repo, pr_number]).fetchone()
        row = {
            "repo": repo, "branch": branch, "base": base, "pr_number": pr_number, "pr_url": pr_url,
            "title": title, "state": "open", "head_sha": head_sha, "updated_at": at, "checked_at": at,
        }
        if found:
            proposal_id = found[0]
            db["proposals"].update(proposal_id, row)
            db.execute("DELETE FROM proposal_papers WHERE proposal_id = ?", [proposal_id])
        else:
            proposal_id = db["proposals"].insert({**row, "created_at": at}).last_pk
        rows = [{"proposal_id": proposal_id, "paper_id": pid, "section": section, "added_at": at} for pid, section in papers]
        if rows:
            db["proposal_papers"].insert_all(rows, pk=("proposal_id", "paper_id"), replace=True)
    return int(proposal_id)


def set_state(db: Database, proposal_id: int, state: str, at: str | None = None) -> None:
    if state not in STATES:
        raise ValueError(f"unknown proposal state {state!r}")
    at = at or now_iso()
    db["proposals"].update(proposal_id, {"state": state, "checked_at": at, "updated_at": at})


def proposals(db: Database, state: str | None = None, repo: str | None = None) -> list[Proposal]:
    where, params = [], []
    if state:
        where.append("state = ?")
        params.append(state)
    if repo:
        where.append("repo = ?")
        params.append(repo)
    sql = "SELECT * FROM proposals" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    out = []
    for row in db.query(sql, params):
        ids = tuple(r[0] for r in db.execute(
            "SELECT paper_id FROM proposal_papers WHERE proposal_id = ? ORDER BY rowid", [row["id"]]).fetchall())
        out.append(Proposal(
            id=row["id"], repo=row["repo"], branch=row["branch"], base=row["base"], pr_number=row["pr_number"],
            pr_url=row["pr_url"] or "", title=row["title"] or "", state=row["state"], head_sha=row["head_sha"] or "",
            paper_ids=ids,
        ))
    return out


def paper_states(db: Database) -> dict[str, str]:
    """Each proposed paper's standing: "merged" beats "open" beats "closed"."""
    rank = {"closed": 0, "open": 1, "merged": 2}
    out: dict[str, str] = {}
    for pid, state in db.execute(
        "SELECT pp.paper_id, p.state FROM proposal_papers pp JOIN proposals p ON p.id = pp.proposal_id"
    ).fetchall():
        if rank.get(state, -1) > rank.get(out.get(pid, ""), -1):
            out[pid] = state
    return out


def merged_paper_ids(db: Database) -> set[str]:
    return {pid for pid, state in paper_states(db).items() if state == "merged"}


def mark_listed(db: Database, papers: Sequence[tuple[str, str]], at: str | None = None) -> None:
    """Record (paper id, why) for chosen papers the survey already lists; the first finding stays."""
    if papers:
        at = at or now_iso()
        db["listed_papers"].insert_all(
            ({"paper_id": pid, "reason": reason, "found_at": at} for pid, reason in papers), pk="paper_id", ignore=True
        )


def done_paper_ids(db: Database) -> set[str]:
    """Papers never to propose again: in a merged proposal, or found already listed."""
    return merged_paper_ids(db) | {pid for (pid,) in db.execute("SELECT paper_id FROM listed_papers")}
