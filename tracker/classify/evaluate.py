"""Measure rules against labels: top-section accuracy, coverage, precision, recall, F1.

Labels come in two kinds: curated sections (`"sections": ["encoder_only"]`) and
negatives (`"sections": []`, or a judge's `"verdict": "no"`), so the rules are
measured on what they should leave out as well as on where they file papers.

Pure: takes (labels, predictions) pairs and returns numbers, so the same code
backs `tracker eval`, the quality regression test and the docs' figures.
`render_report` is the plain-text table: full section names, whatever their number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence, TextIO

from tracker import jsonl
from tracker.errors import InputError
from tracker.models import Paper, SectionScore, numbered_lines

NONE = "none"


def norm_label(name: str) -> str:
    """Labels and section ids compare with `-` and `_` alike and case folded."""
    return name.strip().lower().replace("-", "_")


VERDICTS = ("yes", "no")


@dataclass(frozen=True)
class Labeled:
    """A labeled paper; no labels means a negative (the maintainer would not list it)."""

    paper: Paper
    labels: tuple[str, ...]


def read_labeled(stream: TextIO, name: str) -> Iterator[Labeled]:
    """PAPERS.jsonl lines plus `sections`: a list of label names (a single string is taken too).

    `"sections": []` is a negative, and so is a judged line with `"verdict": "no"`
    whatever its sections say (the judge overrules the curated label)."""
    for number, line in numbered_lines(stream, name):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        obj = jsonl.loads_line(line, where)
        paper = Paper.from_json(obj, where)
        labels = obj.get("sections")
        if isinstance(labels, str):
            labels = [labels]
        if not isinstance(labels, list) or not all(isinstance(x, str) and x.strip() for x in labels):
            raise InputError(f"{where}: field 'sections' must be a list of section ids ([] for a paper in no section)")
        verdict = obj.get("verdict")
        if verdict is not None and verdict not in VERDICTS:
            raise InputError(f"{where}: field 'verdict' must be \"yes\" or \"no\", got {verdict!r}")
        if verdict == "yes" and not labels:
            raise InputError(f"{where}: field 'sections' is empty but 'verdict' is \"yes\"")
        yield Labeled(paper, () if verdict == "no" else tuple(dict.fromkeys(norm_label(x) for x in labels)))


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass
class Counts:
    """Predicted vs. labeled counts of one yes/no question, with precision, recall and F1."""

    support: int = 0
    predicted: int = 0
    true_positive: int = 0

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        return f1(self.precision, self.recall)


@dataclass
class SectionStats(Counts):
    section: str = ""
    top_correct: int = 0

    @property
    def top_accuracy(self) -> float:
        return self.top_correct / self.support if self.support else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "support": self.support,
            "predicted": self.predicted,
            "top_accuracy": round(self.top_accuracy, 4),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass
class Relevance(Counts):
    """The "any section" question against "the maintainer would list it": predicted = kept (got a section),
    support = relevant (has a label)."""

    def to_json(self) -> dict[str, Any]:
        return {"kept": self.predicted, "relevant": self.support, "kept_relevant": self.true_positive,
                "precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


@dataclass
class EvalReport:
    """Overall and per-section figures; `confusion[label or "none"][top prediction or "none"]` counts papers.

    Top-section accuracy and coverage are over the positives (papers with a
    label); negatives count in `relevance`, in section precision (a negative
    given a section is a false positive there) and in the confusion row "none"."""

    sections: tuple[str, ...]
    total: int = 0
    positives: int = 0
    top_correct: int = 0
    covered: int = 0
    relevance: Relevance = field(default_factory=Relevance)
    per_section: dict[str, SectionStats] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def negatives(self) -> int:
        return self.total - self.positives

    @property
    def accuracy(self) -> float:
        return self.top_correct / self.positives if self.positives else 0.0

    @property
    def coverage(self) -> float:
        return self.covered / self.positives if self.positives else 0.0

    def micro(self) -> tuple[float, float]:
        tp = sum(s.true_positive for s in self.per_section.values())
        pred = sum(s.predicted for s in self.per_section.values())
        sup = sum(s.support for s in self.per_section.values())
        return (tp / pred if pred else 0.0, tp / sup if sup else 0.0)

    def to_json(self) -> dict[str, Any]:
        precision, recall = self.micro()
        return {
            "papers": self.total,
            "positives": self.positives,
            "negatives": self.negatives,
            "top_accuracy": round(self.accuracy, 4),
            "coverage": round(self.coverage, 4),
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1(precision, recall), 4),
            "relevance": self.relevance.to_json(),
            "sections": [self.per_section[s].to_json() for s in self.per_section],
            "confusion": self.confusion,
            "misses": self.misses,
        }


def evaluate(items: Iterable[tuple[Paper, Sequence[str], list[SectionScore]]], section_ids: Sequence[str]) -> EvalReport:
    """Score predictions against labels (no labels: a negative). A multi-label paper counts once
    in the confusion table: in the row of the label its top prediction hit, else in its first
    label's row; negatives in the row "none"."""
    ids = tuple(norm_label(s) for s in section_ids)
    report = EvalReport(sections=ids)
    columns = list(ids) + [NONE]

    def stats(name: str) -> SectionStats:
        if name not in report.per_section:
            report.per_section[name] = SectionStats(section=name)
            report.confusion[name] = {c: 0 for c in columns}
        return report.per_section[name]

    for name in ids:
        stats(name)
    report.confusion[NONE] = {c: 0 for c in columns}
    for paper, raw_labels, scores in items:
        labels = tuple(norm_label(x) for x in raw_labels)
        predicted = [norm_label(s.section) for s in scores]
        top = predicted[0] if predicted else NONE
        report.total += 1
        report.relevance.predicted += bool(predicted)
        for name in set(predicted):
            stats(name).predicted += 1
        if not labels:
            report.confusion[NONE][top] = report.confusion[NONE].get(top, 0) + 1
            if predicted:
                report.misses.append({"id": paper.id, "title": paper.title, "labels": [], "predicted": predicted})
            continue
        report.positives += 1
        report.relevance.support += 1
        report.relevance.true_positive += bool(predicted)
        report.covered += bool(predicted)
        correct = top in labels
        report.top_correct += correct
        for label in labels:
            st = stats(label)
            st.support += 1
            st.top_correct += correct
            st.true_positive += label in predicted
        row = top if correct else labels[0]
        report.confusion[row][top] = report.confusion[row].get(top, 0) + 1
        if not correct:
            report.misses.append({"id": paper.id, "title": paper.title, "labels": list(labels), "predicted": predicted})
    if not any(report.confusion[NONE].values()):
        del report.confusion[NONE]
    return report


