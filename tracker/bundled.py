"""The files that ship with tracker: the example config, the seed survey and the
recorded arXiv listings `tracker demo` serves.

An installed wheel carries them as package data under tracker/bundled/ (pyproject's
force-include maps the checkout's files there); a source checkout or an editable
install reads them where they live in the repository. One lookup for both, so the
demo runs the same from `pip install .` as from a clone.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
SOURCES = {
    "tracker.toml": "config/tracker.toml",
    "llm-survey.md": "config/llm-survey.md",
    "relevance.tsv": "config/relevance.tsv",
    "listings.jsonl.gz": "tests/fixtures/listings/sample-2025-10-29_31.jsonl.gz",
}


def bundled(name: str) -> Path:
    """The packaged copy of `name` when installed from a wheel, else the checkout's file."""
    packaged = files("tracker").joinpath("bundled", name)
    if packaged.is_file():
        return Path(str(packaged))
    return CHECKOUT / SOURCES[name]
