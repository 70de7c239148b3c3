"""Helpers for the poll/source/store tests: a temp config pointing at the replay server,
a tiny classifier fake (the real one is another stage's), and the expected sets."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tracker.config import Config, load_config
from tracker.models import Match, Paper, SectionScore
from tracker.standins.arxiv_feeds import SAMPLE_LISTINGS, read_listings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
API = FIXTURES / "arxiv-api"
RSS = FIXTURES / "arxiv-rss"
CATS = ("cs.CL", "cs.LG", "cs.AI")


def write_config(tmp: Path, api_url: str, rss_url: str, *, terms: bool = False, timeout: float = 2.0,
                 retries: int = 2, page_size: int = 100, extra: str = "") -> Path:
    """Sections with `all` rules only => the API query is categories-only (an easy expected set)."""
    rule = 'any = ["language model", "LLM"]' if terms else 'all = [["language model", "LLM", "transformer"]]'
    text = f"""
[survey]
path = "survey.md"
[store]
path = "data/tracker.db"
[arxiv]
api_url = "{api_url}"
rss_url = "{rss_url}"
categories = {json.dumps(list(CATS))}
delay_seconds = 0
timeout_seconds = {timeout}
retries = {retries}
page_size = {page_size}
overlap_days = 2
first_poll_days = 7
{extra}
[[sections]]
id = "llm"
heading = "Language models"
{rule}
"""
    path = tmp / "tracker.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_for(tmp: Path, server, **kw) -> Config:
    return load_config(write_config(tmp, server.api_url, server.rss_url, **kw))


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
