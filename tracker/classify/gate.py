"""How the rules and the learned score combine, and how `tracker train` picks the bars.

One decision, `gate`, used by the classifier and by the bar search alike: a
section the rules picked stays when the paper's learned score reaches that
section's bar; with none staying, a score of `alone` or more files the paper in
the fallback section.

`choose_bars` searches a small grid of bars on out-of-fold scores (each paper
scored by a model fitted without it), so the precision and recall it reports
are what the bars do on papers the model has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from tracker.classify.evaluate import f1

WITH_RULES = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
FALLBACK = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
ALONE = (0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
NEVER = 1.01


def gate(found: Sequence[str], p: float, bars: Mapping[str, float], alone: float, has_fallback: bool) -> tuple[list[str], bool]:
    """(sections kept, filed alone): the rules' sections whose bar `p` reaches; else, when
    `p` reaches `alone` and there is a fallback section, (`[]`, True)."""
    kept = [s for s in found if p >= bars[s]]
    return kept, not kept and has_fallback and p >= alone


@dataclass(frozen=True)
class Bars:
    """A choice of bars and what it did on the out-of-fold scores."""

    with_rules: float
    fallback: float
    alone: float
    precision: float
    recall: float
    papers: int
    reached_target: bool

    def to_json(self, has_fallback: bool = True) -> dict[str, float | int | bool | None]:
        return {"with_rules": self.with_rules, "fallback_min_relevance": self.fallback if has_fallback else None,
                "alone": self.alone,
                "precision": round(self.precision, 4), "recall": round(self.recall, 4), "papers": self.papers,
                "reached_target": self.reached_target}


def choose_bars(
    found: Sequence[Sequence[str]], scores: Sequence[float], keep: Sequence[bool], fallbacks: frozenset[str],
    own_bars: Mapping[str, float] | None = None, target_precision: float = 0.8,
) -> Bars:
    """The bars with the highest recall whose precision reaches `target_precision` (ties: higher
    precision); when none does, the highest F1. `found[i]` are paper i's sections by the rules
    alone, `scores[i]` its out-of-fold learned score; `own_bars` are sections' own fixed bars."""
    own = dict(own_bars or {})
    has_fallback = bool(fallbacks)
    sections = {s for f in found for s in f}
    support = sum(keep)
    best: tuple[tuple, Bars] | None = None
    for with_rules in WITH_RULES:
        for fallback in FALLBACK if has_fallback else (with_rules,):
            if fallback < with_rules:
                continue
            bars = {s: own.get(s, fallback if s in fallbacks else with_rules) for s in sections}
            for alone in ALONE if has_fallback else (NEVER,):
                if alone < fallback:
                    continue
                sent = hit = 0
                for f, p, k in zip(found, scores, keep):
                    kept, filed = gate(f, p, bars, alone, has_fallback)
                    if kept or filed:
                        sent += 1
                        hit += k
                precision = hit / sent if sent else 0.0
                recall = hit / support if support else 0.0
                reached = precision >= target_precision
                rank = (reached, recall if reached else f1(precision, recall), precision)
                if best is None or rank > best[0]:
                    best = (rank, Bars(with_rules, fallback, alone, precision, recall, len(keep), reached))
    assert best is not None
    return best[1]
