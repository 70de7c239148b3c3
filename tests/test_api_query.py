"""The arXiv API source finds what the classifier would take: the category listing by
default, and term-narrowed queries (opt-in) translated from the term model."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from poll_support import LLM_ALL, arxiv_at, expected_ids

from tracker.classify.matcher import Classifier
from tracker.classify.terms import parse_term
from tracker.config import load_config
from tracker.run.pipeline import api_clauses, poll
from tracker.sources import arxiv_api
from tracker.standins.arxiv import ArxivReplay
from tracker.standins.arxiv_feeds import SAMPLE_LISTINGS, read_listings
from tracker.store import open_store
from tracker.store.status import status

NOW = datetime(2025, 11, 1, 0, 0, tzinfo=timezone.utc)
NO_SLEEP = {"sleep": lambda s: None}


@pytest.fixture(scope="module")
def server():
    with ArxivReplay() as s:
        yield s


def test_each_alternative_and_form_is_its_own_clause():
    assert arxiv_api.term_clauses(parse_term("scaling law|neural scaling")) == [
        'all:"scaling law"', "all:scalinglaw", 'all:"scaling laws"', "all:scalinglaws",
        'all:"neural scaling"', "all:neuralscaling", 'all:"neural scalings"', "all:neuralscalings",
    ]
    assert arxiv_api.term_clauses(parse_term("BART|mBART")) == ["all:BART", "all:BARTs", "all:mbart", "all:mbarts"]
    assert arxiv_api.term_clauses(parse_term("Mamba*")) == ["all:mamba*"]
    assert arxiv_api.term_clauses(parse_term("*GPT*")) is None  # arXiv has no leading wildcard
    assert arxiv_api.term_clauses(parse_term("state space*")) is None  # nor a wildcard after a phrase


def _config(write_config, folder: Path, server, rule: str, query: str = "terms"):
    """The section's rule is given as TOML text, e.g. 'any = ["LLM"]'."""
    section = {"id": LLM_ALL["id"], "heading": LLM_ALL["heading"], **tomllib.loads(rule)}
    arxiv = arxiv_at(server.api_url, server.rss_url, query=query, page_size=2000)
    return load_config(write_config(folder=folder, arxiv=arxiv, sections=[section]))


def _taken(classifier: Classifier) -> set[str]:
    """What the classifier takes from every listed paper of our categories."""
    wanted = expected_ids()
    return {r["id"] for r in read_listings(SAMPLE_LISTINGS) if r["id"] in wanted and classifier.classify_dict(r)}


def _classified(db) -> set[str]:
    return {row["paper_id"] for row in db.query("SELECT DISTINCT paper_id FROM classifications")}


@pytest.mark.parametrize(
    "rule",
    [
        'any = ["vision-language model|VLM"]',  # a|b: each alternative its own phrase
        'any = ["RL", "Mamba*"]\ncase_sensitive = ["Mamba*"]',  # ALL-CAPS and listed case-sensitive terms, a trailing *
        'any = ["scaling law|neural scaling", "state space model|SSM"]',
    ],
)
def test_term_query_finds_what_the_classifier_takes(tmp_path, server, rule, write_config):
    config = _config(write_config, tmp_path, server, rule)
    clauses, _why = api_clauses(config)
    assert clauses  # really narrowed
    classifier = Classifier.from_config(config)
    taken = _taken(classifier)
    assert taken
    db = open_store(config.store.path)
    server.requests.clear()
    report = poll(config, db, ["api"], NOW, since=date(2025, 10, 20), classifier=classifier, link_works=False, **NO_SLEEP)
    assert report.ok
    assert _classified(db) == taken
    stored = {row["id"] for row in db.query("SELECT id FROM papers")}
    assert len(stored) < len(expected_ids())
    assert all("all:" in r.params.get("search_query", "") for r in server.api_requests())


def test_a_term_arxiv_cannot_say_lists_the_categories(tmp_path, server, write_config):
    config = _config(write_config, tmp_path, server, 'any = ["*GPT*", "vision-language model|VLM"]')
    clauses, why = api_clauses(config)
    assert clauses == [] and "*GPT*" in why
    classifier = Classifier.from_config(config)
    taken = _taken(classifier)
    assert any("ChatGPT" in m.text for r in read_listings(SAMPLE_LISTINGS) for s in classifier.classify_dict(r) for m in s.matches)
    db = open_store(config.store.path)
    server.requests.clear()
    poll(config, db, ["api"], NOW, since=date(2025, 10, 20), classifier=classifier, link_works=False, **NO_SLEEP)
    assert _classified(db) == taken
    assert {row["id"] for row in db.query("SELECT id FROM papers")} == expected_ids()
    assert all("all:" not in r.params.get("search_query", "") for r in server.api_requests())


def test_default_lists_the_categories_in_one_request_per_2000(tmp_path, server, write_config):
    config = _config(write_config, tmp_path, server, 'any = ["vision-language model|VLM"]', query="categories")
    assert config.arxiv.page_size == 2000
    assert api_clauses(config)[0] == []
    db = open_store(config.store.path)
    server.requests.clear()
    report = poll(config, db, ["api"], NOW, since=date(2025, 10, 20), link_works=False, **NO_SLEEP)
    assert report.sources[0].requests == len(server.api_requests()) == 1
    assert [r["requests"] for r in status(db)["last_runs"]] == [1]  # what `tracker status` prints per poll
    assert {row["id"] for row in db.query("SELECT id FROM papers")} == expected_ids()


def test_api_and_rss_polls_of_one_recorded_day_store_the_same_papers(tmp_path, write_config):
    """The stand-in serves 2025-10-31 as the day's feed; the API lists what was submitted the day before."""
    with ArxivReplay(rss_day="2025-10-31") as server:
        stores = {}
        for source in ("api", "rss"):
            folder = tmp_path / source
            folder.mkdir()
            config = _config(write_config, folder, server, 'any = ["LLM", "*GPT*", "vision-language model|VLM"]', query="categories")
            db = open_store(config.store.path)
            now = datetime(2025, 10, 30, 23, 59, 59, tzinfo=timezone.utc)
            report = poll(config, db, [source], now, since=date(2025, 10, 30), link_works=False, **NO_SLEEP)
            assert report.ok
            stores[source] = ({row["id"] for row in db.query("SELECT id FROM papers")}, _classified(db))
    day = {r["id"] for r in read_listings(SAMPLE_LISTINGS) if r["published"][:10] == "2025-10-31"} & expected_ids()
    assert stores["api"][0] == stores["rss"][0] == day
    assert stores["api"][1] == stores["rss"][1] and stores["api"][1]


def test_standin_reads_a_trailing_wildcard_as_arxiv_does():
    rows = [{"id": f"2510.0000{i}", "title": t, "published": "2025-10-30", "categories": ["cs.LG"]}
            for i, t in enumerate(["Mamba2 at scale", "VMamba for images", "A mamba study"])]
    server = ArxivReplay(rows)
    assert [p.id for p in server.matching("all:mamba*")] == ["2510.00000", "2510.00002"]
    assert [p.id for p in server.matching("all:mamba")] == ["2510.00002"]
