"""The arXiv announcement feed (rss.arxiv.org, 2024+ format).

One request for all categories: `{arxiv.rss_url}/cs.CL+cs.LG`. Each item says
how it was announced (`arxiv:announce_type`: new, cross, replace,
replace-cross) and carries the version in its guid
(`oai:arXiv.org:2401.01234v2`), so a replacement updates the stored version.
An empty channel is a normal weekend/holiday; a body feedparser cannot read as
a feed is a failed run.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser

from tracker.config import ArxivConfig
from tracker.errors import SourceError
from tracker.models import Paper, split_arxiv_id
from tracker.sources import Http
from tracker.sources.records import Batch, cut_unreadable

ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s*(?:Abstract:\s*)?", re.S)
_SPACE = re.compile(r"\s+")


def feed_url(cfg: ArxivConfig) -> str:
    return f"{cfg.rss_url.rstrip('/')}/{'+'.join(cfg.categories)}"


def _norm(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


def _date(value: str | None) -> str:
    if not value:
        return ""
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError):
        return ""


def _authors(item: Any) -> tuple[str, ...]:
    raw = item.get("author") or ", ".join(a.get("name", "") for a in item.get("authors", []))
    return tuple(n for n in (_norm(part) for part in raw.split(",")) if n)


def item_to_paper(item: Any, channel_date: str = "") -> Paper | None:
    """One feed item as a Paper; None for an item without an arXiv id (never seen in practice)."""
    guid = item.get("id") or ""
    split = split_arxiv_id(guid.rsplit(":", 1)[-1]) if guid.startswith("oai:") else None
    if split is None:
        link = item.get("link") or ""
        split = split_arxiv_id(link.rsplit("/abs/", 1)[-1]) if "/abs/" in link else None
    if split is None:
        return None
    paper_id, version = split
    announce = (item.get("arxiv_announce_type") or "").strip() or None
    categories = tuple(t["term"] for t in item.get("tags", []) if t.get("term"))
    return Paper(
        id=paper_id,
        version=version,
        title=_norm(item.get("title")),
        abstract=_norm(_PREFIX.sub("", item.get("summary") or "", count=1)),
        authors=_authors(item),
        categories=categories,
        primary_category=categories[0] if categories else None,
        published=_date(item.get("published")) or channel_date,
        source="rss",
        extra={"announce_type": announce} if announce else {},
    )


def parse_feed(body: bytes, url: str) -> Batch:
    """Read a feed body; SourceError when it is not a usable RSS channel. An item that
    cannot be read is skipped and named in `Batch.skipped`."""
    body, skipped = cut_unreadable(body, "item")
    parsed = feedparser.parse(body)
    exc = parsed.get("bozo_exception")
    if not parsed.get("version") or not parsed.feed.get("title"):
        hint = "got an HTML page" if b"<html" in body[:2000].lower() else "not an RSS feed"
        raise SourceError(f"{url}: {hint} ({len(body)} bytes)", "check arxiv.rss_url; the next poll retries")
    if parsed.bozo and exc is not None and "SAX" in type(exc).__name__:
        raise SourceError(f"{url}: malformed feed ({exc}; {len(body)} bytes)", "a truncated response; the next poll retries")
    for item in parsed.entries:
        guid = item.get("id") or ""
        if "/api/errors" in guid or ((item.get("title") or "").strip() == "Error" and not guid.startswith("oai:")):
            message = _norm(item.get("summary")) or item.get("id") or "Error"
            raise SourceError(f"{url}: arXiv returned an error feed: {message}", "check arxiv.rss_url and arxiv.categories")
    channel_date = _date(parsed.feed.get("published"))
    papers = []
    for item in parsed.entries:
        try:
            paper = item_to_paper(item, channel_date)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            skipped.append(f"{item.get('id') or item.get('link')}: {type(exc).__name__}: {str(exc)[:100]}")
            continue
        if paper is not None:
            papers.append(paper)
    return Batch(papers, skipped)


def fetch(cfg: ArxivConfig, http: Http) -> Batch:
    url = feed_url(cfg)
    return parse_feed(http.get(url).content, url)


def announce_type(paper: Paper) -> str | None:
    return paper.extra.get("announce_type")

