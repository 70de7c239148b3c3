"""Wiring for learning rules: the known papers (list entries with their abstracts, labeled
files, decisions) and the background, gathered from the store, the survey and the API."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

from tracker.classify.background import bundled_background, read_papers_file
from tracker.classify.evaluate import norm_label, read_labeled
from tracker.classify.gate import Bars, choose_bars
from tracker.classify.learned import Example, LearnedModel, fit, out_of_fold
from tracker.classify.matcher import Classifier
from tracker.classify.tune import Decided
from tracker.config import ArxivConfig, Config, RelevanceConfig
from tracker.errors import InputError
from tracker.models import Paper, open_input
from tracker.sources import Http
from tracker.sources.arxiv_api import fetch_ids, http_for
from tracker.store.learning import NumberedDecision, cached_abstracts, decisions_after, save_abstracts, top_sections
from tracker.store.papers import iter_papers, papers_by_id
from tracker.survey.init import entry_papers
from tracker.survey.headings import survey_section
from tracker.survey.parse import Survey

Database = Any  # a store handle from tracker.store.open_store
MIN_STORED_BACKGROUND = 200  # fewer stored papers than this: the bundled sample joins them
FOLDS = 5  # out-of-fold scores for choosing the bars: each paper scored by a model fitted on 4/5 of the others


@dataclass
class Known:
    """Papers known to belong to each section, where they came from, and known negatives."""

    positives: dict[str, list[Paper]] = field(default_factory=dict)
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    negatives: list[Paper] = field(default_factory=list)

    def add(self, section: str, paper: Paper, source: str) -> None:
        papers = self.positives.setdefault(section, [])
        if all(p.id != paper.id for p in papers):
            papers.append(paper)
            counts = self.sources.setdefault(section, {})
            counts[source] = counts.get(source, 0) + 1


def entry_abstracts(db: Database, cfg: ArxivConfig, ids: Sequence[str], http: Http | None = None) -> tuple[dict[str, str], int]:
    """Abstracts of the list's entries by arXiv id: from the store, else fetched in batches of
    100 ids (with the configured delay between requests) and stored, so each id is asked once.
    Returns the abstracts and the number of requests made."""
    wanted = list(dict.fromkeys(i for i in ids if i))
    known = cached_abstracts(db, wanted)
    todo = [i for i in wanted if i not in known]
    if not todo:
        return known, 0
    own = http is None
    http = http or http_for(cfg)
    try:
        papers = fetch_ids(cfg, todo, http)
        requests = http.requests
    finally:
        if own:
            http.close()
    asked = set(todo)
    found = {p.id: (p.title, p.abstract) for p in papers if p.id in asked}
    save_abstracts(db, found, todo)
    known.update({i: found[i][1] if i in found else "" for i in todo})
    return known, requests


def survey_sections(config: Config, survey: Survey) -> dict[str, str]:
    """Config section id -> survey section id, matched by heading (see `survey_section`)."""
    found = {s.id: survey_section(survey, s.id, s.heading) for s in config.sections}
    return {sid: section.id for sid, section in found.items() if section is not None}


def add_entries(known: Known, config: Config, survey: Survey, abstracts: dict[str, str]) -> None:
    mapping = survey_sections(config, survey)
    by_id = {s.id: s for s in survey.sections}
    for sid, survey_id in mapping.items():
        for paper in entry_papers(by_id[survey_id], abstracts):
            known.add(sid, paper, "list")


def add_labeled(known: Known, config: Config, path: Path) -> None:
    """Labeled papers (`tracker eval`'s format): curated `sections`, or judged lines whose
    `verdict` no (or an empty label list) makes a negative."""
    ids = {norm_label(s.id): s.id for s in config.sections}
    with open_input(str(path), "labeled") as stream:
        items = list(read_labeled(stream, str(path)))
    for item in items:
        if not item.labels:
            known.negatives.append(item.paper)
        for label in item.labels:
            if label in ids:
                known.add(ids[label], item.paper, "labeled")


def decided_papers(db: Database, after_id: int = 0) -> tuple[list[Decided], int]:
    """Decisions recorded after row `after_id` as positives/negatives, and the last row id read.
    An `accept` without a section counts for the section the paper was shown under."""
    numbered: list[NumberedDecision] = decisions_after(db, after_id)
    ids = [n.decision.paper_id for n in numbered]
    shown = top_sections(db, ids)
    papers = papers_by_id(db, ids)
    out = []
    for n in numbered:
        d = n.decision
        paper = papers.get(d.paper_id)
        if paper is None:
            continue
        where = shown.get(d.paper_id)
        if d.decision == "reject":
            out.append(Decided(paper, None, where))
        elif d.section or where:
            out.append(Decided(paper, d.section if d.decision == "move" else (d.section or where), where))
    return out, max((n.row_id for n in numbered), default=after_id)


def add_decisions(known: Known, db: Database) -> None:
    decided, _ = decided_papers(db)
    for d in decided:
        if d.section:
            known.add(d.section, d.paper, "decided")
        else:
            known.negatives.append(d.paper)


def background_papers(db: Database | None, path: Path | None = None) -> tuple[list[Paper], str]:
    """The background and a word on where it came from: a listings file when given, else
    the stored papers, topped up with the bundled sample while there are few."""
    if path is not None:
        return read_papers_file(path), str(path)
    stored = list(iter_papers(db)) if db is not None else []
    if len(stored) >= MIN_STORED_BACKGROUND:
        return stored, f"{len(stored)} stored papers"
    bundled = bundled_background()
    ids = {p.id for p in stored}
    return stored + [p for p in bundled if p.id not in ids], (
        f"the bundled sample ({len(bundled)} papers)" + (f" and {len(stored)} stored papers" if stored else ""))


@dataclass(frozen=True)
class TrainReport:
    """What `tracker train` fitted, and the bars it chose on out-of-fold scores (None: too few papers)."""

    model: LearnedModel
    papers: int
    keep: int
    decisions: int
    bars: Bars | None
    fallbacks: tuple[str, ...]


def labeled_examples(paths: Sequence[str]) -> list[Example]:
    """Keep / leave-out examples from labeled files (a judged "no" or `[]` is leave-out)."""
    out: list[Example] = []
    for path in paths:
        with open_input(path, "labeled") as stream:
            out += [Example.of(l.paper, bool(l.labels)) for l in read_labeled(stream, path)]
    return out


def train_relevance(config: Config, examples: list[Example], decided: Sequence[Decided], target_precision: float) -> TrainReport:
    """Fit the weights on every example; pick the bars on scores each paper got from a model
    fitted without it, against the config's rules alone."""
    examples = examples + [Example.of(d.paper, d.section is not None) for d in decided]
    if not examples:
        raise InputError("nothing to learn from: give labeled papers with --input, or triage some papers first")
    model = fit(examples)
    keep = sum(e.keep for e in examples)
    fallbacks = frozenset(s.id for s in config.sections if s.rule.fallback)
    bars = None
    if min(keep, len(examples) - keep) >= FOLDS:
        rules = Classifier.from_config(replace(config, relevance=None))
        found = [[s.section for s in rules.classify_fields(e.title, e.abstract, e.comment, e.journal_ref)] for e in examples]
        own = {s.id: s.min_relevance for s in config.sections if s.min_relevance is not None and s.id not in fallbacks}
        bars = choose_bars(found, out_of_fold(examples, FOLDS), [e.keep for e in examples], fallbacks, own, target_precision)
    return TrainReport(model, len(examples), keep, len(decided), bars, tuple(s.id for s in config.sections if s.id in fallbacks))


def with_trained_gate(config: Config, report: TrainReport, bars: tuple[float, float, float] | None = None) -> Config:
    """`config` with the weights `train` fitted and its bars (or `bars`: with_rules, fallback,
    alone), applied as `train --write` would write them, without touching any file: what
    benchmarks measure."""
    if bars is None:
        assert report.bars is not None, "too few papers to choose bars"
        bars = (report.bars.with_rules, report.bars.fallback, report.bars.alone)
    with_rules, fallback, alone = bars
    gate = RelevanceConfig(path=Path("(fitted)"), model=report.model, with_rules=with_rules, alone=alone)
    sections = tuple(replace(s, min_relevance=fallback) if s.id in report.fallbacks else s for s in config.sections)
    return replace(config, relevance=gate, sections=sections)
