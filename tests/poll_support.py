"""Helpers for the poll/source/store tests: the [arxiv] table pointing at the replay server,
a tiny classifier fake (the real one is another stage's), and the expected sets."""

from __future__ import annotations

import re
from pathlib import Path

from tracker.models import Match, Paper, SectionScore
from tracker.standins.arxiv_feeds import SAMPLE_LISTINGS, read_listings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
API = FIXTURES / "arxiv-api"
RSS = FIXTURES / "arxiv-rss"
CATS = ("cs.CL", "cs.LG", "cs.AI")


ARXIV = {"categories": list(CATS), "delay_seconds": 0, "timeout_seconds": 2.0, "retries": 2, "page_size": 100,
         "overlap_days": 2, "first_poll_days": 7}
# Sections with `all` rules only => the API query is categories-only (an easy expected set).
LLM_ALL = {"id": "llm", "heading": "Language models", "all": [["language model", "LLM", "transformer"]]}
LLM_ANY = {"id": "llm", "heading": "Language models", "any": ["language model", "LLM"]}


def arxiv_at(api_url: str, rss_url: str, **changes) -> dict:
    """The [arxiv] table of the poll tests, pointed at a replay server (a config input, not a writer)."""
    return {**ARXIV, "api_url": api_url, "rss_url": rss_url, **changes}


class TermClassifier:
    """Stands in for tracker.classify.matcher: one section, matched by a word in the title."""

    fingerprint = "test-fingerprint"

    def __init__(self, terms: tuple[str, ...] = ("language", "llm", "model")) -> None:
        self.terms = terms
        self.seen: list[str] = []

    def classify(self, paper: Paper) -> list[SectionScore]:
        self.seen.append(paper.id)
        hits = tuple(Match(t, "title") for t in self.terms if re.search(rf"\b{t}\b", paper.title, re.I))
        return [SectionScore("llm", "Language models", float(len(hits)), hits)] if hits else []


def expected_ids(cats: tuple[str, ...] = CATS) -> set[str]:
    """Every listed paper with one of our categories (all sample days are in the window)."""
    return {r["id"] for r in read_listings(SAMPLE_LISTINGS) if set(r["categories"]) & set(cats)}
