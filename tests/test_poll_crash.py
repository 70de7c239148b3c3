"""A real `tracker poll` process SIGKILLed mid-run: the database stays consistent and the
next poll stores exactly the full set. Two polls at once: the second exits with a clear message."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from poll_support import LLM_ALL, arxiv_at, expected_ids

from tracker.standins.arxiv import ArxivReplay

TRACKER = [sys.executable, "-m", "tracker"]
NOW = "2025-11-01T00:00:00Z"


def start_poll(config: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*TRACKER, "--config", str(config), "poll", "--source", "api", "--now", NOW, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def read_db(path: Path) -> tuple[str, set[str], list[str]]:
    conn = sqlite3.connect(path)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        ids = {r[0] for r in conn.execute("SELECT id FROM papers")}
        outcomes = [r[0] for r in conn.execute("SELECT outcome FROM poll_runs ORDER BY id")]
    finally:
        conn.close()
    return check, ids, outcomes


@pytest.mark.parametrize("kill_after", [1, 4, 9, 15])
def test_sigkill_mid_poll_then_the_next_poll_stores_exactly_the_full_set(tmp_path, kill_after, write_config):
    with ArxivReplay(latency=0.03) as server:
        config = write_config(arxiv=arxiv_at(server.api_url, server.rss_url, page_size=20), sections=[LLM_ALL])
        db_path = tmp_path / "data" / "tracker.db"
        proc = start_poll(config)
        wait_for(lambda: len(server.api_requests()) >= kill_after or proc.poll() is not None, "the poll to page")
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        check, partial, outcomes = read_db(db_path)
        assert check == "ok"
        assert outcomes == ["running"]
        assert partial < expected_ids()
        server.latency = 0.0
        done = subprocess.run([*TRACKER, "--config", str(config), "poll", "--source", "api", "--now", NOW],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        check, ids, outcomes = read_db(db_path)
        assert check == "ok" and ids == expected_ids()
        assert outcomes == ["interrupted", "ok"]


def test_two_polls_at_once_second_exits_with_a_clear_message(tmp_path, write_config):
    # slow enough that the first poll still holds the lock after a second process starts on a loaded machine
    with ArxivReplay(latency=0.2) as server:
        config = write_config(arxiv=arxiv_at(server.api_url, server.rss_url, page_size=20), sections=[LLM_ALL])
        first = start_poll(config)
        wait_for(lambda: len(server.api_requests()) >= 2 or first.poll() is not None, "the first poll to start")
        second = subprocess.run([*TRACKER, "--config", str(config), "poll", "--source", "api", "--now", NOW,
                                 "--wait", "0.2"], capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "error: another poll is already running" in second.stderr
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        check, ids, outcomes = read_db(tmp_path / "data" / "tracker.db")
        assert check == "ok" and ids == expected_ids() and outcomes == ["ok"]
