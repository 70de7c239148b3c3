"""Resolving listed works without an arXiv link by exact title, once, against the arXiv replay server."""

from __future__ import annotations

import logging

from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import SEED
from links_support import SEED_ALIASES, seed_layer
from tracker.config import ArxivConfig, load_config
from tracker.links.match import Work, find_mentions, known_works
from tracker.models import Paper
from tracker.sources.arxiv_api import search_title
from tracker.standins.arxiv import ArxivReplay
from tracker.store import open_store
from tracker.survey.parse import load_survey
from tracker.links.works import exact_match, prepare_works, resolve_works
from tracker.store.works import load_works

NOW = datetime(2025, 11, 3, 12, 0, tzinfo=timezone.utc)
LATER = datetime(2025, 11, 10, 12, 0, tzinfo=timezone.utc)
BERT = "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"


def row(pid: str, title: str) -> dict:
    return {"id": pid, "title": title, "abstract": "x", "authors": ["A. Author"], "categories": ["cs.CL"],
            "published": "2023-01-02"}


LISTED = [
    row("1810.04805", BERT),
    row("1906.00001", BERT + ", Revisited"),  # a near miss the title search also returns
    row("2303.08774", "GPT-4 Technical Report"),
    row("2401.09999", "Visual Instruction Tuning for Robots"),  # the only hit for "Visual instruction tuning"
]


@pytest.fixture
def arxiv():
    with ArxivReplay(listings=LISTED) as server:
        yield server


def searcher(server: ArxivReplay):
    cfg = ArxivConfig(api_url=server.api_url, delay_seconds=0, retries=0)
    return lambda title: search_title(cfg, title)


def seed_works(write_config, aliases=None) -> list[Work]:
    return known_works(load_survey(SEED), load_config(write_config(seed_layer(aliases))))


def test_exact_title_resolves_and_near_misses_stay_unresolved(tmp_path: Path, arxiv: ArxivReplay, write_config) -> None:
    db = open_store(":memory:")
    works = {w.title: w for w in resolve_works(db, seed_works(write_config), NOW, searcher(arxiv))}
    bert = works[BERT]
    assert (bert.id, bert.arxiv_id, bert.resolved_by) == ("1810.04805", "1810.04805", "arxiv-title-search")
    gpt4 = works["Gpt-4 technical report"]
    assert gpt4.id == "2303.08774" and gpt4.aliases[0] == "GPT-4"
    llava = works["Visual instruction tuning"]
    assert llava.arxiv_id is None and llava.resolved_by == "unresolved" and llava.id.startswith("title:")
    stored = {r["id"]: r for r in db["works"].rows}
    assert stored["1810.04805"]["resolved_by"] == "arxiv-title-search"
    assert stored["1810.04805"]["resolved_at"] == NOW.isoformat(timespec="seconds")
    assert stored["2312.00752"]["resolved_by"] == "survey-link"
    assert stored["title:visual-instruction-tuning"]["arxiv_id"] is None
    assert stored["title:visual-instruction-tuning"]["resolved_by"] == "unresolved"
    assert "title:bert-pre-training-of-deep-bidirectional-transformers-for-language-understanding" not in stored
    titles_searched = [r.params["search_query"] for r in arxiv.api_requests()]
    assert len(titles_searched) == 14  # the 14 distinct seed works without an arXiv link, each once
    assert sum("Gpt-4" in q for q in titles_searched) == 1


def test_a_poll_logs_one_line_for_its_title_lookups(tmp_path: Path, arxiv: ArxivReplay, write_config, caplog) -> None:
    """Each title's outcome is DEBUG: a first poll of a long list would otherwise print dozens of lines."""
    caplog.set_level(logging.INFO, logger="tracker")
    resolve_works(open_store(":memory:"), seed_works(write_config), NOW, searcher(arxiv))
    events = [(r.getMessage(), r.fields) for r in caplog.records if r.levelno >= logging.INFO]
    assert not any(e in ("works.resolved", "works.unresolved") for e, _ in events)
    (summary,) = [f for e, f in events if e == "works.looked_up"]
    assert summary["titles"] == 14 and summary["resolved"] + summary["unresolved"] == 14 and summary["unresolved"] >= 1


