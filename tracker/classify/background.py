"""Background papers for learning rules: what a section's terms must stand out from.

The stored papers when there are any; otherwise a listings file (PAPERS.jsonl,
optionally gzipped); on a fresh install, the bundled three-day sample of real
cs.CL/cs.CV/cs.AI listings (554 papers).
"""

from __future__ import annotations

from pathlib import Path

from tracker.models import Paper, open_input, read_papers
from tracker.standins.arxiv_feeds import SAMPLE_LISTINGS as BUNDLED


def read_papers_file(path: str | Path) -> list[Paper]:
    """All papers of a PAPERS.jsonl file, gzipped or not; errors name the file and line."""
    with open_input(str(path), "listings") as stream:
        return list(read_papers(stream, str(path)))


def bundled_background() -> list[Paper]:
    return read_papers_file(BUNDLED)
