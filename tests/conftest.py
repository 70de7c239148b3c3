"""Shared test helpers: fixture paths and a way to run the CLI in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = FIXTURES / "seed" / "llm-survey.md"
SURVEYS = FIXTURES / "surveys"
DEFAULT_CONFIG = ROOT / "config" / "tracker.toml"


@pytest.fixture
def run_cli(capsys):
    """Run `tracker ARGS...` in-process; returns (exit_code, stdout, stderr).
    The CLI's logging setup (handler, propagate=False) is undone afterwards so later
    tests still see `tracker` log records through caplog."""
    import logging

    from tracker.cli import main

    tracker_logger = logging.getLogger("tracker")
    saved = (tracker_logger.handlers[:], tracker_logger.propagate, tracker_logger.level)
    libs = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate, logging.getLogger(n).level)
            for n in ("httpx", "telegram", "apscheduler", "arxiv")}

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    tracker_logger.handlers[:], tracker_logger.propagate = saved[0], saved[1]
    tracker_logger.setLevel(saved[2])
    for name, (handlers, propagate, level) in libs.items():
        logging.getLogger(name).handlers[:], logging.getLogger(name).propagate = handlers, propagate
        logging.getLogger(name).setLevel(level)
