"""`tracker poll`, `export` and `status` through the CLI, against the replay server."""

from __future__ import annotations

import json

import pytest
from poll_support import LLM_ALL, LLM_ANY, arxiv_at, expected_ids

from tracker.standins.arxiv import ArxivReplay

NOW = "2025-11-01T00:00:00Z"


@pytest.fixture
def env(write_config):
    with ArxivReplay() as server:
        yield server, write_config(arxiv=arxiv_at(server.api_url, server.rss_url), sections=[LLM_ANY])


def test_poll_then_export_and_status(env, run_cli, tmp_path):
    server, config = env
    code, out, err = run_cli("--config", str(config), "poll", "--now", NOW)
    assert code == 0, err
    assert "api: ok" in out and "rss: ok" in out
    code, out, err = run_cli("--config", str(config), "export")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    ids = {o["id"] for o in lines}
    assert ids and ids <= expected_ids()
    assert all(isinstance(o["sections"], list) and o["links"] == [] for o in lines)
    assert any(o["sections"] == ["llm"] for o in lines)
    target = tmp_path / "out" / "papers.jsonl"
    code, _, err = run_cli("--config", str(config), "export", "--output", str(target))
    assert code == 0 and target.read_text(encoding="utf-8").count("\n") == len(lines)
    code, out, _ = run_cli("--config", str(config), "status", "--json")
    status = json.loads(out)
    assert {r["source"]: r["outcome"] for r in status["last_runs"]} == {"api": "ok", "rss": "ok"}
    assert status["totals"]["papers"] == len(lines)
    assert status["sections"][0]["section"] == "llm" and status["sections"][0]["papers"] > 0
    code, out, _ = run_cli("--config", str(config), "status")
    assert code == 0 and "last runs:" in out and "llm:" in out


def test_failed_source_exits_1_and_status_shows_the_error(env, run_cli):
    server, config = env
    server.inject("error_feed", route="api", message="unknown field cat2")
    code, out, err = run_cli("--config", str(config), "poll", "--now", NOW)
    assert code == 1
    assert "api: failed" in out and "rss: ok" in out
    assert "error: 1 of 2 sources failed: api" in err
    code, out, _ = run_cli("--config", str(config), "status")
    assert "error: arXiv API error: unknown field cat2" in out


def test_poll_json_and_bad_arguments(env, run_cli):
    server, config = env
    code, out, _ = run_cli("--config", str(config), "poll", "--now", NOW, "--source", "rss", "--json")
    assert code == 0 and json.loads(out)["sources"][0]["source"] == "rss"
    code, _, err = run_cli("--config", str(config), "poll", "--source", "ftp")
    assert code == 2 and "unknown source 'ftp'" in err  # a usage error
    code, _, err = run_cli("--config", str(config), "poll", "--since", "yesterday")
    assert code == 2 and "--since" in err and "yesterday" in err


def test_commands_have_help(run_cli):
    for cmd in ("poll", "export", "status"):
        code, out, _ = run_cli(cmd, "--help")
        assert code == 0 and len(out) > 100


def test_status_before_any_poll_reports_without_creating_the_database(run_cli, tmp_path, write_config):
    from tracker.config import load_config

    cfg = write_config(arxiv=arxiv_at("http://127.0.0.1:9/api/query", "http://127.0.0.1:9/rss"), sections=[LLM_ALL])
    db_path = load_config(cfg).store.path
    code, out, err = run_cli("--config", str(cfg), "status", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["totals"]["papers"] == 0 and [j["job"] for j in data["jobs"]][:1] == ["poll"]
    assert "no database yet" in err and not db_path.exists() and not db_path.parent.exists()


def test_status_warns_when_the_survey_file_is_missing(run_cli, tmp_path, write_config):
    cfg = write_config(survey={"path": str(tmp_path / "gone.md")}, sections=[LLM_ALL])
    code, out, err = run_cli("--config", str(cfg), "status")
    assert code == 0 and f"warning: survey.path {tmp_path / 'gone.md'} not found" in err


def test_a_full_disk_is_one_line_and_the_next_poll_stores_everything(env, run_cli, monkeypatch):
    """SQLite's "database or disk is full" (here a page limit on the store's connection, as a
    full disk gives) was tried paper by paper (a warning each) and then a traceback. Each
    source now stops at once, saying what to do, and a poll with room stores the window."""
    import tracker.commands.poll as poll_cmd
    from tracker.store import open_store

    server, config = env

    def cramped(path, *args, **kwargs):
        db = open_store(path, *args, **kwargs)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 3}")
        return db

    monkeypatch.setattr(poll_cmd, "open_store", cramped)
    code, out, err = run_cli("--config", str(config), "poll", "--now", NOW)
    assert code == 1 and "Traceback" not in err and "record_skipped" not in err, err
    assert err.count('error="the store: database or disk is full" hint="free space on the disk that holds store.path') == 2
    assert err.splitlines()[-1].startswith("error: 2 of 2 sources failed")
    monkeypatch.undo()
    code, out, err = run_cli("--config", str(config), "poll", "--now", NOW)
    assert code == 0, err
    code, out, _ = run_cli("--config", str(config), "export")
    stored = {json.loads(line)["id"] for line in out.splitlines()}
    assert stored and stored <= expected_ids()
