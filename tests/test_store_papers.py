"""The version-aware store, fed with real recorded records (Atom and RSS fixtures)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from poll_support import API, RSS

from tracker.models import Paper
from tracker.sources.arxiv_api import parse_page
from tracker.sources.arxiv_rss import parse_feed
from tracker.store import open_store, runs
from tracker.store.papers import get_paper, papers_by_id, upsert_papers

TESTING = API / "lukasschwab__arxiv.py__q_testing_s0_m100_cfe7536492ca.body.xml"


@pytest.fixture
def db(tmp_path):
    return open_store(tmp_path / "t.db")


def real_api_papers():
    return parse_page(TESTING.read_bytes(), str(TESTING)).papers


def real_rss_papers():
    return [p for f in sorted(RSS.glob("*.xml")) for p in parse_feed(f.read_bytes(), str(f))]


def test_real_atom_records_stored_once_each(db):
    papers = real_api_papers()
    counts = upsert_papers(db, papers, "api")
    assert counts.new == len({p.id for p in papers}) == db["papers"].count
    again = upsert_papers(db, papers, "api")
    assert (again.new, again.updated, again.unchanged) == (0, 0, len(papers))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_newer_version_updates_row_and_is_recorded(db):
    v1 = real_api_papers()[0]
    from dataclasses import replace

    upsert_papers(db, [replace(v1, version=1)], "api")
    v2 = replace(v1, version=2, title=v1.title + " (revised)")
    counts = upsert_papers(db, [v2], "rss")
    assert counts.updated == 1 and counts.changed_ids == (v1.id,)
    stored = get_paper(db, v1.id)
    assert stored.version == 2 and stored.title.endswith("(revised)")
    assert db["papers"].count_where("id = ?", [v1.id]) == 1
    assert [r["version"] for r in db["paper_versions"].rows_where("paper_id = ?", [v1.id], order_by="version")] == [1, 2]
    older = upsert_papers(db, [replace(v1, version=1, title="stale")], "api")
    assert older.updated == 0 and get_paper(db, v1.id).title.endswith("(revised)")


def test_a_newer_version_from_the_api_keeps_the_feeds_announce_type(db):
    from dataclasses import replace

    v1 = real_api_papers()[0]
    upsert_papers(db, [replace(v1, version=1, extra={"announce_type": "new"})], "rss")
    upsert_papers(db, [replace(v1, version=2, extra={})], "api")
    assert db["papers"].get(v1.id)["announce_type"] == "new"
    upsert_papers(db, [replace(v1, version=3, extra={"announce_type": "replace"})], "rss")
    assert db["papers"].get(v1.id)["announce_type"] == "replace"


def test_same_paper_from_two_sources_and_two_feeds_is_one_row(db):
    rss = real_rss_papers()
    ids = [p.id for p in rss]
    upsert_papers(db, rss, "rss")
    assert db["papers"].count == len(set(ids))
    api_twin = parse_page(TESTING.read_bytes(), "x").papers[0]
    from dataclasses import replace

    twin = replace(rss[0], source="api", extra={})
    upsert_papers(db, [twin], "api")
    row = db["papers"].get(rss[0].id)
    assert json.loads(row["sources"]) == ["rss", "api"]
    assert db["papers"].count == len(set(ids))
    assert api_twin.id not in ids


def test_fts_finds_title_and_abstract_words(db):
    upsert_papers(db, real_api_papers() + real_rss_papers(), "api")
    hits = {r["id"] for r in db.query("SELECT papers.id FROM papers JOIN papers_fts ON papers_fts.rowid = papers.rowid "
                                      "WHERE papers_fts MATCH ?", ["constipation"])}
    assert hits == {"2604.22002"}
    abstract_hits = {r["id"] for r in db.query("SELECT papers.id FROM papers JOIN papers_fts ON papers_fts.rowid = papers.rowid "
                                               "WHERE papers_fts MATCH ?", ["gomutra"])}
    assert abstract_hits == {"2604.22002"}


def test_runs_record_outcomes_and_last_success(db):
    t0, t1 = datetime(2025, 10, 1, tzinfo=timezone.utc), datetime(2025, 10, 8, tzinfo=timezone.utc)
    ok = runs.start_run(db, "api", t0, t1)
    runs.finish_run(db, ok, runs.OK, 10, 8, 2, 3)
    failed = runs.start_run(db, "api", t0, datetime(2025, 10, 9, tzinfo=timezone.utc))
    runs.finish_run(db, failed, runs.FAILED, 0, 0, 0, 4, error="HTTP 503")
    runs.start_run(db, "api", t0, datetime(2025, 10, 10, tzinfo=timezone.utc))
    assert runs.LEDGER.last_success(db, "api").window_end == t1.isoformat()
    assert runs.LEDGER.mark_interrupted(db) == 1
    latest = runs.LEDGER.latest(db)[0]
    assert latest.outcome == runs.INTERRUPTED and "stopped before finishing" in latest.error
    assert runs.LEDGER.last_success(db, "rss") is None


def test_fts_follows_a_new_version_but_not_a_mere_sighting(db):
    from dataclasses import replace

    p = replace(real_api_papers()[0], version=1)
    upsert_papers(db, [p], "api")

    def index_records() -> int:  # FTS5 adds a segment record each time a row is (re)indexed
        return db.execute("SELECT COUNT(*) FROM papers_fts_data").fetchone()[0]

    indexed = index_records()
    upsert_papers(db, [p], "rss")  # seen again: last_seen and sources change, the text does not
    assert json.loads(db["papers"].get(p.id)["sources"]) == ["api", "rss"]
    assert index_records() == indexed  # the sighting did not rewrite the index
    match = "SELECT COUNT(*) FROM papers_fts WHERE papers_fts MATCH ?"
    assert db.execute(match, ["zebrafishology"]).fetchone()[0] == 0
    upsert_papers(db, [replace(p, version=2, title="Zebrafishology " + p.title)], "api")
    assert db.execute(match, ["zebrafishology"]).fetchone()[0] == 1
    assert index_records() > indexed
    db.execute("INSERT INTO papers_fts(papers_fts) VALUES('integrity-check')")  # raises if the index is corrupt


def test_papers_by_id_reads_many_in_chunks_and_skips_unknown_ids(tmp_path):
    db = open_store(tmp_path / "t.db")
    papers = [Paper(id=f"2501.{i:05d}", title=f"Paper {i}", abstract="") for i in range(1201)]
    upsert_papers(db, papers, "api", seen="2025-01-02T00:00:00Z")
    wanted = [p.id for p in papers[::2]] + ["2999.99999", papers[0].id]
    found = papers_by_id(db, wanted)
    assert set(found) == {p.id for p in papers[::2]} and found["2501.01200"].title == "Paper 1200"


def test_a_transaction_takes_the_write_lock_first_so_it_never_fails_half_way(tmp_path):
    """A job that reads, then writes, must not fail because another connection committed in
    between: the other writer waits (here 0.2 s, then gives up) while the transaction runs."""
    import sqlite3

    path = tmp_path / "t.db"
    job, other = open_store(path), open_store(path, busy_timeout_ms=200)
    upsert_papers(job, [Paper(id="2501.00001", title="A")], "api", seen="2025-01-01T00:00:00+00:00")
    with job.atomic():
        assert job.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 1
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            upsert_papers(other, [Paper(id="2501.00002", title="B")], "api", seen="2025-01-01T00:00:00+00:00")
        job.execute("UPDATE papers SET title = 'A2' WHERE id = '2501.00001'")
    assert [r[0] for r in other.execute("SELECT title FROM papers")] == ["A2"]
    upsert_papers(other, [Paper(id="2501.00002", title="B")], "api", seen="2025-01-01T00:00:00+00:00")
    assert job.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 2
