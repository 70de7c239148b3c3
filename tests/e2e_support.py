"""Shared by the end-to-end runner tests: the config tables wiring every stand-in, the seed, the pinned time."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "fixtures" / "seed" / "llm-survey.md"
NOW = "2025-11-03T14:00:00Z"  # a Monday, 09:00 in New York: the weekly email is due
SHIPPED = tomllib.loads((ROOT / "config" / "tracker.toml").read_text(encoding="utf-8"))


def stand_ins(arxiv, tg, smtp, gh, remote: Path) -> dict[str, Any]:
    """The config layer for `write_config(stand_ins(...))` (conftest): the shipped sections and digest,
    the survey at llm-survey.md (the test copies the seed there), every service at its stand-in."""
    return {
        "survey": {"path": "llm-survey.md"},
        "output": {"path": "out"},
        "arxiv": {"api_url": arxiv.api_url, "rss_url": arxiv.rss_url, "categories": ["cs.CL", "cs.LG", "cs.AI"],
                  "delay_seconds": 0},
        "scope": {"any": ["language model", "LLM", "transformer"]},
        "telegram": {"api_url": tg.url, "token_env": "E2E_TELEGRAM_TOKEN", "chat_ids": [4242], "retries": 1},
        "email": {"host": "127.0.0.1", "port": smtp.port, "security": "none", "from": "tracker@example.org",
                  "to": ["maintainer@example.org"]},
        "github": {"remote_url": str(remote), "repo": "owner/survey", "base": "main", "survey_path": "README.md",
                   "api_url": gh.url, "token_env": "E2E_GITHUB_TOKEN"},
        "propose": {"auto_accept_score": 3},
        "schedule": {"timezone": "America/New_York"},
        "sections": SHIPPED["sections"],
        "digest": SHIPPED["digest"],
    }
