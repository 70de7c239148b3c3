"""Measure rules against curator labels: top-section accuracy, coverage, precision, recall.

Pure: takes (labels, predictions) pairs and returns numbers, so the same code
backs `tracker eval`, the quality regression test and the docs' figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence, TextIO

from tracker.errors import InputError
from tracker.models import Paper, SectionScore, numbered_lines

NONE = "none"


def norm_label(name: str) -> str:
    """Labels and section ids compare with `-` and `_` alike and case folded."""
    return name.strip().lower().replace("-", "_")


@dataclass(frozen=True)
class Labeled:
    paper: Paper
    labels: tuple[str, ...]


def read_labeled(stream: TextIO, name: str) -> Iterator[Labeled]:
    """PAPERS.jsonl lines plus `sections`: a list of label names (a single string is taken too)."""
    for number, line in numbered_lines(stream, name):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        paper = Paper.from_json(obj, where)
        labels = obj.get("sections")
        if isinstance(labels, str):
            labels = [labels]
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x.strip() for x in labels):
            raise InputError(f"{where}: field 'sections' must be a non-empty list of section ids")
        yield Labeled(paper, tuple(dict.fromkeys(norm_label(x) for x in labels)))


@dataclass
class SectionStats:
    section: str
    support: int = 0
    predicted: int = 0
    true_positive: int = 0
    top_correct: int = 0

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.support if self.support else 0.0

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
        }


@dataclass
class EvalReport:
    """Overall and per-section figures; `confusion[label][top prediction or "none"]` counts papers."""

    sections: tuple[str, ...]
    total: int = 0
    top_correct: int = 0
    covered: int = 0
    per_section: dict[str, SectionStats] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.top_correct / self.total if self.total else 0.0

    @property
    def coverage(self) -> float:
        return self.covered / self.total if self.total else 0.0

    def micro(self) -> tuple[float, float]:
        tp = sum(s.true_positive for s in self.per_section.values())
        pred = sum(s.predicted for s in self.per_section.values())
        sup = sum(s.support for s in self.per_section.values())
        return (tp / pred if pred else 0.0, tp / sup if sup else 0.0)

    def to_json(self) -> dict[str, Any]:
        precision, recall = self.micro()
        return {
            "papers": self.total,
            "top_accuracy": round(self.accuracy, 4),
            "coverage": round(self.coverage, 4),
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "sections": [self.per_section[s].to_json() for s in self.per_section],
            "confusion": self.confusion,
            "misses": self.misses,
        }


def evaluate(items: Iterable[tuple[Paper, Sequence[str], list[SectionScore]]], section_ids: Sequence[str]) -> EvalReport:
    """Score predictions against labels. A multi-label paper counts once in the confusion table:
    in the row of the label its top prediction hit, else in its first label's row."""
    ids = tuple(norm_label(s) for s in section_ids)
    report = EvalReport(sections=ids)
    columns = list(ids) + [NONE]

    def stats(name: str) -> SectionStats:
        if name not in report.per_section:
            report.per_section[name] = SectionStats(name)
            report.confusion[name] = {c: 0 for c in columns}
        return report.per_section[name]

    for name in ids:
        stats(name)
    for paper, raw_labels, scores in items:
        labels = tuple(norm_label(x) for x in raw_labels)
        predicted = [norm_label(s.section) for s in scores]
        top = predicted[0] if predicted else NONE
        report.total += 1
        report.covered += bool(predicted)
        correct = top in labels
        report.top_correct += correct
        for label in labels:
            st = stats(label)
            st.support += 1
            st.top_correct += correct
            st.true_positive += label in predicted
        for name in set(predicted):
            stats(name).predicted += 1
        row = top if correct else labels[0]
        report.confusion[row][top] = report.confusion[row].get(top, 0) + 1
        if not correct:
            report.misses.append({"id": paper.id, "title": paper.title, "labels": list(labels), "predicted": predicted})
    return report