def test_resolution_is_cached_and_looked_up_once(tmp_path: Path, arxiv: ArxivReplay, write_config) -> None:
    db = open_store(":memory:")
    first = resolve_works(db, seed_works(write_config), NOW, searcher(arxiv))
    asked = len(arxiv.api_requests())
    second = resolve_works(db, seed_works(write_config), LATER, searcher(arxiv))
    assert len(arxiv.api_requests()) == asked
    assert {w.id: w.resolved_by for w in first} == {w.id: w.resolved_by for w in second}
    assert db["works"].get("1810.04805")["resolved_at"] == NOW.isoformat(timespec="seconds")
    resolve_works(db, seed_works(write_config), LATER, searcher(arxiv), refresh=True)
    assert len(arxiv.api_requests()) == 2 * asked


def test_offline_run_uses_the_cache_and_never_marks_unresolved(tmp_path: Path, arxiv: ArxivReplay, write_config) -> None:
    db = open_store(":memory:")
    offline = {w.title: w for w in resolve_works(db, seed_works(write_config), NOW, None)}
    assert offline[BERT].resolved_by == "pending"
    online = {w.title: w for w in resolve_works(db, seed_works(write_config), NOW, searcher(arxiv))}
    assert online[BERT].arxiv_id == "1810.04805"
    again = {w.title: w for w in resolve_works(db, seed_works(write_config), LATER, None)}
    assert again[BERT].arxiv_id == "1810.04805"
    assert {w.id for w in load_works(db)} >= {"1810.04805", "2312.00752"}


def test_failed_lookup_is_not_cached(tmp_path: Path, arxiv: ArxivReplay, write_config) -> None:
    db = open_store(":memory:")
    arxiv.inject("500", times=100)
    works = {w.title: w for w in resolve_works(db, seed_works(write_config), NOW, searcher(arxiv))}
    assert works[BERT].resolved_by == "pending"
    assert db["works"].get("title:bert-pre-training-of-deep-bidirectional-transformers-for-language-understanding")[
        "resolved_by"] == "pending"
    arxiv.clear_faults()
    works = {w.title: w for w in resolve_works(db, seed_works(write_config), LATER, searcher(arxiv))}
    assert works[BERT].arxiv_id == "1810.04805"


def test_a_config_arxiv_id_wins_over_a_lookup(tmp_path: Path, arxiv: ArxivReplay, write_config) -> None:
    db = open_store(":memory:")
    works = {w.title: w for w in resolve_works(db, seed_works(write_config, SEED_ALIASES), NOW, searcher(arxiv))}
    assert works["Visual instruction tuning"].arxiv_id == "2304.08485"
    assert works["Visual instruction tuning"].resolved_by == "config"
    assert not any("Visual instruction" in r.params["search_query"] for r in arxiv.api_requests())


def test_exact_match_needs_one_identical_title() -> None:
    def paper(pid: str, title: str) -> Paper:
        return Paper(id=pid, title=title)

    assert exact_match("Gpt-4 technical report.", [paper("2303.08774", "GPT-4 Technical Report")]) == "2303.08774"
    assert exact_match("Gpt-4 technical report", [paper("2303.1", "GPT-4 Technical Report Revisited")]) is None
    assert exact_match("Same", [paper("2301.1", "Same"), paper("2301.2", "same")]) is None


def test_prepare_works_parses_the_configured_survey(tmp_path: Path, arxiv: ArxivReplay, write_config) -> None:
    db = open_store(":memory:")
    works = prepare_works(load_config(write_config(seed_layer(SEED_ALIASES))), db, NOW, search=searcher(arxiv))
    links = find_mentions(Paper(id="2511.00001", title="Probing BERT", abstract="We probe 1810.04805."), works)
    assert [l.work_id for l in links] == ["1810.04805"]
    assert prepare_works(load_config(write_config(seed_layer())), db, NOW, online=False)[0].id == "2001.08361"
