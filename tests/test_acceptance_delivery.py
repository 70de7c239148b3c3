"""Acceptance findings on delivery (digest, run --once): each test reproduces a bug found
by driving the commands against the stand-ins, then pins the fixed behaviour."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from delivery_fixtures import TOKEN, fill_store, sample_papers, write_config
from tracker.deliver import GIVE_UP_AFTER, run_digest
from tracker.standins.smtp import SmtpStandin
from tracker.standins.telegram import TelegramStandin
from tracker.store import deliveries as outbox
from tracker.store import open_store

NOW = datetime(2025, 11, 3, 8, tzinfo=timezone.utc)
SEEN = "2025-11-03T06:00:00+00:00"
TO = ["ann@example.org", "bob@example.org", "cy@example.org"]


def no_sleep(seconds: float) -> None:
    pass


def _outbox_rows(db):
    return list(db.query("SELECT target, status, attempts FROM outbox ORDER BY id"))


# --- Telegram: a wrong token is reported once, not once per pending message ----------


def test_wrong_telegram_token_is_reported_once(tmp_path, monkeypatch):
    with TelegramStandin(token=TOKEN) as tg:
        monkeypatch.setenv("TG_TOKEN", "987654:wrong-token")
        table = {"api_url": tg.url, "token_env": "TG_TOKEN", "chat_ids": [1, 2, 3], "retries": 0}
        config = write_config(tmp_path, telegram=table)
        db = open_store(config.store.path)
        ids = fill_store(db, sample_papers(60), SEEN)
        report = run_digest(config, db, "telegram", "day", NOW, sleep=no_sleep)
        assert report.queued >= 3 and report.sent == 0
        assert len(report.failures) == 1, report.failures  # was one copy per queued message
        assert "telegram.token_env" in report.failures[0]  # says where the token comes from
        assert outbox.delivered_ids(db, "telegram") == set() and ids
        assert {r["status"] for r in _outbox_rows(db)} == {"pending"}
