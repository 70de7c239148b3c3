"""How many listed papers name each surveyed work ("mentions" links), and how fast.

Usage: python bench/mentions.py LISTINGS.jsonl[.gz] [--config FILE] [--sample N --seed S]
Offline: works come from the configured survey and config aliases only (no arXiv
title look-up), so works the survey links outside arXiv keep a `title:` id.
`--sample N` prints N random links (paper id, work, where, title) to check by hand.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.config import load_config  # noqa: E402
from tracker.links.match import Matcher, known_works  # noqa: E402
from tracker.models import Paper  # noqa: E402
from tracker.survey.parse import load_survey  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path, help="PAPERS.jsonl listings (gzip ok)")
    ap.add_argument("--config", default=str(ROOT / "config" / "tracker.toml"), help="tracker config")
    ap.add_argument("--sample", type=int, default=0, help="print this many random links to check by hand")
    ap.add_argument("--seed", type=int, default=5, help="random seed for --sample")
    args = ap.parse_args(argv)

    config = load_config(args.config)
    works = known_works(load_survey(config.survey.path), config)
    matcher = Matcher(works)
    counts: Counter[str] = Counter()
    links = []
    papers = linked = 0
    opener = gzip.open if args.path.suffix == ".gz" else open
    started = time.perf_counter()
    with opener(args.path, "rt", encoding="utf-8") as stream:
        for line in stream:
            paper = Paper.from_json(json.loads(line))
            papers += 1
            found = matcher.find(paper)
            linked += bool(found)
            for link in found:
                counts[link.work_id] += 1
                links.append((paper.id, link.work_id, link.where, paper.title))
    seconds = time.perf_counter() - started
    print(f"{papers} papers, {linked} with a mentions link, {len(links)} links, "
          f"{papers / seconds:,.0f} papers/s (json.loads included)")
    if matcher.ambiguous:
        print("ambiguous names (link to none):", ", ".join(sorted(matcher.ambiguous)))
    print(f"{'links':>6}  {'work':<24} name")
    for w in sorted(works, key=lambda w: (-counts[w.id], w.section)):
        print(f"{counts[w.id]:>6}  {w.id[:24]:<24} {w.name[:60]}")
    if args.sample:
        print(f"\n{args.sample} random links (seed {args.seed}):")
        for pid, wid, where, title in random.Random(args.seed).sample(links, min(args.sample, len(links))):
            print(f"{pid}  {wid[:24]:<24} {where:<28} {title[:80]}")


if __name__ == "__main__":
    main()
