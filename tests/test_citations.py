"""The Semantic Scholar citations provider and `poll_citations`, against the local stand-in."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from links_support import seed_layer
from tracker.config import ArxivConfig, load_config
from tracker.errors import ConfigError, SourceError
from tracker.links.match import Work
from tracker.logs import KeyValueFormatter
from tracker.models import Paper
from tracker.sources import Http
from tracker.sources.arxiv_api import fetch_ids
from tracker.sources.citations import CitingPaper, SemanticScholar, poll_citations, provider_for
from tracker.standins.arxiv import ArxivReplay
from tracker.standins.arxiv_feeds import SAMPLE_LISTINGS, read_listings
from tracker.standins.semantic_scholar import SemanticScholarStandin
from tracker.store import open_store
from tracker.store.links import links_for
from tracker.store.papers import upsert_papers

LLAMA = Work("2302.13971", "LLaMA: Open and Efficient Foundation Language Models", "2302.13971", 2023, "decoder_only", ("LLaMA",))
MAMBA = Work("2312.00752", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", "2312.00752", 2023, "non_transformer", ("Mamba",))
BERT = Work("title:bert", "BERT: Pre-training", None, 2018, "encoder_only", ("BERT",))


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(round(seconds, 3))


def make_http(sleeps: Sleeps, delay: float = 0.0, retries: int = 3) -> Http:
    return Http(timeout=5, retries=retries, delay_seconds=delay, sleep=sleeps, clock=lambda: 100.0)


@pytest.fixture
def s2():
    with SemanticScholarStandin() as server:
        for i in range(5):
            server.add_citation("2302.13971", f"2510.2{i}000", f"Citing paper {i}", f"2025-10-2{i}")
        yield server


def citations_of(server: SemanticScholarStandin, since: date | None = None, page_size: int = 2, **kw) -> list[CitingPaper]:
    sleeps = kw.pop("sleeps", Sleeps())
    provider = SemanticScholar(server.url, make_http(sleeps, **kw), page_size=page_size)
    return list(provider.fetch_citing("2302.13971", since))


def test_pages_follow_next(s2: SemanticScholarStandin) -> None:
    found = citations_of(s2, page_size=2)
    assert [c.arxiv_id for c in found] == ["2510.20000", "2510.21000", "2510.22000", "2510.23000", "2510.24000"]
    assert found[0] == CitingPaper("2510.20000", "Citing paper 0", "2025-10-20")
    assert [r.query["offset"] for r in s2.requests] == [["0"], ["2"], ["4"]]
    first = s2.requests[0]
    assert first.path == "/graph/v1/paper/ARXIV:2302.13971/citations"
    assert first.query["fields"] == ["title,externalIds,publicationDate,authors"] and first.query["limit"] == ["2"]


def test_requests_keep_the_configured_delay(s2: SemanticScholarStandin) -> None:
    sleeps = Sleeps()
    citations_of(s2, page_size=2, delay=1.5, sleeps=sleeps)
    assert sleeps == [1.5, 1.5]  # before the 2nd and 3rd page


def test_429_waits_retry_after_then_goes_on(s2: SemanticScholarStandin) -> None:
    s2.fail_next(429, retry_after="7")
    sleeps = Sleeps()
    assert len(citations_of(s2, page_size=5, sleeps=sleeps)) == 5
    assert sleeps == [7.0] and len(s2.requests) == 2


def test_5xx_is_retried_with_backoff_then_gives_up(s2: SemanticScholarStandin) -> None:
    s2.fail_next(503, times=2)
    sleeps = Sleeps()
    assert len(citations_of(s2, page_size=5, sleeps=sleeps)) == 5
    assert sleeps == [1.0, 2.0]
    s2.fail_next(500, times=10)
    with pytest.raises(SourceError, match=r"HTTP 500 \(gave up after 3 tries\)"):
        citations_of(s2, page_size=5, retries=2)


def test_papers_without_arxiv_id_or_older_than_since_are_skipped() -> None:
    with SemanticScholarStandin() as server:
        server.add_citation("2302.13971", "2510.24963", "New on arXiv", "2025-10-30")
        server.add_citation("2302.13971", None, "A journal paper without arXiv id", "2025-10-30")
        server.add_citation("2302.13971", "2301.00001", "Old", "2023-01-02")
        server.add_citation("2302.13971", "2510.25310", "No date", None)
        server.add_citation("2302.13971", "2510.26001", "On the day of the last run", "2025-10-29")
        everything = [c.arxiv_id for c in citations_of(server, None, page_size=10)]
        assert everything == ["2510.24963", "2301.00001", "2510.25310", "2510.26001"]
        recent = [c.arxiv_id for c in citations_of(server, date(2025, 10, 29), page_size=10)]
        assert recent == ["2510.24963", "2510.26001"]


class Lines(logging.Handler):
    """Formatted log lines of the `tracker` logger, whatever another test did to propagation."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(KeyValueFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines():
    handler, logger = Lines(), logging.getLogger("tracker")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_api_key_is_sent_in_the_header_and_never_logged(monkeypatch, tmp_path: Path, log_lines, write_config) -> None:
    key = "s2-secret-key-123456"
    monkeypatch.setenv("S2_TEST_KEY", key)
    with SemanticScholarStandin(api_key=key) as server:
        server.add_citation("2302.13971", "2510.24963", "x", "2025-10-30")
        config = load_config(write_config(seed_layer()))
        config = replace(config, citations=replace(config.citations, provider="semantic_scholar", api_url=server.url,
                                                   api_key_env="S2_TEST_KEY"))
        server.fail_next(429, retry_after="0")
        sleeps = Sleeps()
        provider = provider_for(config, make_http(sleeps))
        assert [c.arxiv_id for c in provider.fetch_citing("2302.13971", None)] == ["2510.24963"]
        assert {r.headers.get("x-api-key") for r in server.requests} == {key}
        assert all(key not in r.path + json.dumps(r.query) for r in server.requests)
        wrong = SemanticScholar(server.url, make_http(sleeps), api_key="wrong-key-0000")
        with pytest.raises(SourceError) as failed:
            list(wrong.fetch_citing("2302.13971", None))
        assert "403" in str(failed.value) and "wrong-key-0000" not in str(failed.value)
    assert any("http.retry" in line for line in log_lines)
    assert not any(key in line for line in log_lines)


