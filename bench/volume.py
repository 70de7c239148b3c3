"""How many papers per announcement day the rules would put in a digest.

Usage: python bench/volume.py [LISTINGS.jsonl.gz] [--config FILE] [--max-papers N] [--json]

"kept" is the papers per announcement day the rules put in a section; "digest"
is what a daily digest shows after `[digest] max_papers` (the config's, or
--max-papers), and "overflow" what it leaves to the weekly email.
The default listing is the bundled three-day sample; the full 160-day file is
/work/shared/fixtures/listings/arxiv-listings-2025.jsonl.gz.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.classify.matcher import Classifier  # noqa: E402
from tracker.config import load_config  # noqa: E402

DEFAULT_LISTING = ROOT / "tests" / "fixtures" / "listings" / "sample-2025-10-29_31.jsonl.gz"


def daily_volume(path: Path, classifier: Classifier) -> dict[str, Counter]:
    """Per announcement day: papers seen ("listed"), papers in any section ("kept"), and per primary section."""
    days: dict[str, Counter] = defaultdict(Counter)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as stream:
        for line in stream:
            obj = json.loads(line)
            day = days[obj.get("published") or "unknown"]
            day["listed"] += 1
            scores = classifier.classify_dict(obj)
            if scores:
                day["kept"] += 1
                day[scores[0].section] += 1
    return days


def summary(days: dict[str, Counter], sections: tuple[str, ...], max_papers: int = 0) -> dict:
    for c in days.values():
        c["digest"] = min(c["kept"], max_papers) if max_papers > 0 else c["kept"]
        c["overflow"] = c["kept"] - c["digest"]

    def stat(key: str) -> dict:
        values = [c[key] for c in days.values()]
        return {"median": statistics.median(values), "max": max(values), "mean": round(statistics.fmean(values), 1)}

    return {
        "days": len(days),
        "max_papers": max_papers,
        "listed": stat("listed"),
        "kept": stat("kept"),
        "digest": stat("digest"),
        "overflow": stat("overflow"),
        "capped_days": sum(1 for c in days.values() if c["overflow"]),
        "by_primary_section": {s: stat(s) for s in sections},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_LISTING, help="listings JSONL (gzip ok)")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "tracker.toml", help="config with the rules")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--days", action="store_true", help="also print every day's counts")
    parser.add_argument("--max-papers", type=int, default=None, help="daily cap (default: the config's digest.max_papers)")
    args = parser.parse_args()
    config = load_config(args.config)
    classifier = Classifier.from_config(config)
    days = daily_volume(args.path, classifier)
    cap = config.digest.max_papers if args.max_papers is None else args.max_papers
    report = summary(days, classifier.section_ids, cap)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.path}: {report['days']} announcement days")
    for key in ("listed", "kept", "digest", "overflow"):
        s = report[key]
        print(f"  {key:<16} median {s['median']:>6}  max {s['max']:>5}  mean {s['mean']:>6}")
    print(f"  daily cap        {cap or 'none'} (digest.max_papers): {report['capped_days']} of {report['days']} days over it")
    for sid, s in report["by_primary_section"].items():
        print(f"  top={sid:<12} median {s['median']:>6}  max {s['max']:>5}  mean {s['mean']:>6}")
    if args.days:
        for day in sorted(days):
            print(f"  {day}  listed {days[day]['listed']:>4}  kept {days[day]['kept']:>3}")


if __name__ == "__main__":
    main()
