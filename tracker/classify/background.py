"""Background papers for learning rules: what a section's terms must stand out from.

The stored papers when there are any; otherwise a listings file (PAPERS.jsonl,
optionally gzipped); on a fresh install, the bundled three-day sample of real
cs.CL/cs.CV/cs.AI listings (554 papers).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from tracker.errors import InputError
from tracker.models import Paper, read_papers
from tracker.standins.arxiv_feeds import SAMPLE_LISTINGS as BUNDLED


def read_papers_file(path: str | Path) -> list[Paper]:
    """All papers of a PAPERS.jsonl or .jsonl.gz file; errors name the file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    return list(read_papers(io.StringIO(text), str(path)))


def bundled_background() -> list[Paper]:
    return read_papers_file(BUNDLED)
