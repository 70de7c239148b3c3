"""Helpers for the scheduler/runner tests: config layers and recording stage fakes."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from tracker.config import Config

# Config layers for `write_config(RUNNER, ALL_SERVICES, schedule={...})` (conftest).
RUNNER = {"schedule": {"timezone": "America/New_York"}}
TELEGRAM = {"telegram": {"token_env": "TEST_TELEGRAM_TOKEN",
                         "run_bot": False,  # the bot has its own tests; these drive the scheduler
                         "chat_ids": [1]}}
EMAIL = {"email": {"host": "127.0.0.1", "from": "tracker@example.org", "to": ["maintainer@example.org"],
                   "security": "none", "port": 2525}}
GITHUB = {"github": {"remote_url": "/nonexistent/remote.git", "repo": "owner/survey"}}
ALL_SERVICES = {**TELEGRAM, **EMAIL, **GITHUB}


@dataclass
class Report:
    """A fake StageReport."""

    ok: bool = True
    new: int = 0
    problems: list[str] = field(default_factory=list)
    extra: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"new": self.new, **self.extra}

    def errors(self) -> list[str]:
        return list(self.problems)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.counts(), "errors": self.problems}


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


# A real `tracker run` process whose stages are fakes: poll prints "started" and
# blocks until a line arrives on stdin, the others print "ran NAME".
DRIVER = r"""
import sys
from tracker.run import runner

class Done:
    ok = True
    def __init__(self, **counts):
        self._counts = counts
    def counts(self):
        return dict(self._counts)
    def errors(self):
        return []
    def to_json(self):
        return {"ok": True, **self._counts}

def slow(config, db, now):
    print("started", flush=True)
    sys.stdin.readline()
    return Done(new=7)

def quick(name):
    def stage(config, db, now):
        print("ran " + name, flush=True)
        return Done()
    return stage

runner.default_stages = lambda: {"poll": slow, "digest": quick("digest"), "email": quick("email"),
                                 "propose": quick("propose")}
from tracker.cli import main
main(["--config", sys.argv[1], "run", *sys.argv[2:]])
"""


def start_driver(config: Path, *args: str):
    import subprocess
    import sys

    import os

    env = {**os.environ, "TEST_TELEGRAM_TOKEN": "1:driver-token"}  # `run` refuses to start without the secret
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(config), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, env=env)


def read_until(stream, word: str) -> list[str]:
    """Lines of `stream` up to and including the first containing `word` (EOF fails)."""
    seen = []
    for line in stream:
        seen.append(line)
        if word in line:
            return seen
    raise AssertionError(f"{word!r} never appeared; got:\n{''.join(seen)}")
