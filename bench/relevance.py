"""Relevance of the rules against the blind judge: whole announcement days and judged curated labels.

Usage: python bench/relevance.py [--config FILE] [--labels DIR] [--fold a|b] [--json]

Prints, for each judged day, precision / recall / F1 of "any section" (the
paper gets a section vs. the judge's verdict yes), and on the curated dev
labels the judge also keeps (verdict yes) top-section accuracy and coverage
against the curators' sections. The rows are grouped by the two folds the
shipped rules were written with (docs/classification.md): with `--fold a`
the rows a fold-A rule set was written against are marked `write`, the
others `held`; run it with that fold's rules (bench/folds/fold-a.toml) to
get the fold's held-out figures. The numbers are `tracker eval`'s own
(tracker.classify.evaluate: a judged "no" is a negative), pooled per fold.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.classify.evaluate import EvalReport, Relevance, evaluate, read_labeled  # noqa: E402
from tracker.classify.matcher import Classifier  # noqa: E402
from tracker.config import load_config  # noqa: E402

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


def report_for(classifier: Classifier, path: Path, keep=lambda labeled: True) -> EvalReport:
    """`tracker eval`'s report on one labeled/judged file (a judged "no" is a negative)."""
    with path.open(encoding="utf-8") as stream:
        items = [(l.paper, l.labels, classifier.classify(l.paper)) for l in read_labeled(stream, str(path)) if keep(l)]
    return evaluate(items, classifier.section_ids)


def add(total: Relevance, part: Relevance) -> None:
    total.support += part.support
    total.predicted += part.predicted
    total.true_positive += part.true_positive


def day_json(r: Relevance, papers: int) -> dict[str, Any]:
    return {"papers": papers, "yes": r.support, "kept": r.predicted, "kept_yes": r.true_positive,
            "precision": round(r.precision, 3), "recall": round(r.recall, 3), "f1": round(r.f1, 3)}


def dev_json(report: EvalReport) -> dict[str, Any]:
    return {"papers": report.positives, "top_accuracy": round(report.accuracy, 3), "coverage": round(report.coverage, 3)}


def run(config: Path, labels: Path, fold: str | None) -> dict[str, Any]:
    classifier = Classifier.from_config(load_config(config))
    write_days, write_half = write_part(fold) if fold else ((), -1)
    days = sorted(p.name[len("judged-"):-len(".jsonl")] for p in labels.glob("judged-*.jsonl"))
    out: dict[str, Any] = {"config": str(config), "fold": fold, "days": {}, "pooled": {}, "dev": {}}
    pooled = {"write": Relevance(), "held": Relevance(), "all": Relevance()}
    papers = {"write": 0, "held": 0, "all": 0}
    for day in days:
        report = report_for(classifier, labels / f"judged-{day}.jsonl")
        part = ("write" if day in write_days else "held") if fold else ""
        out["days"][day] = {"part": part, **day_json(report.relevance, report.total)}
        for name in (part, "all") if part else ("all",):
            add(pooled[name], report.relevance)
            papers[name] += report.total
    out["pooled"] = {k: day_json(v, papers[k]) for k, v in pooled.items() if papers[k]}
    dev_path = labels / "labeled-dev-judged.jsonl"
    halves = {"half 0": 0, "half 1": 1} if not fold else {"write": write_half, "held": 1 - write_half}
    for name, half in halves.items():
        out["dev"][name] = dev_json(report_for(classifier, dev_path, lambda l, h=half: dev_half(l.paper.id) == h))
    out["dev"]["all"] = dev_json(report_for(classifier, dev_path))
    return out


def print_table(result: dict[str, Any]) -> None:
    fold = result["fold"]
    print(f"rules: {result['config']}" + (f"  (fold {fold.upper()}: write = rows the rules were written against)" if fold else ""))
    print(f"{'judged day':<12} {'part':<6} {'papers':>6} {'yes':>4} {'kept':>5} {'both':>5} {'prec':>6} {'recall':>6} {'F1':>6}")
    rows = [(day, d) for day, d in result["days"].items()] + [(f"[{k}]", v | {"part": ""}) for k, v in result["pooled"].items()]
    for name, d in rows:
        print(f"{name:<12} {d['part']:<6} {d['papers']:>6} {d['yes']:>4} {d['kept']:>5} {d['kept_yes']:>5} "
              f"{d['precision']:>6.3f} {d['recall']:>6.3f} {d['f1']:>6.3f}")
    print_dev(result["dev"])


def emit(result: Any, as_json: bool, table) -> None:
    """The result as JSON, or as the benchmark's table."""
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        table(result)


def print_dev(dev: dict[str, Any], width: int = 12) -> None:
    """The curated-labels table: one row per part, top-section accuracy and coverage."""
    print("\ncurated dev labels the judge keeps (verdict yes), against the curators' sections:")
    print(f"{'part':<{width}} {'papers':>6} {'top acc':>8} {'coverage':>9}")
    for name, d in dev.items():
        print(f"{name:<{width}} {d['papers']:>6} {d['top_accuracy']:>8.3f} {d['coverage']:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "tracker.toml", help="config with the rules")
    parser.add_argument("--labels", type=Path, default=LABELS, help="folder with judged-*.jsonl and labeled-dev-judged.jsonl")
    parser.add_argument("--fold", choices=("a", "b"), help="mark the rows fold A or B was written against")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    result = run(args.config, args.labels, args.fold)
    emit(result, args.json, print_table)


if __name__ == "__main__":
    main()
