"""Plain data shared by every stage; stages hand these to each other, never their internals."""

from __future__ import annotations

import dataclasses
import gzip
import io
import re
import sys
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Protocol, TextIO

from tracker import jsonl
from tracker.errors import InputError
from tracker.fsutil import read_failure

ARXIV_NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(?:v(\d+))?$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:$|[T ])")
ARXIV_OLD_ID = re.compile(r"^([a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?$")
# Bidirectional embeddings, overrides, isolates and marks, and zero-width characters:
# invisible, yet they can reverse or hide text in a chat, an email, a survey or a commit.
HIDDEN_CHARACTERS = dict.fromkeys(
    [0x061C, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2060, 0x2065),
     *range(0x2066, 0x206A), 0xFEFF]
)


def display_safe(text: str) -> str:
    """`text` without bidi controls and zero-width characters (see HIDDEN_CHARACTERS).
    ASCII text has none of them, and is by far the most common case (every author name)."""
    return text if text.isascii() else text.translate(HIDDEN_CHARACTERS)


def split_arxiv_id(raw: str) -> tuple[str, int | None] | None:
    """`2401.01234v3` -> ("2401.01234", 3); old style `hep-th/9901001` too; None if not an id."""
    raw = raw.strip()
    for pattern in (ARXIV_NEW_ID, ARXIV_OLD_ID):
        m = pattern.match(raw)
        if m:
            return m.group(1), int(m.group(2)) if m.group(2) else None
    return None


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Entry:
    """One listed work of a survey. `line` is 1-based; `end_line` is its last line."""

    number: int | None
    title: str
    authors: tuple[str, ...]
    venue: str | None
    year: int | None
    links: tuple[Link, ...]
    arxiv_id: str | None
    line: int
    end_line: int

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "authors": list(self.authors),
            "venue": self.venue,
            "year": self.year,
            "links": [asdict(link) for link in self.links],
            "arxiv_id": self.arxiv_id,
            "line": self.line,
        }


@dataclass(frozen=True)
class Section:
    """A heading of the survey with the entries directly under it."""

    id: str
    heading: str
    level: int
    line: int
    entries: tuple[Entry, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "heading": self.heading,
            "level": self.level,
            "line": self.line,
            "entries": [e.to_json() for e in self.entries],
        }


@dataclass(frozen=True)
class Skipped:
    line: int
    text: str


@dataclass(frozen=True)
class Paper:
    """A paper in the PAPERS.jsonl shape of DESIGN.md; `id` never carries a version."""

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published: str = ""
    version: int | None = None
    updated: str | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    section: str | None = None
    primary_category: str | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        """Every paper enters through here (sources, store, PAPERS.jsonl), so titles and
        authors are display-safe wherever they are written later."""
        object.__setattr__(self, "title", display_safe(self.title))
        object.__setattr__(self, "authors", tuple(display_safe(a) for a in self.authors))

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def year(self) -> int | None:
        return int(self.published[:4]) if self.published[:4].isdigit() else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "abstract": self.abstract,
            "authors": list(self.authors),
            "categories": list(self.categories),
            "published": self.published,
        }
        for key in ("version", "updated", "comment", "journal_ref", "doi", "section", "primary_category"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, obj: Any, where: str = "input") -> "Paper":
        """Validate one PAPERS.jsonl object; errors name `where` (file:line) and the field."""
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        raw_id = obj.get("id")
        if not isinstance(raw_id, str) or not raw_id.strip():
            raise InputError(f"{where}: field 'id' is missing or not a string")
        split = split_arxiv_id(raw_id.removeprefix("arXiv:").removeprefix("arxiv:"))
        paper_id, version = split if split else (raw_id.strip(), None)
        title = obj.get("title")
        if not isinstance(title, str) or not title.strip():
            raise InputError(f"{where}: field 'title' is missing or not a string")

        get = obj.get
        for key in _TEXT_FIELDS:
            value = get(key)
            if value is not None and not isinstance(value, str):
                raise InputError(f"{where}: field '{key}' must be a string")
        published = get("published") or ""
        if published and not ISO_DATE.match(published):
            raise InputError(f"{where}: field 'published' must be an ISO date like 2025-01-31, got {published[:40]!r}")
        authors, categories = _strings(get("authors", []), "authors", where), _strings(get("categories", []), "categories", where)
        raw_version = get("version", version)
        if isinstance(raw_version, str) and raw_version.lstrip("v").isdigit():
            raw_version = int(raw_version.lstrip("v"))
        if raw_version is not None and (not isinstance(raw_version, int) or isinstance(raw_version, bool)):
            raise InputError(f"{where}: field 'version' must be an integer")
        return cls(
            id=paper_id,
            title=title,
            abstract=get("abstract") or "",
            authors=authors,
            categories=categories,
            published=published,
            version=raw_version,
            updated=get("updated"),
            comment=get("comment"),
            journal_ref=get("journal_ref"),
            doi=get("doi"),
            section=get("section"),
            primary_category=get("primary_category"),
            source=get("source"),
            extra={k: v for k, v in obj.items() if k not in _PAPER_FIELDS},
        )


