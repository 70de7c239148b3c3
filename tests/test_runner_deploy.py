"""deploy/: the GitHub Actions state steps, run for real as the workflow runs them
(its `run:` lines, which call deploy/state-restore.sh and deploy/state-save.sh)
against scratch git repositories: a bare remote, an unreachable one, two runs in a
row, and a save racing another run. Plus the paths every deployment agrees on."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from tracker.store import jobs, open_store

WORKFLOW = ROOT / "deploy" / "github-actions" / "tracker.yml"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def step_run(name_prefix: str) -> str:
    """The `run:` command of the workflow step whose name starts with `name_prefix`."""
    lines = WORKFLOW.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(f"- name: {name_prefix}"))
    run = next(lines[i] for i in range(start + 1, len(lines)) if lines[i].strip().startswith("run:"))
    return run.split("run:", 1)[1].strip()


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def checkout(tmp_path: Path, remote: Path, name: str) -> Path:
    """A fresh runner: clone of the repository with deploy/ in it, as actions/checkout leaves it."""
    work = tmp_path / name
    git("clone", "-q", str(remote), str(work), cwd=tmp_path)
    shutil.copytree(ROOT / "deploy", work / "deploy")
    return work


def step(name: str, work: Path, remote: str | Path = "origin") -> subprocess.CompletedProcess:
    env = {**os.environ, "STATE_BRANCH": "tracker-state", "TRACKER_DATA_DIR": str(work / "data"),
           "STATE_REMOTE": str(remote), "GITHUB_RUN_ID": "42", "GIT_CONFIG_GLOBAL": "/dev/null",
           "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(["bash", "-e", "-c", step_run(name)], cwd=work, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def remote(tmp_path) -> Path:
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    seed = tmp_path / "seed"
    git("init", "-q", "-b", "main", str(seed), cwd=tmp_path)
    (seed / "README.md").write_text("survey\n")
    git("add", "README.md", cwd=seed)
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "init", cwd=seed)
    git("push", "-q", str(bare), "main", cwd=seed)
    return bare


def record_poll(work: Path, started: str) -> None:
    db = open_store(work / "data" / "tracker.db")
    jobs.record_job_finish(db, jobs.record_job_start(db, "poll", jobs.parse(started)), jobs.parse(started), jobs.OK)
    db.close()


def last_poll(work: Path):
    db = open_store(work / "data" / "tracker.db")
    try:
        return jobs.LEDGER.last_success(db, "poll").started_at
    finally:
        db.close()


def test_workflow_steps_call_the_tested_scripts():
    assert step_run("Restore state") == "bash deploy/state-restore.sh"
    assert step_run("Save state") == "bash deploy/state-save.sh"
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "if: always() && steps.restore.outcome == 'success'" in text
    assert "TRACKER_DATA_DIR: ${{ github.workspace }}/data" in text and "--force" not in text


def test_two_runs_in_a_row_keep_the_state_as_one_commit(tmp_path, remote):
    first = checkout(tmp_path, remote, "run1")
    restored = step("Restore state", first)
    assert restored.returncode == 0 and "first run" in restored.stdout, restored.stderr
    record_poll(first, "2024-01-08T01:30:00+00:00")
    saved = step("Save state", first)
    assert saved.returncode == 0, saved.stderr
    assert git("ls-tree", "--name-only", "tracker-state", cwd=remote).split() == ["tracker.db"]

    second = checkout(tmp_path, remote, "run2")
    assert step("Restore state", second).returncode == 0
    assert last_poll(second) == jobs.parse("2024-01-08T01:30:00+00:00")
    record_poll(second, "2024-01-09T01:30:00+00:00")
    assert step("Save state", second).returncode == 0, "the second run saves over the state it restored"
    assert git("rev-list", "--count", "tracker-state", cwd=remote).strip() == "1"
    assert git("branch", "--list", cwd=second).split() == ["*", "main"], "the checkout's branches stay untouched"

    third = checkout(tmp_path, remote, "run3")
    assert step("Restore state", third).returncode == 0
    assert last_poll(third) == jobs.parse("2024-01-09T01:30:00+00:00")


def test_unreachable_remote_fails_the_restore_and_blocks_the_save(tmp_path, remote):
    first = checkout(tmp_path, remote, "run1")
    step("Restore state", first)
    record_poll(first, "2024-01-08T01:30:00+00:00")
    assert step("Save state", first).returncode == 0
    state = git("rev-parse", "tracker-state", cwd=remote)

    second = checkout(tmp_path, remote, "run2")
    gone = tmp_path / "moved-away.git"
    restored = step("Restore state", second, remote=gone)
    assert restored.returncode != 0 and "not starting from an empty database" in restored.stderr
    assert not (second / "data" / "tracker.db").exists()
    record_poll(second, "2024-02-01T01:30:00+00:00")  # the run went ahead anyway (e.g. a hand-written workflow)
    saved = step("Save state", second)
    assert saved.returncode != 0 and "did not complete" in saved.stderr
    assert git("rev-parse", "tracker-state", cwd=remote) == state


def test_branch_that_cannot_be_fetched_is_not_a_first_run(tmp_path, remote):
    first = checkout(tmp_path, remote, "run1")
    step("Restore state", first)
    record_poll(first, "2024-01-08T01:30:00+00:00")
    step("Save state", first)
    # the branch is listed but its objects are gone (a broken or half-mirrored remote)
    sha = git("rev-parse", "tracker-state", cwd=remote).strip()
    obj = remote / "objects" / sha[:2] / sha[2:]
    assert obj.exists()
    obj.unlink()
    second = checkout(tmp_path, remote, "run2")
    restored = step("Restore state", second)
    assert restored.returncode != 0 and "could not be fetched" in restored.stderr
    assert "first run" not in restored.stdout


def test_save_never_replaces_state_it_did_not_start_from(tmp_path, remote):
    first = checkout(tmp_path, remote, "run1")
    step("Restore state", first)
    record_poll(first, "2024-01-08T01:30:00+00:00")
    step("Save state", first)

    slow, fast = checkout(tmp_path, remote, "slow"), checkout(tmp_path, remote, "fast")
    assert step("Restore state", slow).returncode == 0 and step("Restore state", fast).returncode == 0
    record_poll(fast, "2024-01-09T01:30:00+00:00")
    assert step("Save state", fast).returncode == 0
    kept = git("rev-parse", "tracker-state", cwd=remote)
    record_poll(slow, "2024-01-10T01:30:00+00:00")
    saved = step("Save state", slow)
    assert saved.returncode != 0 and "no longer the state this run started from" in saved.stderr
    assert git("rev-parse", "tracker-state", cwd=remote) == kept

    # two first runs: the second finds the branch the first created
    other = tmp_path / "other.git"
    git("init", "-q", "--bare", "-b", "main", str(other), cwd=tmp_path)
    a, b = checkout(tmp_path, remote, "a"), checkout(tmp_path, remote, "b")
    for work in (a, b):
        assert step("Restore state", work, other).returncode == 0
        record_poll(work, "2024-03-01T01:30:00+00:00")
    assert step("Save state", a, other).returncode == 0
    assert step("Save state", b, other).returncode != 0


def test_no_database_is_not_an_error(tmp_path, remote):
    work = checkout(tmp_path, remote, "run1")
    assert step("Restore state", work).returncode == 0
    saved = step("Save state", work)
    assert saved.returncode == 0 and "nothing to save" in saved.stdout
    assert "tracker-state" not in git("branch", "--list", cwd=remote)


def test_deploy_files_exist():
    names = {p.relative_to(ROOT / "deploy").as_posix() for p in (ROOT / "deploy").rglob("*") if p.is_file()}
    assert {"Dockerfile", "docker-compose.yml", "tracker.service", "tracker.env.example", "state-restore.sh",
            "state-save.sh", "github-actions/tracker.yml", "README.md"} <= names


def test_every_deployment_puts_the_data_in_one_named_folder():
    """The image, the unit and the workflow all set TRACKER_DATA_DIR, which decides
    where tracker.db and out/ live whatever the config says (see test_cli_data_dir)."""
    assert "TRACKER_DATA_DIR=/data" in (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert "Environment=TRACKER_DATA_DIR=/var/lib/tracker" in (ROOT / "deploy" / "tracker.service").read_text(encoding="utf-8")
    assert "TRACKER_DATA_DIR:" in WORKFLOW.read_text(encoding="utf-8")


def test_cli_data_dir_overrides_the_config_paths(tmp_path, run_cli, monkeypatch):
    config = tmp_path / "conf" / "tracker.toml"
    config.parent.mkdir()
    for name in ("llm-survey.md", "relevance.tsv"):
        shutil.copy(ROOT / "config" / name, config.parent / name)
    config.write_text((ROOT / "config" / "tracker.toml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "state"))
    code, out, err = run_cli("--config", str(config), "decide", "2401.00001", "reject")
    assert (tmp_path / "state" / "tracker.db").exists()
    assert not (tmp_path / "data").exists() and not (config.parent / "data").exists()
