"""Single instance: a second `tracker run` on the same data directory exits 1 with a
clear message; the lock is an flock, so a SIGKILLed holder frees it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

from runner_support import RUNNER, start_driver

TRACKER = [sys.executable, "-m", "tracker"]


def test_second_run_exits_1_then_a_killed_holder_frees_the_lock(tmp_path, write_config):
    config = write_config(RUNNER)
    first = start_driver(config)  # the daemon: its start-up poll blocks, holding run.lock
    try:
        assert first.stdout.readline().strip() == "started"
        for args in (["run"], ["run", "--once"]):
            second = subprocess.run([*TRACKER, "--config", str(config), *args], capture_output=True, text=True,
                                    timeout=60)
            assert second.returncode == 1
            assert "error: another tracker run is already running on" in second.stderr
            assert "run.lock" in second.stderr
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
    assert first.returncode == -signal.SIGKILL

    again = start_driver(config, "--once")
    out, err = again.communicate("go\n", timeout=60)
    assert again.returncode == 0, err
    assert out.splitlines()[:2] == ["started", "ran propose"] and "poll     ok       new=7" in out
    conn = sqlite3.connect(tmp_path / "data" / "tracker.db")
    rows = conn.execute("SELECT job, trigger, outcome FROM job_runs WHERE job = 'poll' ORDER BY id").fetchall()
    assert rows == [("poll", "catch-up", "interrupted"), ("poll", "once", "ok")]
