"""What the arXiv replay server serves: listed papers, the API's query language and
both response formats (Atom for /api/query, RSS 2.0 for /rss/{cats}), written
the way arXiv writes them so clients parse the same bytes they would in production.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from xml.sax.saxutils import escape, quoteattr

from tracker.bundled import bundled

SAMPLE_LISTINGS = bundled("listings.jsonl.gz")
_WORDS = re.compile(r"[^0-9a-z]+")


def _words(text: str) -> str:
    return " " + " ".join(_WORDS.split(text.lower())).strip() + " "


@dataclass
class ListedPaper:
    """A paper as the server knows it; `submitted` drives submittedDate windows."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    announced: str
    submitted: datetime
    version: int = 1
    updated: datetime | None = None
    comment: str | None = None
    _text: str = field(default="", repr=False)

    @property
    def text(self) -> str:
        if not self._text:
            self._text = _words(self.title + " " + self.abstract)
        return self._text

    @property
    def minute(self) -> str:
        return self.submitted.strftime("%Y%m%d%H%M")


def read_listings(path: str | Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def listed_papers(rows: Iterable[dict[str, Any]], limit: int | None = None) -> list[ListedPaper]:
    """Listings give the announcement day; arXiv announces what was submitted the
    working day before, so papers are spread over that day, one minute apart."""
    out: list[ListedPaper] = []
    per_day: dict[str, int] = {}
    for row in rows:
        if limit is not None and len(out) >= limit:
            break
        day = row["published"][:10]
        n = per_day.get(day, 0)
        per_day[day] = n + 1
        base = datetime.fromisoformat(day).replace(tzinfo=timezone.utc) - timedelta(days=1)
        submitted = base + timedelta(minutes=n % 1440, seconds=17)
        out.append(ListedPaper(row["id"], row["title"], row.get("abstract", ""), list(row.get("authors", [])),
                               list(row.get("categories", [])), day, submitted, comment=row.get("comment")))
    return out


# ---- the API query language: field:term, "phrases", (groups), AND / OR / ANDNOT, [A TO B] ----

_TOKEN = re.compile(r'\s*(\(|\)|ANDNOT\b|AND\b|OR\b|[a-zA-Z_]+:\[[^\]]*\]|[a-zA-Z_]+:"[^"]*"|[a-zA-Z_]+:[^\s()]+|"[^"]*"|[^\s()]+)')
Predicate = Callable[[ListedPaper], bool]


class QueryError(ValueError):
    pass


def _tokens(query: str) -> list[str]:
    pos, out = 0, []
    query = query.strip()
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if not m or not m.group(1):
            raise QueryError(f"cannot read query at {query[pos:pos + 20]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _term(token: str) -> Predicate:
    name, _, value = token.partition(":") if ":" in token else ("all", "", token)
    name = name.lower()
    value = value.strip('"')
    if name == "cat":
        return lambda p: value in p.categories
    if name == "submitteddate":
        m = re.fullmatch(r"\[(\d{8,14})\s+TO\s+(\d{8,14})\]", value)
        if not m:
            raise QueryError(f"bad date range {value!r}")
        lo, hi = m.group(1)[:12].ljust(12, "0"), m.group(2)[:12].ljust(12, "9")
        return lambda p: lo <= p.minute <= hi
    phrase = _words(value)
    if value.endswith("*") and " " not in value.strip():
        phrase = phrase.rstrip()  # arXiv's trailing wildcard: a word that starts so ("mamba*" hits Mamba2)
    if name == "au":
        return lambda p: any(phrase in _words(a) for a in p.authors)
    if name == "ti":
        return lambda p: phrase in _words(p.title)
    if name == "abs":
        return lambda p: phrase in _words(p.abstract)
    if name in ("all", "co", "jr"):
        return lambda p: phrase in p.text
    if name == "id":
        return lambda p: p.id == value.split("v")[0]
    raise QueryError(f"unknown field {name!r}")


def parse_query(query: str) -> Predicate:
    """Left to right, like arXiv's own parser; parentheses group."""
    tokens = _tokens(query)
    pos = 0

    def expr() -> Predicate:
        nonlocal pos
        left = atom()
        while pos < len(tokens) and tokens[pos] in ("AND", "OR", "ANDNOT"):
            op = tokens[pos]
            pos += 1
            right = atom()
            left = _combine(op, left, right)
        return left

    def atom() -> Predicate:
        nonlocal pos
        if pos >= len(tokens):
            raise QueryError("query ends too early")
        token = tokens[pos]
        pos += 1
        if token == "(":
            inner = expr()
            if pos >= len(tokens) or tokens[pos] != ")":
                raise QueryError("missing )")
            pos += 1
            return inner
        return _term(token)

    if not tokens:
        return lambda p: True
    result = expr()
    if pos != len(tokens):
        raise QueryError(f"unexpected {tokens[pos]!r}")
    return result


def _combine(op: str, a: Predicate, b: Predicate) -> Predicate:
    if op == "AND":
        return lambda p: a(p) and b(p)
    if op == "OR":
        return lambda p: a(p) or b(p)
    return lambda p: a(p) and not b(p)


# ---- rendering ----

def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_entry(p: ListedPaper) -> str:
    vid = f"{p.id}v{p.version}"
    cats = "".join(f'\n    <category term={quoteattr(c)} scheme="http://arxiv.org/schemas/atom"/>' for c in p.categories)
    authors = "".join(f"\n    <author>\n      <name>{escape(a)}</name>\n    </author>" for a in p.authors)
    comment = f"\n    <arxiv:comment>{escape(p.comment)}</arxiv:comment>" if p.comment else ""
    primary = p.categories[0] if p.categories else "cs.CL"
    return (
        f"  <entry>\n    <id>http://arxiv.org/abs/{vid}</id>\n    <title>{escape(p.title)}</title>\n"
        f"    <updated>{_iso(p.updated or p.submitted)}</updated>\n"
        f'    <link href="https://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>\n'
        f'    <link href="https://arxiv.org/pdf/{vid}" rel="related" type="application/pdf" title="pdf"/>\n'
        f"    <summary>{escape(p.abstract)}</summary>{cats}\n    <published>{_iso(p.submitted)}</published>{comment}\n"
        f'    <arxiv:primary_category term="{escape(primary)}"/>{authors}\n  </entry>\n'
    )


def atom_feed(query: str, id_list: str, start: int, size: int, total: int, entries: Iterable[str], now: datetime) -> str:
    args = f"search_query={query}&id_list={id_list}&start={start}&max_results={size}"
    digest = hashlib.sha1(args.encode()).hexdigest()[:27]
    head = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns="http://www.w3.org/2005/Atom">\n'
        f"  <id>https://arxiv.org/api/{digest}</id>\n  <title>arXiv Query: {escape(args)}</title>\n"
        f"  <updated>{_iso(now)}</updated>\n"
        f'  <link href={quoteattr("https://arxiv.org/api/query?" + args)} type="application/atom+xml"/>\n'
        f"  <opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>\n"
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
    )
    return head + "".join(entries) + "</feed>\n"


def error_feed(message: str, now: datetime) -> str:
    slug = re.sub(r"\W+", "_", message.lower()).strip("_")
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns="http://www.w3.org/2005/Atom">\n  <id>https://arxiv.org/</id>\n  <title>arXiv Search Results</title>\n'
        f"  <updated>{_iso(now)}</updated>\n  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>\n"
        "  <opensearch:totalResults>1</opensearch:totalResults>\n  <opensearch:startIndex>0</opensearch:startIndex>\n"
        f"  <entry>\n    <id>https://arxiv.org/api/errors#{slug}</id>\n    <title>Error</title>\n"
        f"    <updated>{_iso(now)}</updated>\n"
        f'    <link href="https://arxiv.org/api/errors#{slug}" rel="alternate" type="text/html"/>\n'
        f"    <summary>{escape(message)}</summary>\n    <author>\n      <name>arXiv api core</name>\n    </author>\n"
        "  </entry>\n</feed>\n"
    )


