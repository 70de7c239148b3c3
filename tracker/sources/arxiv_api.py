"""The arXiv API source (export.arxiv.org/api/query).

The `arxiv` package describes the query (`Search`), builds each page URL
(`Client._format_url`, pointed at `arxiv.api_url`) and turns an Atom `<entry>`
into a `Result`. Transport and paging are ours: the package sets no timeout,
ignores `Retry-After`, sleeps on the wall clock, and turns a malformed body, an
HTML error page or arXiv's error feed into "no results". Here each of those is
a SourceError, so the run is recorded as failed instead of "0 new papers".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator, Sequence

import arxiv
from arxiv import _feed
from lxml import etree

from tracker.classify.terms import Term
from tracker.config import ArxivConfig
from tracker.errors import SourceError
from tracker.models import FIELD_LIMITS, Paper, cut, split_arxiv_id
from tracker.sources import Http
from tracker.sources.records import Batch, cut_unreadable
from tracker.timeutil import utc

ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
RESULTS_CAP = 30_000
MAX_URL = 2_000
EMPTY_PAGE_RETRIES = 2
ID_PAGE = 100
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


@dataclass(frozen=True)
class Page:
    total: int
    start: int
    papers: list[Paper]
    skipped: tuple[str, ...] = ()


def client_for(cfg: ArxivConfig) -> arxiv.Client:
    """A package client whose URLs point at the configured endpoint (per instance)."""
    client = arxiv.Client(page_size=cfg.page_size, delay_seconds=cfg.delay_seconds, num_retries=cfg.retries)
    client.query_url_format = cfg.api_url.split("?", 1)[0] + "?{}"
    return client


def http_for(cfg: ArxivConfig, **overrides) -> Http:
    """The arXiv session with the configured bounds (timeouts, deadline, size and wait caps)."""
    bounds = dict(timeout=cfg.timeout_seconds, retries=cfg.retries, delay_seconds=cfg.delay_seconds,
                  deadline_seconds=cfg.deadline_seconds, max_bytes=int(cfg.max_response_mb * 1024 * 1024),
                  max_wait=cfg.max_retry_wait_seconds)
    return Http(**{**bounds, **{k: v for k, v in overrides.items() if v is not None}})


def term_clauses(term: Term) -> list[str] | None:
    """API clauses whose OR finds every paper the classifier's `term` can hit, or
    None when arXiv cannot say it. Each alternative and each of its forms (hyphen
    and run-together variants, plural) is its own clause, multi-word forms quoted
    as phrases. arXiv's search ignores case, so a case-sensitive term is sent as
    is and the classifier narrows locally. A trailing `*` becomes arXiv's prefix
    wildcard on a single word; a leading `*` (TinyBERT from `*BERT`) or a `*`
    after a phrase has no arXiv equivalent."""
    out: list[str] = []
    for spelling in term.spellings:
        if spelling.open_left:
            return None
        for form in spelling.forms():
            if spelling.open_right:
                if " " in form:
                    return None
                out.append(f"all:{form}*")
            else:
                out.append(f'all:"{form}"' if " " in form else f"all:{form}")
    return out


def category_clause(categories: Sequence[str]) -> str:
    return "(" + " OR ".join(f"cat:{c}" for c in categories) + ")"


def date_clause(start: datetime, end: datetime) -> str:
    fmt = "%Y%m%d%H%M"
    return f"submittedDate:[{utc(start).strftime(fmt)} TO {utc(end).strftime(fmt)}]"


def build_queries(cfg: ArxivConfig, clauses: Sequence[str], max_url: int = MAX_URL) -> list[str]:
    """Categories AND (clause OR clause ...), split so no page URL grows past `max_url`.

    No clauses means every paper of the categories (one query)."""
    client = client_for(cfg)
    cats = category_clause(cfg.categories)
    probe_dates = date_clause(datetime(2000, 1, 1), datetime(2000, 1, 1))
    clauses = list(dict.fromkeys(c for c in clauses if c.strip()))
    if not clauses:
        return [cats]

    def url_len(group: list[str]) -> int:
        query = f"{cats} AND ({' OR '.join(group)}) AND {probe_dates}"
        return len(client._format_url(_search(query), RESULTS_CAP, cfg.page_size))

    queries, group = [], []
    for clause in clauses:
        if group and url_len(group + [clause]) > max_url:
            queries.append(f"{cats} AND ({' OR '.join(group)})")
            group = []
        group.append(clause)
    queries.append(f"{cats} AND ({' OR '.join(group)})")
    return queries


def _search(query: str, id_list: Sequence[str] = ()) -> arxiv.Search:
    return arxiv.Search(
        query=query,
        id_list=list(id_list),
        max_results=None,
        sort_by=arxiv.SortCriterion.SubmittedDate,
        sort_order=arxiv.SortOrder.Ascending,
    )


def _norm(text: str | None) -> str:
    """Runs of whitespace as one space (str.split's whitespace is re's \\s: the same, 3x faster)."""
    return " ".join((text or "").split())


def to_paper(result: arxiv.Result, source: str = "api") -> Paper | None:
    split = split_arxiv_id(result.get_short_id())
    if split is None:
        return None
    paper_id, version = split
    return Paper(
        id=paper_id,
        version=version,
        title=_norm(result.title),
        abstract=_norm(result.summary),
        authors=tuple(_norm(a.name) for a in result.authors),
        categories=tuple(result.categories),
        primary_category=result.primary_category or None,
        published=result.published.date().isoformat(),
        updated=result.updated.isoformat(),
        comment=_norm(result.comment) or None,
        journal_ref=_norm(result.journal_ref) or None,
        doi=_norm(result.doi) or None,
        source=source,
    )


def parse_page(body: bytes, url: str) -> Page:
    """Check the body really is an arXiv result page, then read it; SourceError otherwise.
    An entry that cannot be read is skipped and named in `Page.skipped`."""
    body, skipped = cut_unreadable(body, "entry")
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        if b"<html" in body[:2000].lower():
            raise SourceError(f"{url}: got an HTML page instead of Atom: {_html_title(body)}") from None
        raise SourceError(f"{url}: malformed Atom body ({exc}; {len(body)} bytes)", "a truncated response; the next poll retries") from None
    if root is None or root.tag != f"{ATOM}feed":
        tag = getattr(root, "tag", "nothing")
        if str(tag).lower().endswith("html"):
            raise SourceError(f"{url}: got an HTML page instead of Atom: {_html_title(body)}")
        raise SourceError(f"{url}: expected an Atom <feed>, got <{tag}>")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        entry_id = entry.findtext(f"{ATOM}id") or ""
        title = (entry.findtext(f"{ATOM}title") or "").strip()
        if "/api/errors" in entry_id or (title == "Error" and "/abs/" not in entry_id):
            message = _norm(entry.findtext(f"{ATOM}summary")) or entry_id
            raise SourceError(f"arXiv API error: {message} ({url})", "check the query terms and arxiv.categories")
    total_text = root.findtext(f"{OPENSEARCH}totalResults")
    if total_text is None or not total_text.strip().isdigit():
        raise SourceError(f"{url}: Atom feed without opensearch:totalResults; not an arXiv API response")
    start_text = (root.findtext(f"{OPENSEARCH}startIndex") or "0").strip()
    papers = []
    for entry in entries:
        _cut_long_texts(entry)
        try:
            result = _feed._build_result(entry)
            paper = to_paper(result) if result is not None else None
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            skipped.append(f"{entry.findtext(f'{ATOM}id')}: {type(exc).__name__}: {str(exc)[:100]}")
            continue
        if paper is None:
            skipped.append(f"{entry.findtext(f'{ATOM}id')}: missing its id, dates or version")
            continue
        papers.append(paper)
    return Page(total=int(total_text), start=int(start_text) if start_text.isdigit() else 0, papers=papers,
                skipped=tuple(skipped))


_LONG = {f"{ATOM}summary": "abstract", f"{ATOM}title": "title", "{http://arxiv.org/schemas/atom}comment": "comment",
         "{http://arxiv.org/schemas/atom}journal_ref": "journal_ref"}


def _cut_long_texts(entry: etree._Element) -> None:
    """Cut a text past its stored limit in the tree, before the package copies and
    normalises it: a megabyte abstract then costs one string, not five."""
    for child in entry:
        field = _LONG.get(child.tag)
        if field and child.text and len(child.text) > FIELD_LIMITS[field]:
            child.text = cut(child.text, FIELD_LIMITS[field])


def _html_title(body: bytes) -> str:
    m = re.search(rb"<title>(.*?)</title>", body, re.I | re.S)
    return _norm(m.group(1).decode("utf-8", "replace")) if m else "no title"


def get_page(cfg: ArxivConfig, http: Http, search: arxiv.Search, start: int, size: int) -> Page:
    url = client_for(cfg)._format_url(search, start, size)
    return parse_page(http.get(url).content, url)


def _pages(cfg: ArxivConfig, http: Http, search: arxiv.Search, first: Page) -> Iterator[Batch]:
    """Page through one query from a fetched first page. An empty page before the end
    is retried, then fails the run (it would silently drop the rest); so does a page
    that repeats ids this query already gave, or whose totals do not add up (a server
    paging in circles would otherwise be read as "fetched 1500, new 10" and the window
    moved on): "inconsistent paging"."""
    yield Batch(first.papers, first.skipped)
    seen = {p.id for p in first.papers}
    offset = len(first.papers) + len(first.skipped)
    total = min(first.total, RESULTS_CAP)
    while offset < total:
        size = min(cfg.page_size, total - offset)
        for attempt in range(EMPTY_PAGE_RETRIES + 1):
            page = get_page(cfg, http, search, offset, size)
            if page.papers or page.skipped:
                break
        else:
            raise SourceError(
                f"arXiv returned an empty page at start={offset} of {first.total} results",
                "arXiv's API is flaky under load; the next poll retries the same window",
            )
        _check_paging(page, offset, size, seen, first.total)
        yield Batch(page.papers, page.skipped)
        offset += len(page.papers) + len(page.skipped)


def _check_paging(page: Page, offset: int, size: int, seen: set[str], total: int) -> None:
    repeated = [p.id for p in page.papers if p.id in seen]
    problem = None
    if repeated:
        problem = f"the page at start={offset} repeats {len(repeated)} ids already read in this poll (e.g. {repeated[0]})"
    elif page.start not in (0, offset) or len(page.papers) > size:
        problem = f"asked for {size} results from start={offset}, got {len(page.papers)} from start={page.start}"
    elif page.total < offset:
        problem = f"the total fell from {total} to {page.total}, below the {offset} results already read"
    if problem:
        raise SourceError(f"arXiv API: inconsistent paging: {problem}",
                          "nothing past this page was read; the next poll retries the same window")
    seen.update(p.id for p in page.papers)


def fetch_window(
    cfg: ArxivConfig, http: Http, query: str, start: datetime, end: datetime
) -> Iterator[list[Paper]]:
    """All papers of `query` submitted in [start, end], halving the window while
    arXiv reports more than it will page through (30,000)."""
    search = _search(f"{query} AND {date_clause(start, end)}")
    first = get_page(cfg, http, search, 0, cfg.page_size)
    if first.total > RESULTS_CAP and end - start > timedelta(minutes=2):
        middle = start + (end - start) / 2
        yield from fetch_window(cfg, http, query, start, middle)
        yield from fetch_window(cfg, http, query, middle + timedelta(minutes=1), end)
        return
    yield from _pages(cfg, http, search, first)


def fetch(
    cfg: ArxivConfig, http: Http, clauses: Sequence[str], start: datetime, end: datetime
) -> Iterator[list[Paper]]:
    """Batches of papers for every query built from `clauses` (none: the whole
    categories), one batch per page."""
    for query in build_queries(cfg, clauses):
        yield from fetch_window(cfg, http, query, start, end)


def fetch_ids(cfg: ArxivConfig, ids: Sequence[str], http: Http | None = None) -> list[Paper]:
    """Look up papers by arXiv id (with or without version), 100 ids per request."""
    own = http is None
    http = http or http_for(cfg)
    out: list[Paper] = []
    try:
        for i in range(0, len(ids), ID_PAGE):
            chunk = list(ids[i : i + ID_PAGE])
            search = _search("", chunk)
            first = get_page(cfg, http, search, 0, ID_PAGE)
            for batch in _pages(cfg, http, search, first):
                out.extend(batch)
    finally:
        if own:
            http.close()
    return out


def search_title(cfg: ArxivConfig, title: str, http: Http | None = None, limit: int = 10) -> list[Paper]:
    """Papers whose title matches `title` as a phrase (for resolving a survey entry)."""
    words = _norm(re.sub(r'["()\[\]:]', " ", title))
    if not words:
        return []
    own = http is None
    http = http or http_for(cfg)
    try:
        search = arxiv.Search(query=f'ti:"{words}"', max_results=limit)
        return get_page(cfg, http, search, 0, limit).papers
    finally:
        if own:
            http.close()
