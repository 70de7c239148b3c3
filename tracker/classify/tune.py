"""Turn a maintainer's decisions into proposed rule changes, each with its measured effect.

Accepted and moved papers are positives for their section, rejected ones are
negatives for every section. Three kinds of change are tried, one at a time,
each kept only when it does not lower F1 on the decided papers (given the
changes kept before it):
- add: terms that set a section's positives apart from the background
  (`suggest`), held to the same background-share bar as `init`;
- exclude: terms common in the papers a section brought in and the maintainer
  rejected, and absent from the ones accepted there (a `not` term);
- drop: a section's own term that brought in only rejected papers.
Nothing is written here: the caller shows the changes and may apply them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

from tracker.classify.evaluate import f1
from tracker.classify.matcher import Classifier
from tracker.classify.suggest import MIN_HITS, stream_shares, suggest
from tracker.config import Config, Rule, SectionConfig
from tracker.models import Paper, SectionScore

MAX_ADDS = 10
MIN_EVIDENCE = 3  # decided papers a proposed term must be in: one day's decisions are few, two is an anecdote
MAX_EXCLUDES = 5
EXCLUDE_MAX_ACCEPTED_SHARE = 0.02  # an exclusion may hit at most this share of all accepted papers
# ... and of the stream's papers: with a handful of accepted papers the share above says
# little, and a word in half the stream (`task`) is no exclusion, whatever the rejects share
EXCLUDE_MAX_STREAM_SHARE = 0.1


@dataclass(frozen=True)
class Decided:
    """One decided paper: `section` is where it belongs (None when rejected) and
    `shown` the section it was offered under (for a rejection: which rule brought it)."""

    paper: Paper
    section: str | None
    shown: str | None = None


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    tp: int
    fp: int
    fn: int

    @property
    def f1(self) -> float:
        return f1(self.precision, self.recall)

    def to_json(self) -> dict:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
                "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass(frozen=True)
class RuleChange:
    """One edit of one section's rule: add or remove `terms` under `key` (any / not)."""

    section: str
    key: str
    action: str
    terms: tuple[str, ...]
    case_sensitive: tuple[str, ...] = ()
    reason: str = ""
    scope: bool = False
    before: Score | None = None
    after: Score | None = None

    def describe(self) -> str:
        verb = {"add": "add to", "remove": "remove from"}[self.action]
        also = " (and to [scope])" if self.scope else ""
        return f"{self.section}: {verb} {self.key}: {', '.join(self.terms)}{also}"

    def to_json(self) -> dict:
        return {"section": self.section, "key": self.key, "action": self.action, "terms": list(self.terms),
                "case_sensitive": list(self.case_sensitive), "reason": self.reason, "scope": self.scope,
                "before": self.before.to_json() if self.before else None,
                "after": self.after.to_json() if self.after else None}


@dataclass
class TuneReport:
    decided: int
    positives: int
    negatives: int
    before: Score
    after: Score
    changes: list[RuleChange] = field(default_factory=list)


def _terms(values: Iterable[object]) -> list[str]:
    return [str(v) for v in values]


def _with_terms(rule: Rule, key: str, action: str, terms: Sequence[str], exact: Sequence[str]) -> Rule:
    values = {"any": _terms(rule.any), "not": _terms(rule.not_)}
    cs = list(rule.case_sensitive)
    current = values[key]
    if action == "add":
        current += [t for t in terms if t not in current]
        cs += [t for t in exact if t not in cs]
    else:
        current = [t for t in current if t not in terms] or current
        cs = [t for t in cs if t not in terms or t in current]
    values[key] = current
    return replace(rule, any=tuple(values["any"]), not_=tuple(values["not"]), case_sensitive=tuple(cs))


def apply_changes(scope: Rule, sections: Sequence[SectionConfig], changes: Iterable[RuleChange]) -> tuple[Rule, list[SectionConfig]]:
    """The scope and sections with `changes` applied (as typed rules, the way the config loader builds them)."""
    out = {s.id: s for s in sections}
    for change in changes:
        s = out[change.section]
        out[change.section] = replace(s, rule=_with_terms(s.rule, change.key, change.action, change.terms, change.case_sensitive))
        if change.scope:
            scope = _with_terms(scope, "any", "add", change.terms, change.case_sensitive)
    return scope, [out[s.id] for s in sections]


def classifier_for(scope: Rule, sections: Sequence[SectionConfig]) -> Classifier:
    return Classifier(scope, ((s.id, s.heading, s.rule) for s in sections), where="tune")


