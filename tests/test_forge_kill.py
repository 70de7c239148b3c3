"""Issue 15 finding 3: SIGKILL of tracker together with its git child during `propose --pr`
(systemd's KillMode=mixed, the OOM killer) used to leave the cache clone unusable (an
`index.lock`, "uncommitted changes", "not a usable git clone") until someone deleted it.
Here a `git` on PATH kills tracker and the real git at each git step; the next run must
succeed, against a local bare remote and the GitHub stand-in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SEED
from forge_support import PROPOSE, github_at, make_remote, remote_file
from tracker.config import load_config
from tracker.models import Match, SectionScore
from tracker.run.demo import sample_papers
from tracker.standins.github import GitHubStandin
from tracker.store import open_store
from tracker.store.classifications import save_classifications
from tracker.store.decisions import record_decision
from tracker.store.papers import upsert_papers

TOKEN = "ghp_killTestSecretToken321"
REAL_GIT = shutil.which("git")
# Runs the real git; at the chosen step (once) it SIGKILLs tracker (its parent) and its own
# process group (itself and the real git, started by tracker in a group of its own).
KILLER = """#!/bin/bash
args=("$@"); i=0
while [ "${args[$i]}" = "-c" ]; do i=$((i+2)); done
if [ "${args[$i]}" = "$KILL_AT" ] && [ ! -e "$KILL_MARK" ]; then
  touch "$KILL_MARK"
  "$REAL_GIT" "$@" <&0 >/dev/null 2>&1 &  # <&0: a background job would read /dev/null (git apply's patch is on stdin)
  sleep "$KILL_DELAY"
  kill -KILL "$PPID" $!
  kill -KILL -- -$$ 2>/dev/null
  kill -KILL $$
fi
exec "$REAL_GIT" "$@"
"""
# (step, seconds before the kill): at once, or once git is under way; one of each per step
# keeps the suite short, and both kinds of state (nothing yet, half done) are covered.
STEPS = [("clone", "0.05"), ("fetch", "0"), ("checkout", "0.05"), ("apply", "0.05"), ("commit", "0"), ("push", "0.05")]


def run_propose(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker", "--config", str(config), "propose", "--pr"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.mark.skipif(REAL_GIT is None, reason="git is not installed")
@pytest.mark.parametrize("step,delay", STEPS)
def test_killed_with_its_git_child_at_each_step_the_next_run_succeeds(tmp_path, step, delay, write_config):
    survey = tmp_path / "llm-survey.md"
    shutil.copyfile(SEED, survey)
    bare = make_remote(tmp_path, SEED.read_text(encoding="utf-8"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(KILLER)
    (bin_dir / "git").chmod(0o755)
    mark = tmp_path / "killed"
    base_env = {**os.environ, "TRACKER_TEST_GH_TOKEN": TOKEN, "REAL_GIT": REAL_GIT or "git"}
    killer_env = {**base_env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "KILL_AT": step,
                  "KILL_MARK": str(mark), "KILL_DELAY": delay}
    with GitHubStandin(token=TOKEN) as gh:
        config = load_config(write_config(PROPOSE, survey={"path": str(survey)}, github=github_at(bare, gh.url)))
        db = open_store(config.store.path)
        paper = [p for p in sample_papers() if "language model" in p.abstract.lower()][0]
        upsert_papers(db, [paper], "api")
        section = config.section("decoder_only")
        save_classifications(db, [(paper.id, [SectionScore(section.id, section.heading, 3.0, (Match("LLM", "title"),))])], "t")
        record_decision(db, paper.id, "accept")
        db.conn.close()
        if step != "clone":  # the clone exists from an earlier, good run
            first = run_propose(config.file, base_env)
            assert first.returncode == 0, first.stderr
        killed = run_propose(config.file, killer_env)
        assert mark.exists() and killed.returncode == -9, (killed.returncode, killed.stderr)
        after = run_propose(config.file, base_env)
        assert after.returncode == 0, after.stderr
        assert "Traceback" not in after.stderr
        assert list(gh.pulls) == [1] and gh.pulls[1]["state"] == "open"
        assert paper.id in remote_file(bare, "tracker/proposals", "README.md")
