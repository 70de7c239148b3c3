"""arXiv RSS source: real 2024+ feeds, generated feeds from real listings, bad bodies."""

from __future__ import annotations

import pytest
from poll_support import RSS

from tracker.config import ArxivConfig
from tracker.errors import SourceError
from tracker.sources import Http, arxiv_rss
from tracker.standins.arxiv import ArxivReplay

CL = RSS / "jmamath__distill__arxiv_cs_cl.xml"


def test_real_feed_items():
    papers = arxiv_rss.parse_feed(CL.read_bytes(), "cl")
    assert [p.id for p in papers] == ["2604.22002", "2604.22027", "2604.22038"]
    first = papers[0]
    assert first.version == 1 and first.extra["announce_type"] == "new"
    assert first.abstract.startswith("Social media platforms") and "Announce Type" not in first.abstract
    assert first.authors == ("Anamta Khan", "Ratna Kandala", "Deepti", "Sheza Munir", "Joyojeet Pal")
    assert papers[1].categories == ("cs.CL", "cs.AI", "cs.LG") and papers[1].primary_category == "cs.CL"
    assert first.published == "2026-04-27"


def test_empty_channel_is_zero_papers_not_an_error():
    raw = CL.read_text(encoding="utf-8")
    empty = raw[: raw.index("<item>")] + "</channel>\n</rss>\n"
    assert arxiv_rss.parse_feed(empty.encode(), "cl") == []


def test_truncated_and_html_feeds_fail():
    raw = CL.read_bytes()
    with pytest.raises(SourceError, match="malformed feed"):
        arxiv_rss.parse_feed(raw[: len(raw) // 2], "cl")
    with pytest.raises(SourceError, match="HTML page"):
        arxiv_rss.parse_feed(b"<html><head><title>503</title></head><body>down</body></html>", "cl")


def test_recorded_feed_served_verbatim_for_its_category():
    with ArxivReplay() as s:
        cfg = ArxivConfig(rss_url=s.rss_url, categories=("cs.CL",))
        papers = arxiv_rss.fetch(cfg, Http(timeout=2))
        assert [p.id for p in papers] == ["2604.22002", "2604.22027", "2604.22038"]
        assert s.requests[-1].path == "/rss/cs.CL"


def test_generated_feed_has_new_cross_and_replace():
    with ArxivReplay() as s:
        cfg = ArxivConfig(rss_url=s.rss_url, categories=("cs.CL", "cs.AI"))
        day = [p for p in s.papers if p.announced == s.rss_day and {"cs.CL", "cs.AI"} & set(p.categories)]
        cross = next(p for p in day if p.categories[0] not in ("cs.CL", "cs.AI"))
        replaced = s.replace(next(p for p in day if p.categories[0] == "cs.CL").id, version=3)
        papers = {p.id: p for p in arxiv_rss.fetch(cfg, Http(timeout=2))}
        assert len(papers) == len(day)
        assert papers[cross.id].extra["announce_type"] == "cross"
        assert papers[replaced.id].version == 3 and papers[replaced.id].extra["announce_type"] == "replace"
        assert s.requests[-1].path == "/rss/cs.CL+cs.AI"
