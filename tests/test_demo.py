"""`tracker demo` is the production cycle against every stand-in: check what each received."""

from __future__ import annotations

import subprocess

from tracker.survey.parse import load_survey
from tracker.run.demo import run_demo


def test_demo_runs_the_whole_cycle_against_the_standins(tmp_path):
    lines: list[str] = []
    summary = run_demo(tmp_path, lines.append)

    assert summary["jobs"] == {"poll": "ok", "digest": "ok", "email": "ok", "propose": "ok"}
    assert summary["papers"] > 100
    assert summary["telegram_messages"] >= 1 and summary["emails"] == 1
    assert summary["decisions"] == 2
    assert summary["pull_request"] and summary["pull_request"].endswith("/pull/1")

    shown = "\n".join(lines)
    assert "Telegram messages, as the chat shows it" in shown and "<b>" not in shown.split("as the chat shows it")[1][:400]
    assert "Weekly email to maintainer@localhost: arXiv weekly" in shown

    messages = sorted((tmp_path / "telegram").glob("message-*.html"))
    assert messages and all(len(m.read_text(encoding="utf-8")) <= 4096 for m in messages)
    assert "arxiv.org/abs/" in messages[0].read_text(encoding="utf-8")
    assert "multipart/alternative" in (tmp_path / "email" / "weekly-01.eml").read_text(encoding="utf-8")

    remote = tmp_path / "demo" / "survey.git"
    added = subprocess.run(
        ["git", "--git-dir", str(remote), "diff", "main", "tracker/proposals", "--", "README.md"],
        capture_output=True, text=True, check=True,
    ).stdout
    plus = [l for l in added.splitlines() if l.startswith("+") and not l.startswith("+++")]
    minus = [l for l in added.splitlines() if l.startswith("-") and not l.startswith("---")]
    assert not minus and len([l for l in plus if "arxiv.org/abs/" in l]) == 2

    proposed = subprocess.run(
        ["git", "--git-dir", str(remote), "show", "tracker/proposals:README.md"], capture_output=True, text=True, check=True
    ).stdout
    survey = tmp_path / "proposed.md"
    survey.write_text(proposed, encoding="utf-8")
    ids = {e.arxiv_id for s in load_survey(survey).sections for e in s.entries}
    decisions = [l for l in lines if "-> decisions:" in l]
    accepted = [part.split()[0] for part in decisions[0].split("-> decisions:")[1].split(",")]
    assert len(accepted) == 2 and all("(telegram)" in decisions[0] for _ in accepted)
    assert set(accepted) <= ids
    assert (tmp_path / "patch-two-papers.diff").read_text(encoding="utf-8").count("\n+") >= 4
