"""The digest: which papers to report and how they read, as plain data rendered by
Jinja2 templates a maintainer can edit. No I/O here beyond reading templates.

Templates live in tracker/templates/; files of the same name in the config's
`[templates] path` folder override them one by one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from rich.cells import cell_len
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape

from tracker.config import SectionConfig
from tracker.errors import ConfigError, TrackerError
from tracker.models import WorkLink, display_safe
from tracker.deliver.rank import priority
from tracker.store.deliveries import Candidate
from tracker.timeutil import utc
from tracker.links.match import NAMED, describe

PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7)}
ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "etc.", "vs.", "cf.", "Fig.", "Eq.", "Sec.", "approx.", "resp.")
SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z0-9(\"'“\[])")
MAX_SENTENCE = 400


@dataclass(frozen=True)
class DigestEntry:
    number: int
    id: str
    title: str
    url: str
    authors: str
    terms: tuple[str, ...]
    links: tuple[str, ...]
    first_sentence: str
    section: str
    score: float
    priority: float
    learned: tuple[str, ...] = ()  # the learned score's strongest words, for a paper it filed alone


@dataclass(frozen=True)
class DigestSection:
    id: str
    heading: str
    entries: tuple[DigestEntry, ...]


@dataclass(frozen=True)
class Digest:
    period: str
    start: datetime
    end: datetime
    sections: tuple[DigestSection, ...]
    overflow: tuple[str, ...] = ()
    max_papers: int = 0
    weekly_email: bool = True

    @property
    def more(self) -> int:
        """Papers held back by `digest.max_papers` (they go to the weekly email)."""
        return len(self.overflow)

    @property
    def overflow_note(self) -> str:
        """The line a capped digest carries, so nothing is left out silently."""
        if not self.more:
            return ""
        where = "go to the weekly email" if self.weekly_email else "are not sent: no [email] table for a weekly email"
        return (f"{self.count} of {self.count + self.more}, highest priority first: {self.more} more over the daily cap "
                f"of {self.max_papers} (digest.max_papers) {where}.")

    @property
    def entries(self) -> tuple[DigestEntry, ...]:
        return tuple(e for s in self.sections for e in s.entries)

    @property
    def paper_ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.entries)

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def label(self) -> str:
        last = (self.end - timedelta(seconds=1)).date()
        first = self.start.date()
        return last.isoformat() if first >= last else f"{first.isoformat()} – {last.isoformat()}"


@dataclass(frozen=True)
class SectionCount:
    """A section's papers this period; `previous` is None when there is no earlier period to compare with."""

    id: str
    heading: str
    count: int
    previous: int | None

    @property
    def label(self) -> str:
        return f"{self.heading} ({self.id})"

    @property
    def change(self) -> str | None:
        if self.previous is None:
            return None
        delta = self.count - self.previous
        return f"+{delta}" if delta > 0 else ("±0" if delta == 0 else str(delta))


@dataclass(frozen=True)
class DecidedPaper:
    id: str
    title: str
    decision: str
    section: str | None
    decided_by: str


@dataclass(frozen=True)
class WeeklySummary:
    counts: tuple[SectionCount, ...]
    accepted: tuple[DecidedPaper, ...]
    rejected: tuple[DecidedPaper, ...]

    @property
    def total(self) -> int:
        return sum(c.count for c in self.counts)

    @property
    def compared(self) -> bool:
        return all(c.previous is not None for c in self.counts)

    @property
    def previous_total(self) -> int | None:
        return sum(c.previous or 0 for c in self.counts) if self.compared else None

    @property
    def label_width(self) -> int:
        """Terminal cells of the widest row label (CJK headings take two per character)."""
        return max([cell_len("Total"), *(cell_len(c.label) for c in self.counts)])

    @property
    def count_width(self) -> int:
        return max(4, len(str(self.total)))


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def window(period: str, now: datetime, since: str | None = None) -> tuple[datetime, datetime]:
    """[now - period, now), stretched back to `since` (the last digest's end) so a missed
    run never skips papers."""
    if period not in PERIODS:
        raise TrackerError(f"unknown period {period!r} (expected one of {', '.join(PERIODS)})")
    end = utc(now)
    start = end - PERIODS[period]
    if since:
        start = min(start, utc(datetime.fromisoformat(since)))
    return start, end


def short_authors(authors: Sequence[str], keep: int = 3) -> str:
    names = [" ".join(a.split()) for a in authors if a.strip()]
    return ", ".join(names[:keep]) + (" et al." if len(names) > keep else "")


def first_sentence(abstract: str) -> str:
    """The abstract's first sentence, not fooled by "e.g." or "et al."; capped for chat use."""
    text = " ".join(abstract.split())
    for m in SENTENCE_END.finditer(text):
        head = text[: m.end()]
        if not any(head.endswith(a) for a in ABBREVIATIONS) and not re.search(r"\b[A-Z]\.$", head):
            text = head
            break
    return text if len(text) <= MAX_SENTENCE else text[: MAX_SENTENCE - 1].rstrip() + "…"