def announce_type(p: ListedPaper, cats: set[str]) -> str:
    primary = p.categories[0] if p.categories else ""
    kind = "new" if primary in cats else "cross"
    if p.version > 1:
        return "replace" if kind == "new" else "replace-cross"
    return kind


def rss_item(p: ListedPaper, cats: set[str], pub: str) -> str:
    kind = announce_type(p, cats)
    tags = "".join(f"\n      <category>{escape(c)}</category>" for c in p.categories)
    return (
        f"    <item>\n      <title>{escape(p.title)}</title>\n      <link>https://arxiv.org/abs/{p.id}</link>\n"
        f"      <description>{escape(f'arXiv:{p.id}v{p.version} Announce Type: {kind} ')}\n"
        f"{escape('Abstract: ' + p.abstract)}</description>\n"
        f'      <guid isPermaLink="false">oai:arXiv.org:{p.id}v{p.version}</guid>{tags}\n'
        f"      <pubDate>{pub}</pubDate>\n      <arxiv:announce_type>{kind}</arxiv:announce_type>\n"
        "      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>\n"
        f"      <dc:creator>{escape(', '.join(p.authors))}</dc:creator>\n    </item>\n"
    )


def rss_feed(cats: list[str], day: str, items: Iterable[ListedPaper]) -> str:
    joined = "+".join(cats)
    when = datetime.fromisoformat(day).replace(tzinfo=timezone(timedelta(hours=-4)))
    pub = format_datetime(when)
    wanted = set(cats)
    head = (
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">\n  <channel>\n'
        f"    <title>{escape(joined)} updates on arXiv.org</title>\n    <link>http://rss.arxiv.org/rss/{joined}</link>\n"
        f"    <description>{escape(joined)} updates on the arXiv.org e-print archive.</description>\n"
        f'    <atom:link href="http://rss.arxiv.org/rss/{joined}" rel="self" type="application/rss+xml" />\n'
        "    <docs>http://www.rssboard.org/rss-specification</docs>\n    <language>en-us</language>\n"
        f"    <lastBuildDate>{format_datetime(when.astimezone(timezone.utc))}</lastBuildDate>\n"
        "    <managingEditor>rss-help@arxiv.org</managingEditor>\n"
        f"    <pubDate>{pub}</pubDate>\n    <skipDays>\n      <day>Saturday</day>\n      <day>Sunday</day>\n    </skipDays>\n"
    )
    return head + "".join(rss_item(p, wanted, pub) for p in items) + "    </channel>\n</rss>\n"