_TEXT_FIELDS = ("abstract", "published", "updated", "comment", "journal_ref", "doi", "section", "primary_category", "source")
_PAPER_FIELDS = frozenset(f for f in Paper.__dataclass_fields__ if f != "extra")


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    """A list of strings (one string reads as a list of one)."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: field '{key}' must be a list of strings")
    return tuple(value)


def _lines(raw: Any, name: str) -> Iterator[bytes]:
    """Binary lines; a corrupt or truncated gzip stream is an InputError naming the file."""
    while True:
        try:
            data = raw.readline()
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{name}: cannot read the compressed input ({exc or type(exc).__name__})") from None
        if not data:
            return
        yield data


_CR_ONLY = re.compile(r"(?<=\r)(?!\n)(?=.)", re.S)


def numbered_lines(stream: TextIO, name: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of a text stream; a leading UTF-8 BOM is dropped and
    undecodable bytes raise InputError naming `name:line` instead of UnicodeDecodeError.
    A file's binary buffer is read line by line, so the line number is exact."""
    raw = getattr(stream, "buffer", None)
    if raw is None:
        for number, line in enumerate(stream, 1):
            yield number, line.lstrip("\ufeff") if number == 1 else line
        return
    number = 0
    for data in _lines(raw, name):
        try:
            line = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}:{number + 1}: not valid UTF-8 ({exc.reason} at byte {exc.start + 1} of the line)") from None
        # old-Mac line ends, as text mode's universal newlines read them (rare: test before splitting)
        for part in _CR_ONLY.split(line) if "\r" in line else (line,):
            number += 1
            yield number, part.lstrip("\ufeff") if number == 1 else part


def open_input(path: str, kind: str = "input") -> TextIO:
    """A PAPERS.jsonl file (or `-` for stdin) as a text stream, gunzipped on the fly when
    it starts with gzip's magic bytes, whatever its name. Streaming: memory stays flat."""
    if path == "-":
        raw = getattr(sys.stdin, "buffer", None)
        if raw is None or not hasattr(raw, "peek") or raw.peek(2)[:2] != b"\x1f\x8b":
            return sys.stdin  # never wrapped: closing a wrapper would close the process's stdin
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw, mode="rb"), encoding="utf-8")
    try:
        raw = open(path, "rb")  # noqa: SIM115 (the stream is returned)
    except OSError as exc:
        raise InputError(read_failure(path, kind, exc)) from None
    if raw.peek(2)[:2] == b"\x1f\x8b":
        raw.close()
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return io.TextIOWrapper(raw, encoding="utf-8")


def read_papers(stream: TextIO, name: str) -> Iterator[Paper]:
    """Stream PAPERS.jsonl; a bad line raises InputError naming `name:line`."""
    for number, line in numbered_lines(stream, name):
        if not line.strip():
            continue
        yield Paper.from_json(jsonl.loads_line(line, f"{name}:{number}"), f"{name}:{number}")


def dump_papers(papers: Iterable[Paper]) -> str:
    return "".join(jsonl.dumps(p.to_json()) + "\n" for p in papers)


# The `term` of a match that is a learned word, not a rule's: a paper the learned score filed.
LEARNED = "(learned)"


