"""Held-out figures of the learned relevance gate, fitted the way `tracker train` fits it.

Usage: python bench/learned.py [--labels DIR] [--precision P | --sweep P,P,...] [--bars W,F,A] [--json]

Each judged day is scored by weights fitted on the five other days and the
curated labels, with the rules of the fold that was NOT written against that
day (bench/folds/), and with the bars `tracker train` chooses on that training
part alone (out-of-fold scores, target precision --precision): nothing that
decides a paper has seen it. Each half of the judged-relevant curated labels
is scored the same way by weights and bars from all six days and the other
half, with the rules of the fold written on the other half. `--bars` fixes the
bars instead (with_rules, fallback section, alone). The numbers are `tracker
eval`'s (tracker.classify.evaluate), pooled. `--sweep` runs the whole
protocol once per target precision and prints one pooled line each, with
whether all four targets of docs/classification.md hold at it.

Needs scikit-learn (`pip install -e '.[learn]'`; `make test` installs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from relevance import FOLD_A_DAYS, LABELS, add, day_json, dev_half, dev_json, emit, print_dev  # noqa: E402

from tracker.classify.evaluate import Labeled, Relevance, evaluate, read_labeled  # noqa: E402
from tracker.classify.learned import Example  # noqa: E402
from tracker.classify.matcher import Classifier  # noqa: E402
from tracker.config import load_config  # noqa: E402
from tracker.deliver.rank import priority  # noqa: E402
from tracker.run.learn import train_relevance, with_trained_gate  # noqa: E402

FOLDS = ROOT / "bench" / "folds"
TOP = 20  # a day's digest holds about this many papers (median 21 on the 2025 listings)


def read(path: Path) -> list[Labeled]:
    with path.open(encoding="utf-8") as stream:
        return list(read_labeled(stream, str(path)))


def examples(items: list[Labeled]) -> list[Example]:
    return [Example.of(l.paper, bool(l.labels)) for l in items]


def classifier(fold: str, train: list[Labeled], target: float, fixed: tuple[float, float, float] | None) -> tuple[Classifier, str]:
    """The fold's rules gated by weights fitted on `train`, with bars chosen on `train` alone,
    applied as `tracker train --write` applies them."""
    config = load_config(FOLDS / f"fold-{fold}.toml")
    report = train_relevance(config, examples(train), [], target)
    gated = with_trained_gate(config, report, fixed)
    assert gated.relevance is not None
    fallback = next((s.min_relevance for s in gated.sections if s.id in report.fallbacks), None)
    bars = f"{gated.relevance.with_rules:g}/{fallback if fallback is not None else gated.relevance.with_rules:g}/{gated.relevance.alone:g}"
    return Classifier.from_config(gated), bars


def top_share(results: list[tuple[bool, Any]], learned: bool) -> float:
    """Share of the TOP papers put in a section that the judge keeps, ranked by the digest's
    priority (learned score included) or, with `learned` False, by the rule score alone."""
    kept = [(yes, found[0]) for yes, found in results if found]
    kept.sort(key=lambda k: -(priority(k[1].score, (), k[1].relevance) if learned else k[1].score))
    top = kept[:TOP]
    return round(sum(yes for yes, _ in top) / len(top), 2) if top else 0.0


def run(labels: Path, target: float, fixed: tuple[float, float, float] | None) -> dict[str, Any]:
    days = {p.name[len("judged-"):-len(".jsonl")]: read(p) for p in sorted(labels.glob("judged-*.jsonl"))}
    dev = read(labels / "labeled-dev-judged.jsonl")
    out: dict[str, Any] = {"target_precision": target, "fixed_bars": fixed, "days": {}, "dev": {}}
    pooled, papers = Relevance(), 0
    for day, items in days.items():
        train = [l for d, xs in days.items() if d != day for l in xs] + dev
        fold = "b" if day in FOLD_A_DAYS else "a"
        c, bars = classifier(fold, train, target, fixed)
        classified = [(l.paper, l.labels, c.classify(l.paper)) for l in items]
        report = evaluate(classified, c.section_ids)
        ranked = [(bool(truth), found) for _paper, truth, found in classified]
        out["days"][day] = {"rules": f"fold {fold.upper()}", "bars": bars, **day_json(report.relevance, report.total),
                            "top_priority": top_share(ranked, True), "top_rule_score": top_share(ranked, False)}
        add(pooled, report.relevance)
        papers += report.total
    shares = list(out["days"].values())
    out["days"]["[pooled]"] = {"rules": "", "bars": "", **day_json(pooled, papers),
                               **{k: round(sum(d[k] for d in shares) / len(shares), 2) for k in ("top_priority", "top_rule_score")}}
    kept_items = []
    for half in (0, 1):
        train = [l for xs in days.values() for l in xs] + [l for l in dev if dev_half(l.paper.id) != half]
        fold = "b" if half == 0 else "a"
        c, bars = classifier(fold, train, target, fixed)
        held = [(l.paper, l.labels, c.classify(l.paper)) for l in dev if dev_half(l.paper.id) == half and l.labels]
        out["dev"][f"half {half} (fold {fold.upper()}, {bars})"] = dev_json(evaluate(held, c.section_ids))
        kept_items += held
    out["dev"]["[pooled]"] = dev_json(evaluate(kept_items, c.section_ids))
    return out


def print_table(result: dict[str, Any]) -> None:
    how = ("fixed bars " + "/".join(f"{b:g}" for b in result["fixed_bars"]) if result["fixed_bars"]
           else f"bars chosen on each training part for precision {result['target_precision']:g}")
    print(f"learned gate, {how} (bars: with_rules/fallback section/alone); every row held out: weights, bars and rules never saw it")
    print(f"top{TOP}: share of the first {TOP} papers in the digest's order (priority) the judge keeps; by rule: ranked by rule score alone")
    print(f"{'judged day':<12} {'rules':<7} {'bars':<14} {'papers':>6} {'yes':>4} {'kept':>5} {'both':>5} {'prec':>6} {'recall':>6} {'F1':>6} {f'top{TOP}':>6} {'by rule':>7}")
    for day, d in result["days"].items():
        print(f"{day:<12} {d['rules']:<7} {d['bars']:<14} {d['papers']:>6} {d['yes']:>4} {d['kept']:>5} {d['kept_yes']:>5} "
              f"{d['precision']:>6.3f} {d['recall']:>6.3f} {d['f1']:>6.3f} {d['top_priority']:>6.2f} {d['top_rule_score']:>7.2f}")
    print_dev(result["dev"], width=34)


TARGETS = {"days precision": 0.80, "days recall": 0.60, "curated top accuracy": 0.85, "curated coverage": 0.90}


def sweep_line(result: dict[str, Any]) -> dict[str, Any]:
    """One target precision's pooled figures and which of the four targets they meet."""
    days, dev = result["days"]["[pooled]"], result["dev"]["[pooled]"]
    got = {"days precision": days["precision"], "days recall": days["recall"],
           "curated top accuracy": dev["top_accuracy"], "curated coverage": dev["coverage"]}
    return {"target_precision": result["target_precision"], **got,
            "met": [name for name, bar in TARGETS.items() if got[name] >= bar]}


