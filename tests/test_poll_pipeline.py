"""The poll pipeline against the replay server: windows, faults, recovery, versions, locks."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from poll_support import LLM_ALL, TermClassifier, arxiv_at, expected_ids

from tracker.config import load_config
from tracker.errors import StoreError
from tracker.locking import exclusive
from tracker.run.pipeline import poll, window
from tracker.standins.arxiv import ArxivReplay
from tracker.store import open_store, runs

NOW = datetime(2025, 11, 1, 0, 0, tzinfo=timezone.utc)
NO_SLEEP = {"sleep": lambda s: None}


@pytest.fixture
def server():
    with ArxivReplay() as s:
        yield s


@pytest.fixture
def setup(server, write_config):
    config = load_config(write_config(arxiv=arxiv_at(server.api_url, server.rss_url), sections=[LLM_ALL]))
    db = open_store(config.store.path)
    return config, db


def stored(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT id FROM papers").fetchall()}


def run(config, db, sources=("api",), now=NOW, **kw):
    kw.setdefault("classifier", TermClassifier())
    return poll(config, db, list(sources), now, **kw, **NO_SLEEP)


def test_first_poll_stores_and_classifies_the_whole_window(setup):
    config, db = setup
    clf = TermClassifier()
    report = run(config, db, classifier=clf)
    (api,) = report.sources
    assert report.ok and api.outcome == "ok"
    assert stored(db) == expected_ids()
    assert api.new == len(expected_ids()) and api.updated == 0
    assert sorted(clf.seen) == sorted(expected_ids())
    classified = db.execute("SELECT COUNT(DISTINCT paper_id) FROM classifications").fetchone()[0]
    assert classified == sum(1 for pid in expected_ids() if clf.classify(next(p for p in [_paper(db, pid)])))
    assert api.window_start == (NOW - timedelta(days=7)).isoformat()
    assert runs.LEDGER.last_success(db, "api").fetched == api.fetched


def _paper(db, pid):
    from tracker.store.papers import get_paper

    return get_paper(db, pid)


def test_second_poll_changes_nothing_and_starts_at_last_success_minus_overlap(setup):
    config, db = setup
    run(config, db)
    later = NOW + timedelta(days=1)
    clf = TermClassifier()
    report = run(config, db, now=later, classifier=clf)
    assert report.sources[0].window_start == (NOW - timedelta(days=2)).isoformat()
    assert report.changed == 0 and clf.seen == []


def test_a_rule_change_reclassifies_every_stored_paper_once(setup):
    """After `tune --write` or a hand edit, papers already stored leave sections the rules no
    longer give them, and papers the old rules left out are looked at again."""
    config, db = setup
    run(config, db)
    before = {r[0] for r in db.execute("SELECT DISTINCT paper_id FROM classifications")}
    narrower = TermClassifier(terms=("llm",))
    narrower.fingerprint = "narrower-rules"
    report = run(config, db, now=NOW + timedelta(days=1), classifier=narrower)
    assert report.reclassified == len(stored(db)) and sorted(narrower.seen) == sorted(stored(db))
    after = {r[0] for r in db.execute("SELECT DISTINCT paper_id FROM classifications")}
    assert after == {pid for pid in stored(db) if narrower.classify(_paper(db, pid))} and after < before
    assert {r[0] for r in db.execute("SELECT DISTINCT rules_fingerprint FROM classifications")} == {"narrower-rules"}
    again = TermClassifier(terms=("llm",))
    again.fingerprint = "narrower-rules"
    assert run(config, db, now=NOW + timedelta(days=2), classifier=again).reclassified == 0 and again.seen == []


def test_machine_off_for_a_week_catches_up(setup):
    config, db = setup
    run(config, db, now=datetime(2025, 10, 20, tzinfo=timezone.utc))
    assert stored(db) == set()
    report = run(config, db, now=datetime(2025, 11, 3, tzinfo=timezone.utc))
    assert report.sources[0].window_start == "2025-10-18T00:00:00+00:00"
    assert stored(db) == expected_ids()


def test_killed_run_left_running_is_not_a_success(setup):
    config, db = setup
    run(config, db, now=datetime(2025, 10, 20, tzinfo=timezone.utc))
    runs.start_run(db, "api", datetime(2025, 10, 28, tzinfo=timezone.utc), datetime(2025, 11, 1, tzinfo=timezone.utc))
    start, _ = window(db, "api", config, NOW)
    assert start == datetime(2025, 10, 18, tzinfo=timezone.utc)
    run(config, db)
    assert [r.outcome for r in runs.LEDGER.runs_of(db, "api")] == ["ok", "interrupted", "ok"]


def test_since_overrides_the_window(setup):
    config, db = setup
    report = run(config, db, since=date(2025, 10, 29))
    assert report.sources[0].window_start == "2025-10-29T00:00:00+00:00"
    assert stored(db) == {p.id for p in _all_listed(db, config) if p.submitted.date() >= date(2025, 10, 29)}


def _all_listed(db, config):
    with ArxivReplay() as s:
        return [p for p in s.papers if set(p.categories) & set(config.arxiv.categories)]


FAULTS = [
    ("500", {"times": 3}, "HTTP 500 (gave up after 3 tries)"),
    ("503", {"times": 3, "retry_after": "2"}, "HTTP 503 (gave up after 3 tries)"),
    ("429", {"times": 3, "retry_after": "1"}, "HTTP 429 (gave up after 3 tries)"),
    ("slow", {"times": 3, "seconds": 1.5}, "timed out after 0.5s"),
    ("reset", {"times": 3}, "connection failed"),
    ("truncate", {}, "malformed Atom body"),
    ("html", {}, "got an HTML page instead of Atom"),
    ("error_feed", {"message": "malformed query near cat"}, "arXiv API error: malformed query near cat"),
    ("empty_page", {"times": 3, "min_start": 100}, "empty page at start=100"),
]


@pytest.mark.parametrize("kind,options,reason", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_fails_the_run_keeps_the_store_and_next_poll_recovers(tmp_path, server, kind, options, reason, write_config):
    config = load_config(write_config(arxiv=arxiv_at(server.api_url, server.rss_url, timeout_seconds=0.5), sections=[LLM_ALL]))
    db = open_store(config.store.path)
    run(config, db, since=date(2025, 10, 29), now=datetime(2025, 10, 30, tzinfo=timezone.utc))
    before = stored(db)
    assert before
    server.inject(kind, route="api", min_start=options.pop("min_start", 0) if kind == "empty_page" else 0, **options)
    report = run(config, db)
    api = report.sources[0]
    assert api.outcome == "failed" and reason in api.error
    assert not report.ok
    last = runs.LEDGER.latest(db)[0]
    assert last.outcome == "failed" and reason in last.error
    assert before <= stored(db)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    server.clear_faults()
    recovered = run(config, db)
    assert recovered.ok and recovered.sources[0].window_start == "2025-10-28T00:00:00+00:00"
    assert stored(db) == expected_ids()


def test_retries_inside_one_run_succeed_and_are_counted(setup, server):
    config, db = setup
    slept: list[float] = []
    server.inject("503", times=2, route="api", retry_after="9")
    report = poll(config, db, ["api"], NOW, classifier=TermClassifier(), sleep=slept.append)
    assert report.ok and stored(db) == expected_ids()
    assert slept == [9.0, 9.0]
    assert report.sources[0].requests == len(server.api_requests())


def test_one_failing_source_does_not_stop_the_next(setup, server):
    config, db = setup
    server.inject("html", route="rss")
    report = run(config, db, sources=("rss", "api"))
    assert [s.outcome for s in report.sources] == ["failed", "ok"]
    assert stored(db) == expected_ids()


def test_rss_replacement_updates_version_and_reclassifies(setup, server):
    config, db = setup
    run(config, db, sources=("api", "rss"))
    target = next(p for p in server.papers if p.announced == server.rss_day and p.categories[0] == "cs.CL")
    server.replace(target.id, title="Large language model revised: " + target.title)
    clf = TermClassifier()
    report = run(config, db, sources=("rss",), now=NOW + timedelta(days=1), classifier=clf)
    assert report.sources[0].updated == 1 and report.sources[0].new == 0 and clf.seen == [target.id]
    row = db["papers"].get(target.id)
    assert row["version"] == 2 and row["title"].startswith("Large language model revised")
    assert row["announce_type"] == "replace"
    assert db["paper_versions"].count_where("paper_id = ?", [target.id]) == 2
    assert db["classifications"].count_where("paper_id = ?", [target.id]) == 1


def test_a_paper_the_api_stored_first_gets_the_feeds_announce_type(setup, server):
    """The default order polls the API first; the feed then saw only stored papers and their
    announce_type stayed NULL, against docs/sources.md."""
    config, db = setup
    run(config, db, sources=("api",))
    assert db.execute("SELECT COUNT(*) FROM papers WHERE announce_type IS NOT NULL").fetchone()[0] == 0
    run(config, db, sources=("rss",))
    crossed = [r for r in db["papers"].rows_where("announce_type = 'cross'")]
    assert crossed and all(json.loads(r["sources"]) == ["api", "rss"] for r in crossed)
    fed = db.execute("SELECT COUNT(*) FROM papers WHERE sources LIKE '%rss%'").fetchone()[0]
    assert db.execute("SELECT COUNT(*) FROM papers WHERE announce_type IS NOT NULL").fetchone()[0] == fed > 0
    run(config, db, sources=("api",), now=NOW + timedelta(days=1))  # the API seeing them again keeps what the feed said
    assert db.execute("SELECT COUNT(*) FROM papers WHERE announce_type IS NOT NULL").fetchone()[0] == fed


def test_duplicates_across_sources_and_cross_lists_are_one_row(setup, server):
    config, db = setup
    rss = run(config, db, sources=("rss",)).sources[0]
    assert rss.new == rss.fetched > 0
    api = run(config, db, sources=("api",)).sources[0]
    assert api.new == len(expected_ids()) - rss.new
    crossed = [r for r in db["papers"].rows_where("announce_type = 'cross'")]
    assert crossed and all(json.loads(r["sources"]) == ["rss", "api"] for r in crossed)
    assert db.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == len(expected_ids())


def test_after_store_hooks_get_the_changed_papers(setup):
    config, db = setup
    calls: list[int] = []
    run(config, db, after_store=[lambda d, papers: calls.append(len(papers))])
    assert sum(calls) == len(expected_ids())
    calls.clear()
    run(config, db, after_store=[lambda d, papers: calls.append(len(papers))], now=NOW + timedelta(hours=1))
    assert calls == []


def test_a_failing_hook_rolls_back_its_batch(setup):
    config, db = setup

    def boom(d, papers):
        raise RuntimeError("hook broke")

    report = run(config, db, after_store=[boom])
    assert report.sources[0].outcome == "failed" and "hook broke" in report.sources[0].error
    assert stored(db) == set()


def test_second_poll_at_once_gets_a_clear_message(setup):
    config, db = setup
    with exclusive(config.data_dir / "poll.lock", "test"):
        with pytest.raises(StoreError, match="another poll is already running"):
            run(config, db, lock_wait=0.1)
    assert db["poll_runs"].count == 0