def test_provider_none_is_a_config_error(tmp_path: Path, write_config) -> None:
    with pytest.raises(ConfigError, match="citations.provider"):
        provider_for(load_config(write_config(seed_layer())), make_http(Sleeps()))


@pytest.fixture(scope="module")
def listed() -> list[dict]:
    return list(read_listings(SAMPLE_LISTINGS))


def test_poll_citations_fetches_stores_and_links(tmp_path: Path, listed: list[dict], write_config) -> None:
    """Citing papers come from the arXiv replay (real listed papers) when not yet stored."""
    db = open_store(":memory:")
    by_id = {r["id"]: r for r in listed}
    stored_already = Paper.from_json(by_id["2510.25310"])
    upsert_papers(db, [stored_already], "api")
    config = load_config(write_config(seed_layer()))
    fetched: list[list[str]] = []
    with SemanticScholarStandin() as s2, ArxivReplay(listings=listed) as arxiv:
        s2.add_citation("2302.13971", "2510.25310", "Parrot", "2025-10-30")
        s2.add_citation("2302.13971", "2510.24963", "Behavioral phases", "2025-10-30")
        s2.add_citation("2302.13971", None, "No arXiv id", "2025-10-30")
        s2.add_citation("2302.13971", "2301.00001", "Too old", "2023-01-01")
        s2.add_citation("2312.00752", "2510.24963", "Behavioral phases", "2025-10-30")
        s2.add_citation("2312.00752", "2510.26001", "Hausdorff Mamba", "2025-10-31")
        arxiv_cfg = ArxivConfig(api_url=arxiv.api_url, delay_seconds=0, retries=0)

        def fetch_papers(ids):
            fetched.append(sorted(ids))
            return fetch_ids(arxiv_cfg, ids)

        provider = SemanticScholar(s2.url, make_http(Sleeps()), page_size=100)
        unknown = Work("2401.00000", "Not in S2", "2401.00000", 2024, "x", ())
        report = poll_citations(config, db, [LLAMA, MAMBA, BERT, unknown], date(2025, 10, 29), fetch_papers,
                                lambda papers: upsert_papers(db, papers, "citations"), provider=provider)
    assert fetched == [["2510.24963"], ["2510.26001"]]
    assert report.works == 3 and report.missing == ["2401.00000"] and report.citing == 4 and report.linked == 4
    links = links_for(db, ["2510.25310", "2510.24963", "2510.26001"])
    assert {(l.work_id, l.kind, l.where) for l in links["2510.24963"]} == {
        ("2302.13971", "cites", "semantic_scholar"), ("2312.00752", "cites", "semantic_scholar")}
    assert [l.work_id for l in links["2510.25310"]] == ["2302.13971"]
    assert db["papers"].get("2510.26001")["title"].startswith("Larger Hausdorff Dimension")
    assert db["papers"].count == 3  # the old citation was not fetched


def test_poll_citations_through_the_pipeline_store(tmp_path: Path, listed: list[dict]) -> None:
    """The wiring the `citations` source uses: stored papers are classified and get mention links too."""
    from tracker.config import load_config
    from conftest import DEFAULT_CONFIG
    from tracker.links.match import known_works
    from tracker.links.works import mentions_hook
    from tracker.run.pipeline import default_classifier, store_batch
    from tracker.store.classifications import load_classifications
    from tracker.survey.parse import load_survey

    config = load_config(DEFAULT_CONFIG)
    works = known_works(load_survey(config.survey.path), config)
    db = open_store(":memory:")
    db["works"].insert_all([{"id": w.id, "title": w.title} for w in works])
    classifier = default_classifier(config)
    hook = mentions_hook(works)
    with SemanticScholarStandin() as s2, ArxivReplay(listings=listed) as arxiv:
        s2.add_citation("2312.00752", "2510.24963", "Behavioral phases", "2025-10-30")
        arxiv_cfg = ArxivConfig(api_url=arxiv.api_url, delay_seconds=0, retries=0)
        provider = SemanticScholar(s2.url, make_http(Sleeps()), page_size=100)
        mamba = next(w for w in works if w.id == "2312.00752")
        poll_citations(config, db, [mamba], date(2025, 10, 29), lambda ids: fetch_ids(arxiv_cfg, ids),
                       lambda papers: store_batch(db, papers, "citations", "2025-11-01T00:00:00+00:00", classifier, [hook]),
                       provider=provider)
    kinds = {(l.work_id, l.kind) for l in links_for(db, ["2510.24963"])["2510.24963"]}
    assert kinds == {("2312.00752", "cites"), ("2312.00752", "mentions"), ("2305.13048", "mentions")}
    assert load_classifications(db, "2510.24963", classifier.headings)