def print_sweep(lines: list[dict[str, Any]]) -> None:
    print("pooled held-out figures per target precision of `tracker train` (targets: "
          + ", ".join(f"{k} >= {v:g}" for k, v in TARGETS.items()) + ")")
    print(f"{'target':>6} {'days P':>7} {'days R':>7} {'cur acc':>8} {'cur cov':>8}  met")
    for line in lines:
        print(f"{line['target_precision']:>6.2f} {line['days precision']:>7.3f} {line['days recall']:>7.3f} "
              f"{line['curated top accuracy']:>8.3f} {line['curated coverage']:>8.3f}  {len(line['met'])} of {len(TARGETS)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=LABELS, help="folder with judged-*.jsonl and labeled-dev-judged.jsonl")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--precision", type=float, default=0.85, help="the precision `tracker train` aims its bars at")
    parser.add_argument("--bars", help="fixed bars W,F,A: with_rules, fallback section's min_relevance, alone")
    target.add_argument("--sweep", help="target precisions P,P,...: one pooled line each (e.g. 0.80,0.82,0.85,0.88,0.90)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    fixed = tuple(float(x) for x in args.bars.split(",")) if args.bars else None
    if fixed is not None and len(fixed) != 3:
        parser.error("--bars takes three numbers: with_rules,fallback,alone")
    if args.sweep:
        lines = [sweep_line(run(args.labels, float(p), fixed)) for p in args.sweep.split(",")]
        emit(lines, args.json, print_sweep)
        return
    result = run(args.labels, args.precision, fixed)
    emit(result, args.json, print_table)


if __name__ == "__main__":
    main()
