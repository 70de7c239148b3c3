"""Shared test helpers: fixture paths, the one `write_config` fixture, and a way to run
the CLI in-process."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = FIXTURES / "seed" / "llm-survey.md"
SURVEYS = FIXTURES / "surveys"
DEFAULT_CONFIG = ROOT / "config" / "tracker.toml"

# `### Papers` under each topic: the survey ids are `papers` and `papers-2` (lines 5 and 12).
REPEATED_HEADINGS = (
    "# Awesome SSM\n\n## Vision\n\n### Papers\n\n"
    "- **Vision Mamba Backbone**. 2024. [pdf](https://arxiv.org/abs/2401.09417)\n"
    "- **VMamba Visual State Space Model**. 2024. [pdf](https://arxiv.org/abs/2401.10166)\n\n"
    "## Speech\n\n### Papers\n\n"
    "- **Speech Separation with Mamba**. 2024. [pdf](https://arxiv.org/abs/2403.18257)\n"
    "- **Speech Enhancement Mamba**. 2024. [pdf](https://arxiv.org/abs/2405.06573)\n"
)


def repeated_layer(*ids: str) -> dict[str, Any]:
    """A config layer on REPEATED_HEADINGS (as `survey.md`) with one `Papers` section per id."""
    return {"sections": [{"id": i, "heading": "Papers", "any": ["mamba"]} for i in ids]}

# The smallest valid config: every test states only the tables it changes.
MINIMAL_CONFIG: dict[str, Any] = {
    "survey": {"path": "survey.md"},
    "store": {"path": "data/tracker.db"},
    "sections": [{"id": "llm", "heading": "Language models", "any": ["language model"]}],
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `over` into `base`: tables merge key by key, anything else (arrays such as
    `sections` included) replaces, and None removes the key."""
    for key, value in over.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


@pytest.fixture
def write_config(tmp_path):
    """`write_config(*layers, **tables) -> Path`: writes `tracker.toml` (in `folder`, default
    tmp_path) from MINIMAL_CONFIG, or from the shipped config with `shipped=True`, deep-merged
    with each layer (a dict of tables a test module shares) and then with the given tables, e.g.
    `write_config(ALL_SERVICES, arxiv={"api_url": server.api_url}, telegram={"run_bot": None})`."""

    def write(*layers: dict[str, Any], folder: Path | None = None, shipped: bool = False, **tables: Any) -> Path:
        folder = tmp_path if folder is None else folder
        raw = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8")) if shipped else copy.deepcopy(MINIMAL_CONFIG)
        if shipped:
            raw["relevance"]["model"] = str(DEFAULT_CONFIG.parent / raw["relevance"]["model"])
        for layer in (*layers, tables):
            _merge(raw, layer)
        path = folder / "tracker.toml"
        path.write_text(tomli_w.dumps(raw), encoding="utf-8")
        return path

    return write


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
