"""SIGTERM/SIGINT: the job in progress finishes and is recorded, nothing new starts,
the process exits 0 and leaves no "running" rows. Real processes, real signals."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from runner_support import RUNNER, TELEGRAM, read_until, start_driver

from tracker.store import jobs, open_store

TRACKER = [sys.executable, "-m", "tracker"]


def job_rows(tmp_path):
    conn = sqlite3.connect(tmp_path / "data" / "tracker.db")
    try:
        return conn.execute("SELECT job, trigger, outcome, summary FROM job_runs ORDER BY id").fetchall()
    finally:
        conn.close()


def stop_mid_job(proc, sig: int) -> tuple[str, str]:
    """Wait for the slow poll to start, signal, wait until the process says it is
    stopping, then let the poll finish."""
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(sig)
    seen = read_until(proc.stderr, "run.stopping")
    out, err = proc.communicate("go\n", timeout=60)
    return out, "".join(seen) + err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_daemon_finishes_the_running_job_then_exits_0(tmp_path, sig, write_config):
    config = write_config(RUNNER, TELEGRAM)
    db = open_store(tmp_path / "data" / "tracker.db")
    long_ago = datetime.now(timezone.utc) - timedelta(days=3)
    jobs.record_job_finish(db, jobs.record_job_start(db, "digest", long_ago), long_ago, jobs.OK)
    db.close()  # so a digest catch-up is queued behind the slow poll
    proc = start_driver(config)
    out, err = stop_mid_job(proc, sig)
    assert proc.returncode == 0, err
    assert "ran digest" not in out
    assert "job.skipped" in err and "job=digest" in err and "shutting down" in err
    assert "run.stopped" in err
    rows = job_rows(tmp_path)
    assert [r[:3] for r in rows] == [("digest", "schedule", "ok"), ("poll", "catch-up", "ok")]
    assert json.loads(rows[1][3])["new"] == 7


def test_once_finishes_the_current_stage_and_skips_the_rest(tmp_path, write_config):
    proc = start_driver(write_config(RUNNER, TELEGRAM), "--once")
    out, err = stop_mid_job(proc, signal.SIGTERM)
    assert proc.returncode == 0, err
    assert "ran" not in out and "run.stopped" in err and "remaining=digest,email,propose" in err
    assert [r[:3] for r in job_rows(tmp_path)] == [("poll", "once", "ok")]


def test_sigterm_during_a_real_poll_against_the_arxiv_replay(tmp_path, write_config):
    from poll_support import LLM_ALL, arxiv_at, expected_ids

    from tracker.standins.arxiv import ArxivReplay

    with ArxivReplay(latency=0.03) as server:
        config = write_config(arxiv=arxiv_at(server.api_url, server.rss_url, page_size=20), sections=[LLM_ALL])
        proc = subprocess.Popen([*TRACKER, "--config", str(config), "run", "--once", "--now", "2025-11-01T00:00:00Z"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while len(server.api_requests()) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # waiting for the poll to page, not for a schedule
        assert proc.poll() is None, "the poll ended before the signal could be sent"
        proc.send_signal(signal.SIGTERM)
        pages_at_signal = len(server.api_requests())
        out, err = proc.communicate(timeout=120)
        pages = len(server.api_requests())
    assert pages > pages_at_signal, "the poll did not go on after the signal"
    assert proc.returncode == 0, err
    assert "run.stopping" in err and "remaining=digest,email,propose" in err
    conn = sqlite3.connect(tmp_path / "data" / "tracker.db")
    papers = {r[0] for r in conn.execute("SELECT id FROM papers")}
    polls = conn.execute("SELECT source, outcome FROM poll_runs ORDER BY id").fetchall()
    runs = conn.execute("SELECT job, outcome FROM job_runs").fetchall()
    assert papers == expected_ids()
    assert polls == [("api", "ok"), ("rss", "ok")]
    assert runs == [("poll", "ok")]