def link_labels(links: Iterable[WorkLink]) -> tuple[str, ...]:
    """`extends: Mamba (2312.00752)`, `mentions: RedPajama`, `cites: LLaMA (2302.13971)`; a cited
    work is not also listed as named."""

    links = list(links)
    cited = {l.work_id for l in links if l.kind == "cites"}
    ordered = sorted(links, key=lambda l: (l.kind not in NAMED, l.kind != "extends", l.work_id))
    return tuple(dict.fromkeys(describe(l) for l in ordered if not (l.kind in NAMED and l.work_id in cited)))


def _by_priority(item: tuple[float, float, Candidate]) -> tuple[float, float, str]:
    return (-item[0], -item[1], item[2].paper.id)



def distinct_words(words: Iterable[str]) -> tuple[str, ...]:
    """Each matched word once, as first seen: "Attention" in the title and "attention" in the
    abstract are one piece of evidence to the reader."""
    seen: dict[str, str] = {}
    for word in words:
        seen.setdefault(word.casefold(), word)
    return tuple(seen.values())

def build_digest(
    candidates: Iterable[Candidate], sections: Sequence[SectionConfig], period: str, start: datetime, end: datetime,
    max_papers: int = 0,
) -> Digest:
    """Each paper once, in its best section; sections in config order, best first.

    With `max_papers` > 0, only that many papers, the highest priorities across all
    sections, are shown; the others are the digest's `overflow` (their ids)."""
    order = {s.id: i for i, s in enumerate(sections)}
    headings = {s.id: s.heading for s in sections}
    # sections the config no longer has (stored before a rule change) are not shown
    candidates = [replace(c, scores=tuple(s for s in c.scores if s.section in order)) for c in candidates]
    ranked = sorted(((priority(c.scores[0].score, c.links, c.scores[0].relevance), c.scores[0].score, c) for c in candidates if c.scores), key=_by_priority)
    shown, held = (ranked[:max_papers], ranked[max_papers:]) if max_papers > 0 else (ranked, [])
    grouped: dict[str, list[tuple[float, float, Candidate]]] = {}
    for item in shown:
        grouped.setdefault(item[2].scores[0].section, []).append(item)
    number = 0
    out = []
    for sid in sorted(grouped, key=lambda s: (order.get(s, len(order)), s)):
        entries = []
        for prio, score, c in grouped[sid]:
            number += 1
            p = c.paper
            entries.append(
                DigestEntry(
                    number=number,
                    id=p.id,
                    title=" ".join(p.title.split()),
                    url=p.abs_url,
                    authors=short_authors(p.authors),
                    terms=distinct_words(m.shown for m in c.scores[0].matches if not m.learned),
                    learned=distinct_words(m.shown for m in c.scores[0].matches if m.learned),
                    links=link_labels(c.links),
                    first_sentence=first_sentence(p.abstract),
                    section=sid,
                    score=score,
                    priority=prio,
                )
            )
        out.append(DigestSection(sid, headings.get(sid, sid), tuple(entries)))
    return Digest(period, start, end, tuple(out), tuple(c.paper.id for _p, _s, c in held), max(max_papers, 0))


def weekly_summary(
    sections: Sequence[SectionConfig],
    counts: Mapping[str, int],
    previous: Mapping[str, int] | None,
    decisions: Iterable[Mapping[str, Any]],
) -> WeeklySummary:
    """Per-section counts against the previous week (None: no previous week to compare), and the week's decisions."""
    before = previous or {}
    ids = [s.id for s in sections] + sorted((set(counts) | set(before)) - {s.id for s in sections})
    headings = {s.id: s.heading for s in sections}
    rows = tuple(
        SectionCount(i, headings.get(i, i), counts.get(i, 0), None if previous is None else before.get(i, 0)) for i in ids
    )
    decided = [
        DecidedPaper(d["paper_id"], " ".join(display_safe(str(d["title"])).split()), d["decision"], d.get("section"), str(d.get("decided_by") or ""))
        for d in decisions
    ]
    return WeeklySummary(
        rows,
        tuple(d for d in decided if d.decision in ("accept", "move")),
        tuple(d for d in decided if d.decision == "reject"),
    )


def environment(templates_dir: Path | None = None) -> Environment:
    """Packaged templates, overridden file by file from `templates_dir`; HTML ones autoescape."""
    loaders: list[Any] = []
    if templates_dir is not None:
        if not templates_dir.is_dir():
            raise ConfigError(f"templates.path: {templates_dir} is not a folder")
        loaders.append(FileSystemLoader(str(templates_dir)))
    loaders.append(PackageLoader("tracker", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=StrictUndefined,
    )
    env.filters["pad"] = pad
    return env


def pad(text: str, width: int) -> str:
    """`text` left-aligned in `width` terminal cells, so columns after it line up in plain text."""
    return text + " " * max(0, width - cell_len(text))


def one_line(text: str, limit: int = 200) -> str:
    """Collapse every line break and control character: safe for a mail header."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def render_email(digest: Digest, summary: WeeklySummary, env: Environment) -> RenderedEmail:
    values = {"digest": digest, "summary": summary, "top": digest.entries[0] if digest.entries else None}
    return RenderedEmail(
        subject=one_line(env.get_template("email_subject.txt.j2").render(**values)),
        text=env.get_template("email.txt.j2").render(**values).strip() + "\n",
        html=env.get_template("email.html.j2").render(**values),
    )


def render_stdout(digest: Digest, env: Environment) -> str:
    return env.get_template("stdout.txt.j2").render(digest=digest).rstrip() + "\n"
