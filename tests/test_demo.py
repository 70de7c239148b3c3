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


def test_demo_previews_a_users_own_list_and_rules_without_credentials(tmp_path, monkeypatch, write_config):
    """`tracker demo --config FILE`: the user's survey and rules, their services swapped
    for the stand-ins, so the digest, email and patch show before any token exists."""
    import shutil

    from conftest import SURVEYS

    monkeypatch.delenv("MY_BOT_TOKEN", raising=False)
    home = tmp_path / "mine"
    home.mkdir()
    shutil.copy(SURVEYS / "thunlp-PLMpapers__README.md", home / "README.md")
    config = write_config(
        folder=home,
        survey={"path": "README.md"},
        store=None,  # the demo keeps its own store
        arxiv={"categories": ["cs.CL"]},
        sections=[
            {"id": "compression", "heading": "Papers on Model Compression & Acceleration",
             "any": ["distillation", "quantization", "pruning", "model compression"]},
            {"id": "finetuning", "heading": "Papers on Finetuning or Adaptation", "any": ["fine-tuning", "LoRA", "adapter"]},
        ],
        telegram={"token_env": "MY_BOT_TOKEN", "chat_ids": [1]},
    )
    lines: list[str] = []
    summary = run_demo(tmp_path / "out", lines.append, config_file=config)

    assert summary["jobs"] == {"poll": "ok", "digest": "ok", "email": "ok", "propose": "ok"}
    assert summary["telegram_messages"] >= 1 and summary["emails"] == 1
    shown = "\n".join(lines)
    assert str(home / "README.md") in shown and "Papers on Model Compression" in shown
    remote = tmp_path / "out" / "demo" / "survey.git"
    proposed = subprocess.run(["git", "--git-dir", str(remote), "diff", "main", "tracker/proposals"],
                              capture_output=True, text=True, check=True).stdout
    assert "Must-Read Papers on Pre-trained Language Models" in subprocess.run(
        ["git", "--git-dir", str(remote), "show", "main:README.md"], capture_output=True, text=True, check=True).stdout
    assert proposed.count("\n+") >= 2 and "\n-" not in proposed.replace("\n---", "")
    sections = {s.heading for s in load_survey(home / "README.md").sections}
    assert {"Papers on Model Compression & Acceleration", "Papers on Finetuning or Adaptation"} <= sections
    assert (tmp_path / "out" / "patch-two-papers.diff").read_text(encoding="utf-8").count("\n+") >= 2
