"""Acceptance checks of the scheduler daemon and `run --once` found by driving the
real daemon against the local stand-ins (issue 8). Fast: injected clocks and stages."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from test_forge_support import make_remote
from test_runner_e2e import NOW, SEED, write_config

from tracker.config import load_config
from tracker.standins.arxiv import ArxivReplay
from tracker.standins.github import GitHubStandin
from tracker.standins.smtp import SmtpStandin
from tracker.standins.telegram import TelegramStandin


def test_a_relative_config_path_gives_absolute_data_paths(tmp_path, monkeypatch):
    (tmp_path / "tracker.toml").write_text('[survey]\npath = "s.md"\n[store]\npath = "data/tracker.db"\n'
                                        '[[sections]]\nid = "a"\nheading = "A"\nany = ["x"]\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = load_config("tracker.toml")
    assert config.store.path.is_absolute()
    assert config.data_dir.resolve() == (tmp_path / "data").resolve()


def test_run_once_with_a_relative_config_path_opens_the_pr(tmp_path, run_cli, monkeypatch):
    """`--config tracker.toml` (or the default config/tracker.toml) from the config's
    folder: propose --pr used to fail with "git is not installed", because the forge
    clone folder was relative and git ran with it as cwd after changing directory."""
    remote = make_remote(tmp_path, SEED.read_text(encoding="utf-8"))
    with ArxivReplay() as arxiv, TelegramStandin() as tg, SmtpStandin() as smtp, GitHubStandin(token="gh-e2e") as gh:
        monkeypatch.setenv("E2E_TELEGRAM_TOKEN", tg.token)
        monkeypatch.setenv("E2E_GITHUB_TOKEN", "gh-e2e")
        write_config(tmp_path, arxiv, tg, smtp, gh, remote)
        monkeypatch.chdir(tmp_path)
        code, out, err = run_cli("--config", "tracker.toml", "run", "--once", "--now", NOW, "--json")
        pulls = dict(gh.pulls)
    results = {r["job"]: r for r in json.loads(out)}
    assert results["propose"]["outcome"] == "ok", results["propose"]
    assert code == 0, err
    assert len(pulls) == 1
