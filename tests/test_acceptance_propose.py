"""Acceptance findings on `tracker propose [--pr]`: each test reproduces a bug found by
driving the command against a bare git remote and the GitHub stand-in."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import SEED
from delivery_fixtures import sample_papers
from forge_support import PROPOSE, github_at, make_remote

from tracker.config import load_config
from tracker.models import Match, SectionScore
from tracker.standins.github import GitHubStandin
from tracker.store import open_store
from tracker.store.classifications import save_classifications
from tracker.store.decisions import record_decision
from tracker.store.papers import upsert_papers

TOKEN = "ghp_acceptanceSecretToken789"


@pytest.mark.parametrize("open_pr", [False, True])
def test_unwritable_output_path_is_a_clean_error(tmp_path, monkeypatch, run_cli, open_pr, write_config):
    """output.path pointing at a regular file: was a FileExistsError traceback."""
    survey = tmp_path / "llm-survey.md"
    shutil.copyfile(SEED, survey)
    bare = make_remote(tmp_path, SEED.read_text(encoding="utf-8"))
    monkeypatch.setenv("TRACKER_TEST_GH_TOKEN", TOKEN)
    (tmp_path / "out").write_text("not a folder\n", encoding="utf-8")
    with GitHubStandin(token=TOKEN) as gh:
        config = load_config(write_config(PROPOSE, survey={"path": str(survey)}, github=github_at(bare, gh.url)))
        db = open_store(config.store.path)
        paper = sample_papers(1)[0]
        upsert_papers(db, [paper], "api")
        section = config.section("decoder_only")
        save_classifications(db, [(paper.id, [SectionScore(section.id, section.heading, 3.0, (Match("LLM", "title"),))])], "t")
        record_decision(db, paper.id, "accept")
        db.conn.close()
        code, out, err = run_cli("--config", str(config.file), "propose", *(["--pr"] if open_pr else []))
        assert code == 1 and "Traceback" not in err, err
        last = err.strip().splitlines()[-1]
        assert last.startswith("error: ") and str(tmp_path / "out") in last and "output.path" in last
        assert TOKEN not in out + err
        assert gh.pulls == {}
        branches = subprocess.run(["git", "--git-dir", str(bare), "branch", "--list"], capture_output=True, text=True).stdout
        assert "tracker/proposals" not in branches  # nothing pushed
        db = open_store(config.store.path)
        assert "proposals" not in db.table_names() or db["proposals"].count == 0
