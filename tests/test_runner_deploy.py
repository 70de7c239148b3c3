"""deploy/: the GitHub Actions state-branch steps run for real against a local bare
repository (restore on first run, save, restore in a fresh checkout, one commit kept),
and the files the README promises exist."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tracker.store import jobs, open_store

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "deploy" / "github-actions" / "tracker.yml"


def step_script(name_prefix: str) -> str:
    """The `run: |` block of the workflow step whose name starts with `name_prefix`."""
    lines = WORKFLOW.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(f"- name: {name_prefix}"))
    run = next(i for i in range(start, len(lines)) if lines[i].strip() == "run: |")
    indent = len(lines[run + 1]) - len(lines[run + 1].lstrip())
    body = []
    for line in lines[run + 1:]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        body.append(line[indent:])
    return "\n".join(body) + "\n"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def run_step(name: str, cwd: Path, remote: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "STATE_BRANCH": "tracker-state", "DATA_DIR": "data", "STATE_REMOTE": str(remote),
           "GITHUB_RUN_ID": "42", "GIT_CONFIG_GLOBAL": "/dev/null"}
    return subprocess.run(["bash", "-e", "-c", step_script(name)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_state_branch_round_trip(tmp_path):
    remote = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    seed = tmp_path / "seed"
    git("init", "-q", "-b", "main", str(seed), cwd=tmp_path)
    (seed / "README.md").write_text("survey\n")
    git("add", "README.md", cwd=seed)
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "init", cwd=seed)
    git("push", "-q", str(remote), "main", cwd=seed)

    first = tmp_path / "run1"
    git("clone", "-q", str(remote), str(first), cwd=tmp_path)
    restored = run_step("Restore state", first, remote)
    assert restored.returncode == 0 and "first run" in restored.stdout
    db = open_store(first / "data" / "tracker.db")
    jobs.record_job_finish(db, jobs.record_job_start(db, "poll", jobs.parse("2024-01-08T01:30:00+00:00")),
                           jobs.parse("2024-01-08T01:31:00+00:00"), jobs.OK)
    db.close()
    for _ in range(2):
        saved = run_step("Save state", first, remote)
        assert saved.returncode == 0, saved.stderr
    assert git("rev-list", "--count", "tracker-state", cwd=remote).strip() == "1"
    assert git("ls-tree", "--name-only", "tracker-state", cwd=remote).split() == ["tracker.db"]

    second = tmp_path / "run2"
    git("clone", "-q", str(remote), str(second), cwd=tmp_path)
    restored = run_step("Restore state", second, remote)
    assert restored.returncode == 0, restored.stderr
    db = open_store(second / "data" / "tracker.db")
    assert jobs.LEDGER.last_success(db, "poll").started_at == jobs.parse("2024-01-08T01:30:00+00:00")


def test_deploy_files_exist():
    names = {p.relative_to(ROOT / "deploy").as_posix() for p in (ROOT / "deploy").rglob("*") if p.is_file()}
    assert {"Dockerfile", "docker-compose.yml", "tracker.service", "tracker.env.example",
            "github-actions/tracker.yml", "README.md"} <= names
