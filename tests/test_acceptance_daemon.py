"""Acceptance checks of the scheduler daemon and `run --once` found by driving the
real daemon against the local stand-ins (issue 8). Fast: injected clocks and stages."""

from __future__ import annotations

import json

from forge_support import make_remote
from e2e_support import NOW, SEED, stand_ins

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


def test_run_once_with_a_relative_config_path_opens_the_pr(tmp_path, run_cli, monkeypatch, write_config):
    """`--config tracker.toml` (or the default config/tracker.toml) from the config's
    folder: propose --pr used to fail with "git is not installed", because the forge
    clone folder was relative and git ran with it as cwd after changing directory."""
    remote = make_remote(tmp_path, SEED.read_text(encoding="utf-8"))
    with ArxivReplay() as arxiv, TelegramStandin() as tg, SmtpStandin() as smtp, GitHubStandin(token="gh-e2e") as gh:
        monkeypatch.setenv("E2E_TELEGRAM_TOKEN", tg.token)
        monkeypatch.setenv("E2E_GITHUB_TOKEN", "gh-e2e")
        (tmp_path / "llm-survey.md").write_bytes(SEED.read_bytes())
        write_config(stand_ins(arxiv, tg, smtp, gh, remote))
        monkeypatch.chdir(tmp_path)
        code, out, err = run_cli("--config", "tracker.toml", "run", "--once", "--now", NOW, "--json")
        pulls = dict(gh.pulls)
    results = {r["job"]: r for r in json.loads(out)}
    assert results["propose"]["outcome"] == "ok", results["propose"]
    assert code == 0, err
    assert len(pulls) == 1


def test_third_party_log_records_are_one_structured_line_each(capsys):
    """APScheduler reports a crashed or missed job itself (a traceback on its own
    logger); those records used to reach Python's last-resort handler: several plain
    lines on stderr, breaking `[log] format = "json"`, and never scrubbed of secrets."""
    import logging

    from tracker.logs import register_secret, setup_logging

    names = ("tracker", "apscheduler", "httpx", "telegram", "arxiv")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate, logging.getLogger(n).level) for n in names}
    try:
        register_secret("tok-123456:abcdef")
        setup_logging("INFO", "json")
        try:
            raise RuntimeError("database is locked")
        except RuntimeError:
            logging.getLogger("apscheduler.executors.default").exception('Job "poll (trigger: cron)" raised an exception')
        logging.getLogger("httpx").warning("GET http://127.0.0.1/bottok-123456:abcdef/getMe failed")
    finally:
        for n, (handlers, propagate, level) in saved.items():
            logger = logging.getLogger(n)
            logger.handlers[:], logger.propagate = handlers, propagate
            logger.setLevel(level)
    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["logger"] for r in records] == ["apscheduler.executors.default", "httpx"]
    assert records[0]["error"] == "RuntimeError: database is locked"
    assert "tok-123456:abcdef" not in "\n".join(lines)
