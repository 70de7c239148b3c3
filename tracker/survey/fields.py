"""Read one list item of a survey into fields, remembering where each field sits.

The spans (offsets into the item's raw text) are what lets the patch writer copy
an existing entry's exact shape and swap only the values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tracker.models import Link, split_arxiv_id

Span = tuple[int, int]

LINK = re.compile(
    r"(?<!!)\[(?P<label>(?:\\.|[^\[\]\\\n])*)\]\(\s*<?(?P<url>(?:[^()\s<>]|\([^()\s]*\))+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
BOLD = re.compile(r"(?<![\\*])\*\*(?=\S)(?P<in>(?:\\.|[^*\\]|\*(?!\*))+?)(?<!\s)\*\*(?!\*)|(?<![\\_\w])__(?=\S)(?P<in2>(?:\\.|[^_\\])+?)(?<!\s)__(?!\w)")
ITALIC = re.compile(r"(?<![\\*\w])\*(?![*\s])(?P<in>(?:\\.|[^*\\])+?)(?<![\s\\])\*(?!\*)|(?<![\\_\w])_(?![_\s])(?P<in2>(?:\\.|[^_\\])+?)(?<![\s\\])_(?!\w)")
CODE = re.compile(r"(?<!`)`(?!`)(?P<in>[^`\n]+)`(?!`)")
DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})([./-])(\d{1,2})\2(\d{1,2})(?!\d)")
YEAR = re.compile(r"(?<![\d.\w/])((?:19|20)\d{2})(?![\d\w])")
# arxiv.org/abs|pdf|html/ID, and the pages that name a paper by its arXiv id: Hugging Face
# papers, the arXiv DOI (10.48550/arXiv.ID)
ARXIV_URL = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf|html)/|huggingface\.co/papers/|doi\.org/10\.48550/arxiv\.)"
    r"(?P<id>[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?(?:\.pdf)?(?![\d])",
    re.IGNORECASE,
)
ARXIV_TEXT = re.compile(r"\barXiv:\s?(\d{4}\.\d{4,5})(?:v\d+)?\b", re.IGNORECASE)  # `arXiv:2401.00004` written out
LEAD_PAREN = re.compile(r"\s*\((?P<in>[^()]{1,80})\)\s*")
ESCAPED = re.compile(r"\\([\\*_`\[\]|<])")
SPECIALS = re.compile(r"([\\*_`\[\]|<])")
SENTENCE_BREAK = re.compile(r"\b(?!vs\.|al\.|etc\.)[a-z]{2,}\. [A-Z]")
LINK_WORDS = {"pdf", "paper", "code", "link", "url", "project", "blog", "repo", "arxiv", "homepage", "website", "slides", "video", "model", "data"}


def unescape(text: str) -> str:
    """Undo exactly the escapes `escape` writes; LaTeX like Sch{\\"{u}}tze stays as written."""
    return ESCAPED.sub(r"\1", text)


def escape(text: str) -> str:
    return SPECIALS.sub(r"\\\1", " ".join(text.split()))


KEEP_PERIOD = re.compile(r"(?:\bet al|\bJr|\bSr|\bInc|\bLtd)\.$")


def strip_period(text: str) -> str:
    """The one closing period a list puts after a title or author list (`et al.` keeps its own)."""
    if text.endswith(".."):
        return text[:-1]
    if text.endswith(".") and not KEEP_PERIOD.search(text):
        return text[:-1]
    return text


def add_period(text: str) -> str:
    """Inverse of strip_period: the text to write so that reading it back gives `text`; a title
    ending in `?` or `!` stays as it is (`**What Makes Good Examples for GPT-3?**`)."""
    if KEEP_PERIOD.search(text) or KEEP_PERIOD.search(text + ".") or text.endswith(("?", "!")):
        return text
    return text + "."


def clean(text: str) -> str:
    return " ".join(unescape(text).split())


def arxiv_id(url: str) -> str | None:
    m = ARXIV_URL.search(url)
    if not m:
        return None
    split = split_arxiv_id(m.group("id"))
    return split[0] if split else None


# A run of words after the authors, up to a link, bracket or emphasis: the venue, or the authors
# themselves when written without italics.
VENUE_RUN = re.compile(r"[^\W\d_](?:[^\[\]\n*]*[^\W_)])?")


def split_authors(raw: str) -> tuple[str, ...]:
    return split_names(clean(raw))


def split_names(text: str) -> tuple[str, ...]:
    """`A, B and C` -> three names; BibTeX-style `Last, First and Last, First` keeps each pair."""
    text = strip_period(" ".join(text.split())).strip()
    if not text:
        return ()
    pairs = re.split(r"\s+and\s+", text)
    if len(pairs) > 1 and all(p.count(",") == 1 and not p.rstrip().endswith(",") for p in pairs):
        return tuple(p.strip() for p in pairs if p.strip())
    parts = [p.strip() for p in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", text) if p.strip()]
    names: list[str] = []
    for part in parts:
        if names and SUFFIX.fullmatch(part):  # `Martin Luther King, Jr.` is one name
            names[-1] += ", " + part
        else:
            names.append(part)
    return tuple(names)


SUFFIX = re.compile(r"(?:Jr|Sr)\.?|I{2,3}|IV", re.IGNORECASE)


NAME = re.compile(r"^(?:[A-Z][\w'’\-]*\.?|[a-z]{1,3})(?:\s+(?:[A-Z][\w'’\-]*\.?|(?:van|von|der|den|de|di|da|du|la|le)))*$")


def author_list_end(text: str) -> int | None:
    """Where a plain-text author list at the start of `text` ends (`Jared Kaplan, Sam McCandlish`,
    `Ann Lee and Bob Ray. ICLR`), or None when the text does not read as two or more names:
    lists that write authors without italics would otherwise have them taken for a venue."""
    cut = re.search(r"(?<=[^\W\d_]{2})\.(?:\s|$)", text)
    head = text[: cut.start()] if cut else text
    names = [n for n in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*", head.strip()) if n]
    if names and re.fullmatch(r"et al\.?", names[-1]):
        names = names[:-1] + ["X Y"]
    if len(names) < 2 or any(re.search(r"\d", n) or not NAME.match(n) or len(n.split()) > 5 or n[:1].islower() for n in names):
        return None
    return len(text) - len(text.lstrip()) + len(head.strip())


def looks_like_venue(text: str) -> bool:
    """`NeurIPS 2020`, `Findings of ACL`, `IEEE Transactions on ...`: a short name whose longer words
    are capitalised, as venues are written; a description under an entry (`A short summary of the
    paper.`) is a sentence and is not one."""
    words = re.findall(r"[^\W\d_][\w'’\-]*", text)
    return 0 < len(words) <= 10 and all(any(c.isupper() for c in w) for w in words if len(w) >= 4)


def _notes(raw: str, fields: list[Span], start: int, last: int) -> list[Span]:
    """Text that opens one of the item's later lines, before its last field, and is no field: a
    description or note under the title, which a patch must not copy."""
    claimed = bytearray(len(raw))
    for a, b in fields:
        claimed[a:b] = b"\x01" * (b - a)
    notes: list[Span] = []
    for line in re.finditer(r"\n[ \t]*", raw[:last]):
        a = b = line.end()
        while b < len(raw) and raw[b] not in "\r\n" and not claimed[b]:
            b += 1
        if line.start() >= start and re.search(r"[^\W\d_]", raw[a:b]):
            notes.append((a, b))
    return notes


@dataclass
class Item:
    """What one list item (or `**Title**` paragraph) says, with spans into its raw text."""

    title: str = ""
    title_span: Span | None = None
    prefix_span: Span | None = None
    shape: str = "plain"  # "bold", "link-title" or "plain"
    authors: tuple[str, ...] = ()
    authors_span: Span | None = None
    venue: str | None = None
    venue_span: Span | None = None
    venue_is_code: bool = False
    year: int | None = None
    year_span: Span | None = None
    date_span: Span | None = None
    links: list[tuple[Link, Span, Span]] = field(default_factory=list)  # link, its span, span with [..] wrapper
    tail_span: Span | None = None
    note_spans: list[Span] = field(default_factory=list)  # descriptions on later lines, see _notes
    navigation: bool = False
    quoted_id: str | None = None  # an arXiv id written in the text, outside links

    @property
    def arxiv_id(self) -> str | None:
        for link, _, _ in self.links:
            found = arxiv_id(link.url)
            if found:
                return found
        return self.quoted_id

    @property
    def is_entry(self) -> bool:
        if self.navigation or not re.search(r"[^\W\d_]", self.title):
            return False
        if self.shape == "plain" and (self.tail_span or not self.links):
            return False
        return bool(self.links) or (self.shape == "bold" and (bool(self.authors) or self.year is not None))


def _mask(raw: str, spans: list[Span]) -> str:
    chars = list(raw)
    for a, b in spans:
        for i in range(max(a, 0), min(b, len(chars))):
            if chars[i] not in "\r\n":
                chars[i] = " "
    return "".join(chars)


def _strip_title(text: str) -> str:
    text = clean(text).strip()
    if len(text) >= 2 and text[0] in "\"“" and text[-1] in "\"”":
        text = text[1:-1].strip()
    return strip_period(text).rstrip()


def _group(bold: re.Match[str]) -> str:
    """The BOLD group that matched: `**text**` or `__text__`."""
    return "in" if bold.group("in") is not None else "in2"


def _starts_with_title_link(raw: str, start: int, item: Item) -> bool:
    """`- [Title](url)`: the content opens with an unwrapped link whose label is not `PDF`/`Code`."""
    if not item.links:
        return False
    link, span, wrapped = item.links[0]
    first_text = start + len(raw[start:]) - len(raw[start:].lstrip())
    return span[0] == first_text and span == wrapped and link.label.lower() not in LINK_WORDS


def read_item(raw: str, start: int) -> Item:
    """Fields of the item whose content begins at `raw[start:]` (after the list marker)."""
    item = Item()
    all_links = [m for m in LINK.finditer(raw, start)]
    anchors = [m for m in all_links if m.group("url").startswith("#")]
    real = [m for m in all_links if not m.group("url").startswith("#")]
    if anchors and not real:
        item.navigation = True
        return item
    for m in real:
        a, b = m.span()
        wa, wb = (a - 1, b + 1) if a > start and raw[a - 1] == "[" and raw[b : b + 1] == "]" else (a, b)
        item.links.append((Link(label=clean(m.group("label")), url=m.group("url")), (a, b), (wa, wb)))
    quoted = ARXIV_TEXT.search(_mask(raw, [w for _, _, w in item.links]), start)
    item.quoted_id = quoted.group(1) if quoted else None
    line_end = raw.find("\n", start)
    line_end = len(raw) if line_end < 0 else line_end
    first_link = item.links[0][2][0] if item.links else len(raw)

    bold = BOLD.search(raw, start, line_end)
    bold_link = bold is not None and bool(item.links) and item.links[0][1] == bold.span(_group(bold))
    if bold and bold.start() < first_link and not bold_link:
        item.shape, item.title_span = "bold", bold.span(_group(bold))
        item.title = _strip_title(bold.group(_group(bold)))
        if raw[start : bold.start()].strip():
            item.prefix_span = (start, bold.start())
        after = bold.end()
    elif bold_link or _starts_with_title_link(raw, start, item):  # `[Title](url)`, `**[Title](url)**`, `[**Title**](url)`
        _, (a, b), _ = item.links[0]
        item.shape, item.title_span = "link-title", (a + 1, a + 1 + len(raw[a + 1 :].split("](", 1)[0]))
        inner = BOLD.fullmatch(raw, *item.title_span)
        if inner:
            item.title_span = inner.span(_group(inner))
        item.title = _strip_title(raw[slice(*item.title_span)])
        after = bold.end() if bold_link else b
    else:
        stop = min(first_link, len(raw))
        text_start = start
        lead = LEAD_PAREN.match(raw, start, stop)
        if lead:
            item.prefix_span = (start, lead.end())
            text_start = lead.end()
            venue = YEAR.sub("", lead.group("in").split(",")[0]).strip(" .,;")
            if venue:
                item.venue = venue
        segment = raw[text_start:stop]
        title = segment.strip()
        if not item.links:
            title = raw[text_start:line_end].strip()
        title = title.rstrip(" \t-–—:|,")
        if title and "\n\n" not in title.replace("\r", "") and not SENTENCE_BREAK.search(title):
            ta = raw.index(title, text_start)
            item.title_span = (ta, ta + len(title))
            item.title = _strip_title(title)
        after = item.title_span[1] if item.title_span else start

    masked_spans: list[Span] = [s for _, _, s in item.links]
    if item.title_span:
        masked_spans.append(item.title_span)
    first_link_after = next((w[0] for _, _, w in item.links if w[0] >= after), len(raw))

    italic = ITALIC.search(raw, after, first_link_after)
    if italic:
        group = "in" if italic.group("in") is not None else "in2"
        item.authors_span = italic.span(group)
        item.authors = split_authors(italic.group(group))
        masked_spans.append(italic.span())
        after_authors = italic.end()
    else:
        after_authors = after

    code = CODE.search(raw, after, first_link_after if item.links else len(raw))
    if code:
        item.venue, item.venue_span, item.venue_is_code = clean(code.group("in")), code.span("in"), True
        masked_spans.append(code.span())
    masked = _mask(raw, masked_spans)

    date = DATE.search(masked, after)
    if date:
        item.year, item.date_span = int(date.group(1)), date.span()
    else:
        years = list(YEAR.finditer(masked, after))
        if years:
            item.year, item.year_span = int(years[-1].group(1)), years[-1].span()
    if item.venue is None and item.shape != "plain":
        segment_end = first_link_after if item.links else len(raw)
        seg = _mask(masked, [s for s in (item.year_span, item.date_span) if s])[after_authors:segment_end]
        m = VENUE_RUN.search(seg)
        names_end = author_list_end(m.group()) if m and item.authors_span is None else None
        if m and names_end is not None:
            a = after_authors + m.start()
            item.authors_span, item.authors = (a, a + names_end), split_authors(m.group()[:names_end])
            after_authors = a + names_end
            seg = seg[m.start() + names_end :]
            m = VENUE_RUN.search(seg)
        own_line = m is not None and "\n" in seg[: m.start()]
        if m and len(m.group()) <= 80 and "(" not in m.group()[:1] and (not own_line or looks_like_venue(m.group())):
            item.venue = " ".join(m.group().split())
            item.venue_span = (after_authors + m.start(), after_authors + m.end())
    spans = [s for s in (item.prefix_span, item.title_span, item.authors_span, item.venue_span, item.year_span, item.date_span) if s]
    spans += [w for _, _, w in item.links]
    last = max((b for _, b in spans), default=start)
    item.note_spans = _notes(raw, spans, start, last)
    last += len(raw[last:]) - len(raw[last:].lstrip(".,;:"))  # the period closing the entry is not its tail
    rest = raw[last:].rstrip()
    if re.search(r"[^\W\d_]", rest):
        item.tail_span = (last, last + len(rest))
    return item
