"""Benchmark: poll real listed papers from the replay server into a fresh store, end to end.

    .venv/bin/python bench/poll.py [--listings PATH] [--sizes 10000,35020]

For each size, a replay server (its own process) serves the first N listed papers
and a child process polls them with delay 0 into a temp store (stored and
classified with the bundled config's rules), then polls the same window again.
Peak memory is the polling child's max RSS, so the sizes can be compared.
The API source fetches the whole categories here (no term filter) so every
listed paper goes through store + classify.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL = ROOT.parent / "shared" / "fixtures" / "listings" / "arxiv-listings-2025.jsonl.gz"
SAMPLE = ROOT / "tests" / "fixtures" / "listings" / "sample-2025-10-29_31.jsonl.gz"
CATEGORIES = ("cs.CV", "cs.CL", "cs.AI")
NOW = datetime(2025, 11, 1, tzinfo=timezone.utc)
SINCE = date(2025, 3, 1)


def child(api_url: str, rss_url: str, store: Path) -> None:
    """Run inside the measured process: two polls, one JSON line of figures."""
    sys.path.insert(0, str(ROOT))
    from tracker.run import pipeline
    from tracker.config import StoreConfig, load_config

    base = load_config(ROOT / "config" / "tracker.toml")
    config = replace(base, store=StoreConfig(store), arxiv=replace(
        base.arxiv, api_url=api_url, rss_url=rss_url, categories=CATEGORIES, delay_seconds=0.0, page_size=2000,
        timeout_seconds=120.0))
    from tracker.store import open_store

    db = open_store(config.store.path)
    t0 = time.perf_counter()
    first = pipeline.poll(config, db, ["api"], NOW, since=SINCE)
    t1 = time.perf_counter()
    second = pipeline.poll(config, db, ["api"], NOW, since=SINCE)
    t2 = time.perf_counter()
    stored = db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
    classified = db.execute("SELECT COUNT(DISTINCT paper_id) FROM classifications").fetchone()[0]
    a, b = first.sources[0], second.sources[0]
    print(json.dumps({
        "outcome": [a.outcome, b.outcome], "error": a.error or b.error, "stored": stored, "classified": classified,
        "seconds": t1 - t0, "per_second": stored / (t1 - t0), "requests": a.requests,
        "second_changed": b.new + b.updated, "second_seconds": t2 - t1, "second_requests": b.requests,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def serve(listings: Path, limit: int) -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tracker.standins.arxiv", "--listings", str(listings), "--port", "0",
                             "--limit", str(limit)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    api_url = line.split("api_url = ")[1].split(";")[0].strip()
    rss_url = line.split("rss_url = ")[1].strip()
    return proc, api_url, rss_url


def measure(listings: Path, size: int) -> dict:
    server, api_url, rss_url = serve(listings, size)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run([sys.executable, __file__, "--child", api_url, rss_url, str(Path(tmp) / "bench.db")],
                                 capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                raise SystemExit(f"child failed:\n{out.stderr}")
            return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=Path, default=FULL if FULL.exists() else SAMPLE, help="listings .jsonl(.gz)")
    parser.add_argument("--sizes", default="10000,35020", help="comma-separated numbers of papers to serve")
    parser.add_argument("--child", nargs=3, metavar=("API_URL", "RSS_URL", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]))
        return
    print(f"listings: {args.listings}")
    for size in (int(s) for s in args.sizes.split(",")):
        r = measure(args.listings, size)
        print(f"served {size:>6}: stored {r['stored']} ({r['classified']} in a section) in {r['seconds']:.1f}s = "
              f"{r['per_second']:,.0f} papers/s; {r['requests']} HTTP requests; peak RSS {r['peak_rss_mb']:.0f} MB; "
              f"outcome {r['outcome'][0]}" + (f" ({r['error']})" if r["error"] else ""))
        print(f"  second poll of the same window: {r['second_changed']} rows changed, {r['second_seconds']:.1f}s, "
              f"{r['second_requests']} requests")


if __name__ == "__main__":
    os.environ.setdefault("TRACKER_LOG_LEVEL", "WARNING")
    main()