def measure(classifier: Classifier, decided: Sequence[Decided]) -> Score:
    """Precision/recall of the primary section (the one the digest shows a paper under) over the
    decided papers: a hit is a paper shown under the section it was accepted or moved into."""
    tp = fp = fn = 0
    for d in decided:
        got = {s.section for s in classifier.classify(d.paper)[:1]}
        want = {d.section} if d.section else set()
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
    return Score(tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0, tp, fp, fn)


def tune(config: Config, decided: Sequence[Decided], background: Sequence[Paper]) -> TuneReport:
    """Propose changes from the decisions; `background` holds ordinary papers of the stream."""
    scope, sections = config.scope, list(config.sections)
    start = measure(classifier_for(scope, sections), decided)
    kept: list[RuleChange] = []
    current = start
    for change in _candidates(config, sections, decided, background):
        trial_scope, trial = apply_changes(scope, sections, [change])
        score = measure(classifier_for(trial_scope, trial), decided)
        widens = change.action == "add" and change.key == "any"
        if score.f1 < current.f1 or (score.f1 == current.f1 and not widens):
            continue  # an exclusion or a drop must earn its place on the decided papers
        if widens and score.precision < current.precision:
            continue
        kept.append(replace(change, before=current, after=score))
        scope, sections, current = trial_scope, trial, score
    positives = sum(1 for d in decided if d.section)
    return TuneReport(len(decided), positives, len(decided) - positives, start, current, kept)


def _candidates(config: Config, sections: Sequence[SectionConfig], decided: Sequence[Decided],
                background: Sequence[Paper]) -> list[RuleChange]:
    rejected = [d.paper for d in decided if d.section is None]
    positives = {s.id: [d.paper for d in decided if d.section == s.id] for s in sections}
    positives = {sid: ps for sid, ps in positives.items() if len(ps) >= MIN_HITS}
    out: list[RuleChange] = []
    scope_terms = set(_terms(config.scope.any))
    if positives:
        existing = {s.id: s.rule.any for s in sections}
        found = suggest(positives, list(background) + rejected, existing, max_terms=MAX_ADDS, siblings=True)
        for sid, suggestion in found.items():
            for c in (c for c in suggestion.chosen if c.hits >= MIN_EVIDENCE):
                out.append(RuleChange(sid, "any", "add", (c.term,), (c.term,) if c.case_sensitive else (),
                                      f"in {c.hits} of {c.papers} accepted papers, {c.background_hits} of {c.background} others",
                                      scope=bool(scope_terms) and c.term not in scope_terms))
    classifier = classifier_for(config.scope, sections)
    classified = [(d, classifier.classify(d.paper)) for d in decided]
    accepted = [d.paper for d in decided if d.section] or [Paper(id="(none)", title="")]
    for s in sections:
        brought = [(d, [x for x in scores if x.section == s.id]) for d, scores in classified]
        brought = [(d, mine) for d, mine in brought if mine]
        out += _drops(s, brought)
        bad = [d.paper for d, _mine in brought if d.section is None]
        if len(bad) < MIN_HITS:
            continue
        found = suggest({s.id: bad}, accepted, {s.id: s.rule.any}, max_terms=MAX_EXCLUDES,
                        max_share=EXCLUDE_MAX_ACCEPTED_SHARE, contained=False)
        chosen = [c for c in found[s.id].chosen if c.hits >= MIN_EVIDENCE]
        shares = stream_shares([(c.term, c.case_sensitive) for c in chosen], background)
        for c in (c for c in chosen if shares[(c.term, c.case_sensitive)] <= EXCLUDE_MAX_STREAM_SHARE):
            out.append(RuleChange(s.id, "not", "add", (c.term,), (c.term,) if c.case_sensitive else (),
                                  f"in {c.hits} of {c.papers} rejected papers it brought in, "
                                  f"{c.background_hits} of {c.background} accepted ones"))
    return out


def _drops(section: SectionConfig, brought: Sequence[tuple[Decided, list[SectionScore]]]) -> list[RuleChange]:
    """The section's terms whose hits among decided papers were all rejected (at least MIN_HITS);
    `brought` pairs each decided paper the section took with the section's own result."""
    bad: dict[str, int] = {}
    good: set[str] = set()
    for d, mine in brought:
        for s in mine:
            for term in {m.term for m in s.matches}:
                if d.section == section.id:
                    good.add(term)
                elif d.section is None:
                    bad[term] = bad.get(term, 0) + 1
    listed = _terms(section.rule.any)
    out = []
    for term, count in sorted(bad.items(), key=lambda kv: -kv[1]):
        whole = next((t.render() for t in section.rule.any if term in (t.render(), *(sp.render() for sp in t.spellings))), None)
        if whole is None or count < MIN_HITS or term in good or len(listed) < 2:
            continue
        out.append(RuleChange(section.id, "any", "remove", (whole,), (),
                              f"brought in {count} papers, all rejected, and no accepted one"))
    return out
