"""The database schema as an ordered list of sqlite-utils migrations.

Add a change as a new function at the end; never edit one that has shipped.
Tables and columns use plain names so the file reads well in Datasette.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("tracker")


@migrations()
def m001_papers(db: Database) -> None:
    db["papers"].create(
        {
            "id": str,
            "version": int,
            "title": str,
            "abstract": str,
            "authors": str,
            "categories": str,
            "primary_category": str,
            "published": str,
            "updated": str,
            "comment": str,
            "journal_ref": str,
            "doi": str,
            "announce_type": str,
            "sources": str,
            "first_seen": str,
            "last_seen": str,
        },
        pk="id",
        not_null={"title"},
    )
    db["papers"].create_index(["published"])
    db["papers"].create_index(["first_seen"])
    db["papers"].enable_fts(["title", "abstract"], create_triggers=True, tokenize="porter")
    db["paper_versions"].create(
        {"paper_id": str, "version": int, "title": str, "updated": str, "source": str, "seen_at": str},
        pk=("paper_id", "version"),
        foreign_keys=[("paper_id", "papers", "id")],
    )


@migrations()
def m002_classifications(db: Database) -> None:
    db["classifications"].create(
        {
            "paper_id": str,
            "section": str,
            "rank": int,
            "score": float,
            "matches": str,
            "rules_fingerprint": str,
            "classified_at": str,
        },
        pk=("paper_id", "section"),
        foreign_keys=[("paper_id", "papers", "id")],
    )
    db["classifications"].create_index(["section"])


@migrations()
def m003_poll_runs(db: Database) -> None:
    db["poll_runs"].create(
        {
            "id": int,
            "source": str,
            "window_start": str,
            "window_end": str,
            "started": str,
            "finished": str,
            "outcome": str,
            "fetched": int,
            "new": int,
            "updated": int,
            "requests": int,
            "error": str,
        },
        pk="id",
    )
    db["poll_runs"].create_index(["source", "outcome", "window_end"])


@migrations()
def m004_decisions(db: Database) -> None:
    db["decisions"].create(
        {
            "id": int,
            "paper_id": str,
            "decision": str,
            "section": str,
            "decided_by": str,
            "via": str,
            "decided_at": str,
        },
        pk="id",
        foreign_keys=[("paper_id", "papers", "id")],
    )
    db["decisions"].create_index(["paper_id"])


@migrations()
def m005_works_and_links(db: Database) -> None:
    db["works"].create(
        {
            "id": str,
            "title": str,
            "arxiv_id": str,
            "year": int,
            "section": str,
            "aliases": str,
            "resolved_by": str,
            "resolved_at": str,
        },
        pk="id",
    )
    db["links"].create(
        {"paper_id": str, "work_id": str, "kind": str, "where": str, "created": str},
        pk=("paper_id", "work_id", "kind"),
        foreign_keys=[("paper_id", "papers", "id")],
    )
    db["links"].create_index(["work_id"])


@migrations()
def m070_proposals(db: Database) -> None:
    db["proposals"].create(
        {
            "id": int,
            "repo": str,
            "branch": str,
            "base": str,
            "pr_number": int,
            "pr_url": str,
            "title": str,
            "state": str,
            "head_sha": str,
            "created_at": str,
            "updated_at": str,
            "checked_at": str,
        },
        pk="id",
    )
    db["proposals"].create_index(["repo", "pr_number"], unique=True)
    db["proposal_papers"].create(
        {"proposal_id": int, "paper_id": str, "section": str, "added_at": str},
        pk=("proposal_id", "paper_id"),
        foreign_keys=[("proposal_id", "proposals", "id"), ("paper_id", "papers", "id")],
    )
    db["proposal_papers"].create_index(["paper_id"])


@migrations()
def m080_job_runs(db: Database) -> None:
    db["job_runs"].create(
        {
            "id": int,
            "job": str,
            "trigger": str,
            "started": str,
            "finished": str,
            "outcome": str,
            "error": str,
            "summary": str,
            "next_run": str,
        },
        pk="id",
    )
    db["job_runs"].create_index(["job", "outcome", "started"])
