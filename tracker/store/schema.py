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
def m060_deliveries(db: Database) -> None:
    db["digest_runs"].create(
        {"id": int, "channel": str, "period": str, "window_start": str, "window_end": str, "created": str, "papers": int},
        pk="id",
    )
    db["digest_runs"].create_index(["channel", "window_end"])
    db["outbox"].create(
        {
            "id": int,
            "run_id": int,
            "channel": str,
            "target": str,
            "seq": int,
            "body": str,
            "payload": str,
            "status": str,
            "attempts": int,
            "last_error": str,
            "created": str,
            "sent_at": str,
            "message_id": str,
        },
        pk="id",
        foreign_keys=[("run_id", "digest_runs", "id")],
    )
    db["outbox"].create_index(["channel", "status"])
    db["outbox"].create_index(["channel", "target", "message_id"])
    db["outbox_papers"].create(
        {"outbox_id": int, "paper_id": str},
        pk=("outbox_id", "paper_id"),
        foreign_keys=[("outbox_id", "outbox", "id"), ("paper_id", "papers", "id")],
    )
    db["outbox_papers"].create_index(["paper_id"])
    db["deliveries"].create(
        {"paper_id": str, "channel": str, "run_id": int, "status": str, "queued_at": str, "delivered_at": str},
        pk=("paper_id", "channel"),
        foreign_keys=[("paper_id", "papers", "id"), ("run_id", "digest_runs", "id")],
    )
    db["deliveries"].create_index(["channel", "status"])


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


@migrations()
def m090_poll_fts_text_trigger(db: Database) -> None:
    """Re-index a paper's full text only when its title or abstract changes: a poll
    touches `last_seen` on every paper it sees again, which must not rewrite the index."""
    db.execute("DROP TRIGGER IF EXISTS papers_au")
    db.execute(
        'CREATE TRIGGER "papers_au" AFTER UPDATE OF "title", "abstract" ON "papers" BEGIN\n'
        '  INSERT INTO "papers_fts" ("papers_fts", rowid, "title", "abstract") '
        "VALUES('delete', old.rowid, old.\"title\", old.\"abstract\");\n"
        '  INSERT INTO "papers_fts" (rowid, "title", "abstract") VALUES (new.rowid, new."title", new."abstract");\n'
        "END"
    )


@migrations()
def m100_lookup_failures(db: Database) -> None:
    db["lookup_failures"].create(
        {"key": str, "title": str, "failures": int, "last_error": str, "failed_at": str, "retry_after": str},
        pk="key",
    )


@migrations()
def m120_learning(db: Database) -> None:
    """Abstracts of the survey's own entries (fetched once by arXiv id, for learning rules; not
    papers of the stream) and the tunes a maintainer applied (so the next one reads newer decisions)."""
    db["entry_abstracts"].create(
        {"arxiv_id": str, "title": str, "abstract": str, "found": int, "fetched_at": str}, pk="arxiv_id"
    )
    db["tunes"].create(
        {"id": int, "applied_at": str, "last_decision_id": int, "config_path": str, "changes": str}, pk="id"
    )


@migrations()
def m135_outbox_unconfirmed(db: Database) -> None:
    """Sends of a row that may have reached the server without an acknowledgement (an email
    whose connection was lost after its data): bounded, so a message repeats at most once."""
    db["outbox"].add_column("unconfirmed", int, not_null_default=0)


@migrations()
def m140_poll_run_detail(db: Database) -> None:
    """A source's own counts (citations: works, citing papers, links) as JSON, for `status`."""
    db["poll_runs"].add_column("detail", str)


@migrations()
def m150_classification_relevance(db: Database) -> None:
    """The learned score that kept a paper in a section (NULL: no learned gate configured)."""
    db["classifications"].add_column("relevance", float)


@migrations()
def m160_classified_with(db: Database) -> None:
    """The rules fingerprint every stored paper was last classified with (one row): when the
    rules change, `poll` classifies the stored papers again, the out-of-scope ones included."""
    db["classified_with"].create({"id": int, "rules_fingerprint": str, "classified_at": str}, pk="id")


@migrations()
def m170_listed_papers(db: Database) -> None:
    """Chosen papers a proposal found the survey already listing: done, like a merged
    proposal's, so `propose` says so once instead of on every run."""
    db["listed_papers"].create(
        {"paper_id": str, "reason": str, "found_at": str},
        pk="paper_id",
        foreign_keys=[("paper_id", "papers", "id")],
    )


@migrations()
def m180_outbox_refusals(db: Database) -> None:
    """Refusals of a row, apart from its attempts: only refusals count toward giving it up,
    so runs stopped by a setup problem (a refused login or sender) never bring it closer."""
    db["outbox"].add_column("refusals", int, not_null_default=0)
