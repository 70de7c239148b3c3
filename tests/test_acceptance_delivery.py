"""Acceptance findings on delivery (digest, run --once): each test reproduces a bug found
by driving the commands against the stand-ins, then pins the fixed behaviour."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from delivery_fixtures import DELIVERY, TOKEN, fill_store, sample_papers
from tracker.commands.run import render_backlog
from tracker.config import load_config
from tracker.deliver.outbox import GIVE_UP_AFTER, run_digest
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


def test_wrong_telegram_token_is_reported_once(tmp_path, monkeypatch, write_config):
    with TelegramStandin(token=TOKEN) as tg:
        monkeypatch.setenv("TG_TOKEN", "987654:wrong-token")
        table = {"api_url": tg.url, "token_env": "TG_TOKEN", "chat_ids": [1, 2, 3], "retries": 0}
        config = load_config(write_config(DELIVERY, telegram=table))
        db = open_store(config.store.path)
        ids = fill_store(db, sample_papers(60), SEEN)
        report = run_digest(config, db, "telegram", "day", NOW, sleep=no_sleep)
        assert report.queued >= 3 and report.sent == 0
        assert len(report.failures) == 1, report.failures  # was one copy per queued message
        assert "telegram.token_env" in report.failures[0]  # says where the token comes from
        assert outbox.delivered_ids(db, "telegram") == set() and ids
        assert {r["status"] for r in _outbox_rows(db)} == {"pending"}
        # a manual digest leaves no run row: `status` must still say why the messages wait
        backlog = render_backlog(outbox.backlog(db))
        assert backlog[0].startswith("telegram: ") and "pending" in backlog[0]
        assert backlog[1].startswith("  last error: ") and "telegram.token_env" in backlog[1], backlog


# --- SMTP: a refused login is a setup problem, not a refused recipient ----------------


def _email(write_config, server, **extra):
    table = {"host": "127.0.0.1", "port": server.port, "security": "none", "from": "tracker@example.org", "to": TO,
             "username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD", **extra}
    config = load_config(write_config(DELIVERY, email=table))
    db = open_store(config.store.path)
    return config, db, fill_store(db, sample_papers(40), SEEN)


def test_refused_login_tries_once_and_never_gives_up_the_messages(tmp_path, monkeypatch, write_config):
    monkeypatch.setenv("SMTP_USER", "robot")
    monkeypatch.setenv("SMTP_PASSWORD", "wrong-password")
    with SmtpStandin(credentials=("robot", "right-password")) as server:
        config, db, ids = _email(write_config, server)
        for _ in range(GIVE_UP_AFTER + 1):
            report = run_digest(config, db, "email", "week", NOW, sleep=no_sleep)
            assert len(report.failures) == 1 and "refused the login" in report.failures[0]
            assert "wrong-password" not in report.failures[0]
        assert server.attempts == 0 and server.received == []
        # one login attempt per run (not one per recipient), and the rows are still pending
        assert {r["status"] for r in _outbox_rows(db)} == {"pending"}
        monkeypatch.setenv("SMTP_PASSWORD", "right-password")
        fixed = run_digest(config, db, "email", "week", NOW, sleep=no_sleep)
        assert fixed.ok and (fixed.resent, fixed.recipients) == (1, len(TO))  # the email the login held back
        assert sorted(r.recipients[0] for r in server.received) == sorted(TO)
        assert outbox.delivered_ids(db, "email") == set(ids)


def test_refused_login_is_attempted_once_per_run(tmp_path, monkeypatch, write_config):
    """smtplib tries each offered AUTH mechanism once per login; count them for one
    recipient, then check three recipients cost no more (was one login per recipient)."""
    monkeypatch.setenv("SMTP_USER", "robot")
    monkeypatch.setenv("SMTP_PASSWORD", "wrong-password")
    counts = []
    for n, folder in ((1, tmp_path / "one"), (3, tmp_path / "three")):
        folder.mkdir()
        seen: list[str] = []
        server = SmtpStandin(credentials=("robot", "right-password"))
        original = server._authenticate

        def counting(*args, _seen=seen, _original=original, **kwargs):
            _seen.append("auth")
            return _original(*args, **kwargs)

        server._authenticate = counting  # type: ignore[method-assign]
        with server:
            table = {"host": "127.0.0.1", "port": server.port, "security": "none", "from": "t@example.org", "to": TO[:n],
                     "username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD"}
            config = load_config(write_config(DELIVERY, folder=folder, email=table))
            db = open_store(config.store.path)
            fill_store(db, sample_papers(40), SEEN)
            assert run_digest(config, db, "email", "week", NOW, sleep=no_sleep).failures
        counts.append(len(seen))
    assert counts[0] >= 1 and counts[1] == counts[0], counts


def test_starttls_not_offered_keeps_the_messages_pending(tmp_path, monkeypatch, write_config):
    monkeypatch.setenv("SMTP_USER", "robot")
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    with SmtpStandin() as server:
        config, db, _ = _email(write_config, server, security="starttls")
        for _ in range(GIVE_UP_AFTER + 1):
            report = run_digest(config, db, "email", "week", NOW, sleep=no_sleep)
            assert len(report.failures) == 1 and "does not offer STARTTLS" in report.failures[0]
        assert {r["status"] for r in _outbox_rows(db)} == {"pending"}


# --- A missing secret is a config error before anything is queued ---------------------


@pytest.mark.parametrize("channel", ["telegram", "email"])
def test_missing_secret_writes_nothing_to_the_outbox(tmp_path, monkeypatch, run_cli, channel, write_config):
    monkeypatch.delenv("TG_TOKEN", raising=False)
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("SMTP_USER", "robot")
    with TelegramStandin(token=TOKEN) as tg, SmtpStandin() as smtp:
        config = load_config(write_config(
            DELIVERY,
            telegram={"api_url": tg.url, "token_env": "TG_TOKEN", "chat_ids": [1]},
            email={"host": "127.0.0.1", "port": smtp.port, "security": "none", "from": "t@example.org", "to": ["a@example.org"],
                   "username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD"},
        ))
        db = open_store(config.store.path)
        seen = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(timespec="seconds")
        assert fill_store(db, sample_papers(30), seen)
        db.conn.close()
        code, out, err = run_cli("--config", str(config.file), "digest", "--channel", channel)
        assert code == 1 and "Traceback" not in err
        key = "telegram.token_env" if channel == "telegram" else "email.password_env"
        assert err.strip().splitlines()[-1].startswith("error: ") and key in err
        db = open_store(config.store.path)
        assert db["outbox"].count == 0 and db["deliveries"].count == 0  # were queued before the secret was read


# --- Usage errors exit 2 ------------------------------------------------------------


def test_digest_with_an_empty_channel_list_is_a_usage_error(tmp_path, run_cli, write_config):
    config = load_config(write_config(DELIVERY))
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", ",")
    assert code == 2 and "--channel" in err  # was exit 0 doing nothing


def test_run_once_with_a_bad_now_is_a_usage_error(tmp_path, run_cli, write_config):
    config = load_config(write_config(DELIVERY))
    code, out, err = run_cli("--config", str(config.file), "run", "--once", "--now", "yesterday")
    assert code == 2 and "--now" in err and "Traceback" not in err