@dataclass(frozen=True)
class Match:
    """Why a paper landed in a section: which rule spelling (`term`, config syntax)
    hit which field, and the paper's own words that it hit (`text`, as written)."""

    term: str
    field: str
    text: str = ""

    @property
    def shown(self) -> str:
        """What a reader sees: the paper's words; results stored before `text` existed
        show the spelling without its wildcards."""
        return self.text or self.term.strip("*")

    @property
    def learned(self) -> bool:
        return self.term == LEARNED

    def to_json(self) -> dict[str, str]:
        return {"term": self.term, "field": self.field, "text": self.shown}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Match":
        return cls(str(obj.get("term", "")), str(obj.get("field", "")), str(obj.get("text") or ""))


@dataclass(frozen=True)
class SectionScore:
    """`relevance`: the learned score (0-1) that kept the paper, when a `[relevance]` model is configured."""

    section: str
    heading: str
    score: float
    matches: tuple[Match, ...]
    relevance: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "section": self.section,
            "heading": self.heading,
            "score": round(self.score, 4),
            "matches": [m.to_json() for m in self.matches],
        }
        if self.relevance is not None:
            out["relevance"] = round(self.relevance, 4)
        return out


@dataclass(frozen=True)
class WorkLink:
    """A new paper's tie to a listed work: kind is "mentions" (names it), "extends" (names it
    with words that say it builds on it) or "cites" (citation data)."""

    paper_id: str
    work_id: str
    kind: str
    where: str = ""
    work_title: str = ""

    def to_json(self) -> dict[str, Any]:
        """The one JSON shape of a link (export, explain)."""
        return {"work_id": self.work_id, "kind": self.kind, "where": self.where, "work_title": self.work_title}


# How a listed work got its arXiv id (the `works.resolved_by` column).
SURVEY_LINK, TITLE_SEARCH, FROM_CONFIG, UNRESOLVED, PENDING = (
    "survey-link", "arxiv-title-search", "config", "unresolved", "pending")


@dataclass(frozen=True)
class Work:
    """One listed work. `id` is its arXiv id when known, else `title:<normalised title>`."""

    id: str
    title: str
    arxiv_id: str | None
    year: int | None
    section: str
    aliases: tuple[str, ...] = ()
    resolved_by: str = SURVEY_LINK
    strengths: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        """The short name shown in digests: its first alias that is not the title, else the title."""
        title = self.title.strip().rstrip(".")
        return next((a for a in self.aliases if a != title), title)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "arxiv_id": self.arxiv_id, "year": self.year,
                "section": self.section, "aliases": list(self.aliases), "resolved_by": self.resolved_by}


FIELD_LIMITS = {"title": 1_000, "abstract": 20_000, "comment": 2_000, "journal_ref": 1_000, "doi": 200}
AUTHOR_LIMIT, AUTHORS_LIMIT = 300, 5_000


def cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with a mark that says it was cut and from what."""
    if len(text) <= limit:
        return text
    mark = f" … [cut: {len(text):,} characters]"
    return text[: max(0, limit - len(mark))] + mark


def capped(paper: Paper) -> Paper:
    """The paper with every stored text field within FIELD_LIMITS (and the author list
    within AUTHORS_LIMIT names of AUTHOR_LIMIT characters): a feed with a megabyte
    abstract must not become a megabyte row, nor a megabyte classifier input."""
    changes: dict[str, Any] = {}
    for name, limit in FIELD_LIMITS.items():
        value = getattr(paper, name)
        if isinstance(value, str) and len(value) > limit:
            changes[name] = cut(value, limit)
    if len(paper.authors) > AUTHORS_LIMIT or any(len(a) > AUTHOR_LIMIT for a in paper.authors):
        authors = [cut(a, AUTHOR_LIMIT) for a in paper.authors[:AUTHORS_LIMIT]]
        if len(paper.authors) > AUTHORS_LIMIT:
            authors.append(f"[cut: {len(paper.authors):,} authors]")
        changes["authors"] = tuple(authors)
    return dataclasses.replace(paper, **changes) if changes else paper


class StageReport(Protocol):
    """What every stage (poll, digest, email, propose) returns; the runner and `status`
    read nothing else: `ok`, the counts worth a log line, why it failed, its JSON."""

    @property
    def ok(self) -> bool: ...

    def counts(self) -> dict[str, int]: ...

    def errors(self) -> list[str]: ...

    def to_json(self) -> dict[str, Any]: ...
