"""Classification throughput on real listings, against a plain json.loads pass.

Usage: python bench/classify.py [LISTINGS.jsonl.gz] [--config FILE] [--repeat N]
Both passes stream the same (gzip) file line by line, so decompression and I/O
are in both; "classify pass" = json.loads + Classifier.classify_dict per line.
Peak memory is the process's max RSS, taken before and after the classify pass.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.classify.matcher import Classifier  # noqa: E402
from tracker.config import load_config  # noqa: E402

DEFAULT_LISTING = ROOT / "tests" / "fixtures" / "listings" / "sample-2025-10-29_31.jsonl.gz"


def _lines(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as stream:
        yield from stream


def parse_pass(path: Path) -> tuple[int, float]:
    start, n = time.perf_counter(), 0
    loads = json.loads
    for line in _lines(path):
        loads(line)
        n += 1
    return n, time.perf_counter() - start


def classify_pass(path: Path, classifier: Classifier) -> tuple[int, int, float]:
    start, n, kept = time.perf_counter(), 0, 0
    loads, classify = json.loads, classifier.classify_dict
    for line in _lines(path):
        if classify(loads(line)):
            kept += 1
        n += 1
    return n, kept, time.perf_counter() - start


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_LISTING, help="listings JSONL (gzip ok)")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "tracker.toml", help="config with the rules")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each pass; the best is reported")
    args = parser.parse_args()
    t0 = time.perf_counter()
    classifier = Classifier.from_config(load_config(args.config))
    build = time.perf_counter() - t0
    gc.disable()
    parse = min((parse_pass(args.path) for _ in range(args.repeat)), key=lambda r: r[1])
    rss_before = max_rss_mb()
    runs = [classify_pass(args.path, classifier) for _ in range(args.repeat)]
    rss_after = max_rss_mb()
    n, kept, seconds = min(runs, key=lambda r: r[2])
    print(f"file            {args.path}")
    print(f"papers          {n}  (in a section: {kept})")
    print(f"compile rules   {build * 1000:.1f} ms")
    print(f"json.loads pass {parse[1]:.3f} s  ({parse[0] / parse[1]:,.0f} lines/s)")
    print(f"classify pass   {seconds:.3f} s  ({n / seconds:,.0f} papers/s)")
    print(f"ratio           {seconds / parse[1]:.2f}x a plain json.loads pass")
    print(f"classify only   {(seconds - parse[1]) / n * 1e6:.1f} us/paper  ({n / max(seconds - parse[1], 1e-9):,.0f} papers/s)")
    print(f"max RSS         {rss_before:.1f} MB before classify pass, {rss_after:.1f} MB after")


if __name__ == "__main__":
    main()
