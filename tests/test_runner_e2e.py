"""`tracker run --once` drives the whole cycle against the local stand-ins: arXiv
replay -> store/classify -> Telegram digest (Bot API stand-in) -> weekly email
(aiosmtpd) -> proposal pushed to a bare git remote with a draft PR (GitHub stand-in)."""

from __future__ import annotations

import json
import sqlite3

from e2e_support import NOW, SEED, stand_ins
from forge_support import git, make_remote

from tracker.standins.arxiv import ArxivReplay
from tracker.standins.github import GitHubStandin
from tracker.standins.smtp import SmtpStandin
from tracker.standins.telegram import TelegramStandin


def test_run_once_drives_the_full_cycle_against_the_stand_ins(tmp_path, run_cli, monkeypatch, write_config):
    remote = make_remote(tmp_path, SEED.read_text(encoding="utf-8"))
    with ArxivReplay() as arxiv, TelegramStandin() as tg, SmtpStandin() as smtp, GitHubStandin(token="gh-e2e") as gh:
        monkeypatch.setenv("E2E_TELEGRAM_TOKEN", tg.token)
        monkeypatch.setenv("E2E_GITHUB_TOKEN", "gh-e2e")
        (tmp_path / "llm-survey.md").write_bytes(SEED.read_bytes())
        config = write_config(stand_ins(arxiv, tg, smtp, gh, remote))
        code, out, err = run_cli("--config", str(config), "run", "--once", "--now", NOW, "--json")
        sent, received, pulls = tg.sent(4242), list(smtp.received), dict(gh.pulls)
    assert code == 0, err
    results = {r["job"]: r for r in json.loads(out)}
    assert [(j, r["outcome"]) for j, r in results.items()] == [
        ("poll", "ok"), ("digest", "ok"), ("email", "ok"), ("propose", "ok")]
    assert results["poll"]["new"] > 0
    assert sent and results["digest"]["sent"] == len(sent), (out, err)
    assert len(received) == 1 and received[0].recipients == ("maintainer@example.org",)
    assert len(pulls) == 1 and next(iter(pulls.values()))["draft"] is True
    assert "tracker/proposals" in git("branch", "--list", cwd=remote)
    db = sqlite3.connect(tmp_path / "data" / "tracker.db")
    rows = db.execute("SELECT job, trigger, outcome FROM job_runs ORDER BY id").fetchall()
    assert rows == [("poll", "once", "ok"), ("digest", "once", "ok"), ("email", "once", "ok"), ("propose", "once", "ok")]
    assert "gh-e2e" not in err and tg.token not in err

    # The same cycle again: nothing new to deliver, and the weekly email is not due twice.
    with ArxivReplay() as arxiv, TelegramStandin() as tg, SmtpStandin() as smtp, GitHubStandin(token="gh-e2e") as gh:
        (tmp_path / "llm-survey.md").write_bytes(SEED.read_bytes())
        write_config(stand_ins(arxiv, tg, smtp, gh, remote))
        monkeypatch.setenv("E2E_TELEGRAM_TOKEN", tg.token)
        code, out, err = run_cli("--config", str(config), "run", "--once", "--now", NOW, "--json")
        again = {r["job"]: r for r in json.loads(out)}
        sent_again = tg.sent(4242)
        assert code == 0, err
        assert again["digest"]["outcome"] == "ok" and again["digest"]["papers"] == 0 and sent_again == []  # every paper was delivered the first time
        assert again["email"]["outcome"] == "skipped" and not smtp.received
        assert again["poll"]["new"] == 0