def render_report(report: EvalReport, misses: bool = False) -> str:
    """Plain columns sized to the longest section name (never truncated); the confusion
    table as one line per label row, so 20+ sections stay readable at any width."""
    precision, recall = report.micro()
    rel = report.relevance
    names = list(report.per_section)
    width = max([len("overall"), len("section")] + [len(n) for n in names])
    head = f"{'section':<{width}}  {'papers':>6}  {'predicted':>9}  {'top acc':>7}  {'precision':>9}  {'recall':>6}  {'F1':>5}"
    lines = [f"{report.total} labeled papers: {report.positives} in a section, {report.negatives} negatives", head, "-" * len(head)]
    for s in report.per_section.values():
        lines.append(f"{s.section:<{width}}  {s.support:>6}  {s.predicted:>9}  {s.top_accuracy:>7.3f}  "
                     f"{s.precision:>9.3f}  {s.recall:>6.3f}  {s.f1:>5.3f}")
    lines.append(f"{'overall':<{width}}  {report.positives:>6}  {rel.predicted:>9}  {report.accuracy:>7.3f}  "
                 f"{precision:>9.3f}  {recall:>6.3f}  {f1(precision, recall):>5.3f}")
    lines.append("")
    lines.append(f"any section: precision {rel.precision:.3f}   recall {rel.recall:.3f}   F1 {rel.f1:.3f}   "
                 f"({rel.true_positive} of {rel.predicted} kept are labeled, of {rel.support} labeled)")
    lines.append(f"top-section accuracy {report.accuracy:.3f}   coverage {report.coverage:.3f}   "
                 f"micro precision {precision:.3f}   micro recall {recall:.3f}")
    lines.append("")
    lines.append("confusion: label -> top prediction (papers)")
    for label, row in report.confusion.items():
        cells = sorted(((n, c) for c, n in row.items() if n), key=lambda t: (-t[0], t[1]))
        total = sum(n for n, _ in cells)
        lines.append(f"  {label:<{width}}  {total:>5}: " + (", ".join(f"{c} {n}" for n, c in cells) or "-"))
    if misses:
        lines.append("")
        for m in report.misses:
            title = " ".join(m["title"].split())[:100]
            lines.append(f"miss {m['id']}: labels {', '.join(m['labels']) or 'none'}; predicted {', '.join(m['predicted']) or 'none'}: {title}")
    return "\n".join(lines)
