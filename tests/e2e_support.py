"""Shared by the end-to-end runner tests: a config wiring every stand-in, the seed, the pinned time."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "fixtures" / "seed" / "llm-survey.md"
NOW = "2025-11-03T14:00:00Z"  # a Monday, 09:00 in New York: the weekly email is due


def write_config(tmp: Path, arxiv, tg, smtp, gh, remote: Path) -> Path:
    shipped = (ROOT / "config" / "tracker.toml").read_text(encoding="utf-8")
    sections = "[[sections]]" + shipped.partition("[[sections]]")[2].split("[propose]")[0]
    survey = tmp / "llm-survey.md"
    survey.write_bytes(SEED.read_bytes())
    text = f"""
[survey]
path = "llm-survey.md"
[store]
path = "data/tracker.db"
[output]
path = "out"
[arxiv]
api_url = "{arxiv.api_url}"
rss_url = "{arxiv.rss_url}"
categories = ["cs.CL", "cs.LG", "cs.AI"]
delay_seconds = 0
[scope]
any = ["language model", "LLM", "transformer"]
[telegram]
api_url = "{tg.url}"
token_env = "E2E_TELEGRAM_TOKEN"
chat_ids = [4242]
retries = 1
[email]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
from = "tracker@example.org"
to = ["maintainer@example.org"]
[github]
remote_url = "{remote}"
repo = "owner/survey"
base = "main"
survey_path = "README.md"
api_url = "{gh.url}"
token_env = "E2E_GITHUB_TOKEN"
[propose]
auto_accept_score = 3
[schedule]
timezone = "America/New_York"
{sections}
"""
    path = tmp / "tracker.toml"
    path.write_text(text, encoding="utf-8")
    return path
