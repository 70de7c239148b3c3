"""Relevance of the rules against the blind judge: whole announcement days and judged curated labels.

Usage: python bench/relevance.py [--config FILE] [--labels DIR] [--fold a|b] [--json]

Prints, for each judged day, precision / recall / F1 of "any section" (the
paper gets a section vs. the judge's verdict yes), and on the curated dev
labels the judge also keeps (verdict yes) top-section accuracy and coverage
against the curators' sections. The rows are grouped by the two folds the
shipped rules were written with (docs/classification.md): with `--fold a`
the rows a fold-A rule set was written against are marked `write`, the
others `held`; run it with that fold's rules (bench/folds/fold-a.toml) to
get the fold's held-out figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.classify.evaluate import evaluate  # noqa: E402
from tracker.classify.matcher import Classifier  # noqa: E402
from tracker.config import load_config  # noqa: E402
from tracker.models import Paper  # noqa: E402

LABELS = ROOT / "tests" / "fixtures" / "labels"
# The split, fixed before any rule was written: fold A writes rules on these
# days and on the dev half 0, and is checked on the other days and half 1;
# fold B the reverse.
FOLD_A_DAYS = ("2025-05-21", "2025-09-16", "2025-10-08")
FOLD_B_DAYS = ("2025-07-30", "2025-10-03", "2025-10-17")


def dev_half(paper_id: str) -> int:
    """Half 0 or 1 of the curated labels, by a hash of the id (stable, blind to content)."""
    return hashlib.sha1(paper_id.encode()).digest()[0] & 1


def write_part(fold: str) -> tuple[tuple[str, ...], int]:
    """(days, dev half) a fold's rules were written against."""
    return (FOLD_A_DAYS, 0) if fold == "a" else (FOLD_B_DAYS, 1)


@dataclass
class Counts:
    papers: int = 0
    yes: int = 0
    kept: int = 0
    both: int = 0

    def add(self, other: "Counts") -> None:
        for name in ("papers", "yes", "kept", "both"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def precision(self) -> float:
        return self.both / self.kept if self.kept else 0.0

    @property
    def recall(self) -> float:
        return self.both / self.yes if self.yes else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"papers": self.papers, "yes": self.yes, "kept": self.kept, "kept_yes": self.both,
                "precision": round(self.precision, 3), "recall": round(self.recall, 3), "f1": round(self.f1, 3)}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def judged_day(classifier: Classifier, rows: Iterable[dict[str, Any]]) -> Counts:
    c = Counts()
    for obj in rows:
        kept = bool(classifier.classify_dict(obj))
        yes = obj["verdict"] == "yes"
        c.papers += 1
        c.yes += yes
        c.kept += kept
        c.both += kept and yes
    return c


def dev_figures(classifier: Classifier, rows: list[dict[str, Any]]) -> dict[str, Any]:
    items = []
    for obj in rows:
        paper = Paper.from_json(obj, obj["id"])
        items.append((paper, obj["sections"], classifier.classify(paper)))
    report = evaluate(items, classifier.section_ids)
    return {"papers": report.total, "top_accuracy": round(report.accuracy, 3), "coverage": round(report.coverage, 3)}


def run(config: Path, labels: Path, fold: str | None) -> dict[str, Any]:
    classifier = Classifier.from_config(load_config(config))
    write_days, write_half = write_part(fold) if fold else ((), -1)
    days = sorted(p.name[len("judged-"):-len(".jsonl")] for p in labels.glob("judged-*.jsonl"))
    out: dict[str, Any] = {"config": str(config), "fold": fold, "days": {}, "pooled": {}, "dev": {}}
    pooled = {"write": Counts(), "held": Counts(), "all": Counts()}
    for day in days:
        c = judged_day(classifier, read_jsonl(labels / f"judged-{day}.jsonl"))
        part = ("write" if day in write_days else "held") if fold else ""
        out["days"][day] = {"part": part, **c.to_json()}
        if part:
            pooled[part].add(c)
        pooled["all"].add(c)
    out["pooled"] = {k: v.to_json() for k, v in pooled.items() if v.papers}
    dev = [o for o in read_jsonl(labels / "labeled-dev-judged.jsonl") if o["verdict"] == "yes"]
    halves = {"half 0": [o for o in dev if dev_half(o["id"]) == 0], "half 1": [o for o in dev if dev_half(o["id"]) == 1]}
    if fold:
        halves = {"write": halves[f"half {write_half}"], "held": halves[f"half {1 - write_half}"]}
    out["dev"] = {k: dev_figures(classifier, v) for k, v in {**halves, "all": dev}.items() if v}
    return out


def print_table(result: dict[str, Any]) -> None:
    fold = result["fold"]
    print(f"rules: {result['config']}" + (f"  (fold {fold.upper()}: write = rows the rules were written against)" if fold else ""))
    print(f"{'judged day':<12} {'part':<6} {'papers':>6} {'yes':>4} {'kept':>5} {'both':>5} {'prec':>6} {'recall':>6} {'F1':>6}")
    rows = [(day, d) for day, d in result["days"].items()] + [(f"[{k}]", v | {"part": ""}) for k, v in result["pooled"].items()]
    for name, d in rows:
        print(f"{name:<12} {d['part']:<6} {d['papers']:>6} {d['yes']:>4} {d['kept']:>5} {d['kept_yes']:>5} "
              f"{d['precision']:>6.3f} {d['recall']:>6.3f} {d['f1']:>6.3f}")
    print("\ncurated dev labels the judge keeps (verdict yes), against the curators' sections:")
    print(f"{'part':<12} {'papers':>6} {'top acc':>8} {'coverage':>9}")
    for name, d in result["dev"].items():
        print(f"{name:<12} {d['papers']:>6} {d['top_accuracy']:>8.3f} {d['coverage']:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "tracker.toml", help="config with the rules")
    parser.add_argument("--labels", type=Path, default=LABELS, help="folder with judged-*.jsonl and labeled-dev-judged.jsonl")
    parser.add_argument("--fold", choices=("a", "b"), help="mark the rows fold A or B was written against")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    result = run(args.config, args.labels, args.fold)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
