"""Helpers for the scheduler/runner tests: a temp config and recording stage fakes."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from tracker.config import Config, load_config

TELEGRAM = """
[telegram]
token_env = "TEST_TELEGRAM_TOKEN"
chat_ids = [1]
"""
EMAIL = """
[email]
host = "127.0.0.1"
from = "tracker@example.org"
to = ["maintainer@example.org"]
security = "none"
port = 2525
"""
GITHUB = """
[github]
remote_url = "/nonexistent/remote.git"
repo = "owner/survey"
"""
ALL_SERVICES = TELEGRAM + EMAIL + GITHUB


def write_config(tmp: Path, extra: str = "", schedule: str = "") -> Path:
    text = f"""
[survey]
path = "survey.md"
[store]
path = "data/tracker.db"
{extra}
[schedule]
{schedule if "timezone" in schedule else 'timezone = "America/New_York"'}
{"" if "timezone" in schedule else schedule}
[[sections]]
id = "llm"
heading = "Language models"
any = ["language model"]
"""
    path = tmp / "tracker.toml"
    path.write_text(text, encoding="utf-8")
    return path


def make_config(tmp: Path, extra: str = "", schedule: str = "") -> Config:
    return load_config(write_config(tmp, extra, schedule))


@dataclass
class Report:
    ok: bool = True
    new: int = 0
    sources: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "new": self.new, "sources": self.sources}


@dataclass
class Recorder:
    """Stage fakes that record (stage, now) calls; `behave` maps a stage to a callable
    run inside it (raise to fail, wait on an event to be slow)."""

    behave: dict[str, Callable[[], Any]] = field(default_factory=dict)
    calls: list[tuple[str, datetime]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stage(self, name: str):
        def run(config: Config, db: Any, now: datetime) -> Any:
            with self.lock:
                self.calls.append((name, now))
            action = self.behave.get(name)
            result = action() if action else None
            return result if result is not None else Report(new=len(self.calls))

        return run

    def stages(self) -> dict[str, Callable[..., Any]]:
        return {n: self.stage(n) for n in ("poll", "digest", "email", "propose")}

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.calls]
