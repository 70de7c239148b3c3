"""Classification throughput on real listings, against a plain json.loads pass.

Usage: python bench/classify.py [LISTINGS.jsonl.gz] [--config FILE] [--repeat N]
Both in-process passes stream the same (gzip) file line by line, so decompression
and I/O are in both; "classify pass" = json.loads + Classifier.classify_dict per line.
Peak memory is the process's max RSS, taken before and after the classify pass.

End to end: the file decompressed to a temporary file, `tracker classify --input FILE`
run as a subprocess (start-up, reading, validation, classifying, writing JSONL to
/dev/null), against a plain json.loads + json.dumps of every line of that file to
/dev/null. The CLI's max RSS is taken on the first quarter of the file and on the
whole file: equal figures mean memory does not grow with the input.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
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


def plain_pass(path: Path) -> tuple[int, float]:
    """json.loads + json.dumps of each line of a plain file, written to /dev/null."""
    start, n = time.perf_counter(), 0
    loads, dumps = json.loads, json.dumps
    with open(path, encoding="utf-8") as stream, open(os.devnull, "w", encoding="utf-8") as out:
        for line in stream:
            out.write(dumps(loads(line), ensure_ascii=False) + "\n")
            n += 1
    return n, time.perf_counter() - start


# A small launcher measures the CLI's own max RSS: Linux keeps a process's peak across
# fork and exec, so forking this (large) bench process directly would count its memory.
LAUNCHER = (
    "import os, resource, subprocess, sys, time; start = time.perf_counter(); "
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
    "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
)


def cli_pass(path: Path, config: Path) -> tuple[float, float]:
    """(seconds, max RSS MB) of `tracker classify --input path` as a subprocess."""
    cmd = [sys.executable, "-m", "tracker", "--config", str(config), "classify", "--input", str(path)]
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], capture_output=True, text=True, check=True, cwd=ROOT)
    seconds, rss = out.stdout.split()
    return float(seconds), float(rss)


def end_to_end(path: Path, config: Path, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "papers.jsonl"
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
        with open(plain, "rb") as stream:
            total = sum(1 for _ in stream)
        quarter = Path(tmp) / "quarter.jsonl"
        with open(plain, "rb") as src, open(quarter, "wb") as dst:
            for _, line in zip(range(total // 4), src):
                dst.write(line)
        _, rss_quarter = cli_pass(quarter, config)
        plain_runs, cli_runs = [], []
        for _ in range(repeat):  # interleaved, so a busy machine slows both alike
            plain_runs.append(plain_pass(plain)[1])
            cli_runs.append(cli_pass(plain, config))
        base = min(plain_runs)
        seconds, rss_full = min(cli_runs)
    print(f"plain json load+dump  {base:.3f} s  ({total / base:,.0f} lines/s)")
    print(f"tracker classify CLI  {seconds:.3f} s  ({total / seconds:,.0f} papers/s end to end, start-up included)")
    print(f"CLI ratio             {seconds / base:.2f}x a plain json load+dump of the same file")
    print(f"CLI max RSS           {rss_quarter:.1f} MB on {total // 4} papers, {rss_full:.1f} MB on {total}")


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_LISTING, help="listings JSONL (gzip ok)")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "tracker.toml", help="config with the rules")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each pass; the best is reported")
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI run")
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
    gc.enable()
    if not args.no_cli:
        end_to_end(args.path, args.config, args.repeat)


if __name__ == "__main__":
    main()
