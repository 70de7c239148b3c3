"""How far the judge's own verdicts let the curated-label targets be met, whatever the classifier.

Usage: python bench/ceiling.py [--config FILE] [--labels DIR] [--json]

The curated labels the judge keeps are scored against the curators' sections
(top-section accuracy, coverage: docs/classification.md). Two things bound
those figures for any classifier that keeps to the judge's verdicts on whole
announcement days:

- the papers whose TITLE names an application domain, narrow task or tool use
  (the config's `[scope] title_not`, read by the classifier itself): on the
  judged days the judge keeps almost none of them, so a classifier that keeps
  them loses days precision; among the curated labels the judge keeps a few
  (famous domain models: BloombergGPT, PaLM-E, Codex);
- the judge's own section for a curated paper is not always the curators'.

The bound is what a classifier that copied the judge exactly (verdict and
section) would score, leaving out the domain-titled papers: coverage = the
other kept papers' share, top accuracy = the share where the judge's section
is the curators'. It reads labels only, no weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relevance import LABELS, emit  # noqa: E402

from tracker.classify.matcher import Classifier  # noqa: E402
from tracker.config import load_config  # noqa: E402
from tracker.config.types import Rule  # noqa: E402
from tracker.jsonl import loads_line  # noqa: E402
from tracker.models import Paper  # noqa: E402


def rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as stream:
        return [loads_line(line, f"{path}:{n}") for n, line in enumerate(stream, 1) if line.strip()]


def run(config: Path, labels: Path) -> dict[str, Any]:
    cfg = load_config(config, read_weights=False)
    only_title_not = Classifier.from_config(replace(cfg, relevance=None, scope=Rule(title_not=cfg.scope.title_not, min_score=0.0)))

    def domain_title(row: dict[str, Any]) -> bool:
        return only_title_not.scope_matches(Paper(id=row["id"], title=row["title"], abstract=row.get("abstract") or "")) is None

    sets = {"judged days": sorted(labels.glob("judged-*.jsonl")),
            "fresh days": sorted((labels / "fresh").glob("judged-*.jsonl")),
            "curated labels": [labels / "labeled-dev-judged.jsonl"]}
    shown = config.resolve().relative_to(ROOT) if config.resolve().is_relative_to(ROOT) else config
    out: dict[str, Any] = {"config": str(shown), "sets": {}}
    domains: dict[str, set[str]] = {}
    for name, paths in sets.items():
        papers = [r for p in paths for r in rows(p)]
        if not papers:
            continue
        domain = [r for r in papers if domain_title(r)]
        domains[name] = {r["id"] for r in domain}
        kept = sum(r["verdict"] == "yes" for r in domain)
        out["sets"][name] = {"papers": len(papers), "yes": sum(r["verdict"] == "yes" for r in papers),
                             "domain_titles": len(domain), "domain_kept": kept,
                             "domain_kept_share": round(kept / len(domain), 3) if domain else 0.0}
    curated = [r for r in rows(sets["curated labels"][0]) if r["verdict"] == "yes"]
    reachable = [r for r in curated if r["id"] not in domains["curated labels"]]
    out["curated_kept"] = len(curated)
    out["judge_agrees_with_curators"] = round(sum(r["judged_section"] in r["sections"] for r in curated) / len(curated), 3)
    out["bound_coverage"] = round(len(reachable) / len(curated), 3)
    out["bound_top_accuracy"] = round(sum(r["judged_section"] in r["sections"] for r in reachable) / len(curated), 3)
    return out


def print_table(result: dict[str, Any]) -> None:
    print("titles naming an application domain, task or tool use ([scope] title_not of "
          f"{result['config']}), and how many of them the judge keeps:")
    print(f"{'set':<16} {'papers':>6} {'yes':>5} {'domain titles':>13} {'judge keeps':>11} {'share':>6}")
    for name, s in result["sets"].items():
        print(f"{name:<16} {s['papers']:>6} {s['yes']:>5} {s['domain_titles']:>13} {s['domain_kept']:>11} {s['domain_kept_share']:>6.2f}")
    print(f"\ncurated labels the judge keeps: {result['curated_kept']}; the judge's section is the curators' for "
          f"{result['judge_agrees_with_curators']:.3f} of them")
    print("a classifier copying the judge exactly, leaving out the domain-titled papers as the judged days do:")
    print(f"  coverage {result['bound_coverage']:.3f}, top-section accuracy {result['bound_top_accuracy']:.3f} "
          "(targets 0.90 / 0.85)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "tracker.toml", help="config whose [scope] title_not is read")
    parser.add_argument("--labels", type=Path, default=LABELS, help="folder with judged-*.jsonl, fresh/ and labeled-dev-judged.jsonl")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    emit(run(args.config, args.labels), args.json, print_table)


if __name__ == "__main__":
    main()
