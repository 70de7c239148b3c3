"""The outbox rules: delivered only after an acknowledgement, a crash repeats at most
the one message in flight, nothing is skipped, no duplicates after a restart."""

from __future__ import annotations

import json

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from delivery_fixtures import DELIVERY, TOKEN, fill_store, sample_papers
from tracker.config import load_config
from tracker.deliver.outbox import CRASH_ENV, run_digest
from tracker.standins.telegram import TelegramStandin
from tracker.store import deliveries as outbox
from tracker.store import open_store

CHATS = [-1001, 42]


@pytest.fixture
def world(tmp_path, write_config):
    with TelegramStandin(token=TOKEN) as tg:
        table = {"api_url": tg.url, "token_env": "TG_TOKEN", "chat_ids": CHATS, "timeout_seconds": 30, "retries": 1}
        config = load_config(write_config(DELIVERY, telegram=table))
        db = open_store(config.store.path)
        seen = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat(timespec="seconds")
        ids = fill_store(db, sample_papers(160), seen)
        db.conn.close()
        yield config, tg, ids


def run_tracker(config, **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    environ.update(TG_TOKEN=TOKEN, **env)
    return subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", str(config.file), "digest", "--channel", "telegram"],
        env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def deliveries(tg: TelegramStandin) -> Counter:
    return Counter((m["chat_id"], m["text"]) for m in tg.sent())


def test_kill_between_ack_and_bookkeeping_repeats_only_that_message(world):
    config, tg, ids = world
    crashed = run_tracker(config, **{CRASH_ENV: "3"})
    out, err = crashed.communicate(timeout=60)
    assert crashed.returncode == -signal.SIGKILL, err
    first = list(tg.sent())
    assert len(first) == 3
    db = open_store(config.store.path)
    rows = outbox.pending(db, "telegram")
    assert len(rows) > 3  # the digest was queued whole before sending; only two rows are settled
    assert db.execute("SELECT count(*) FROM outbox WHERE status = 'sent'").fetchone()[0] == 2
    assert not outbox.delivered_ids(db, "telegram") - set(ids)

    rerun = run_tracker(config)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    counts = deliveries(tg)
    crashed_message = (first[2]["chat_id"], first[2]["text"])
    assert counts[crashed_message] == 2
    assert all(n == 1 for key, n in counts.items() if key != crashed_message)
    expected = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    assert len(counts) == expected and db.execute("SELECT count(*) FROM outbox WHERE status != 'sent'").fetchone()[0] == 0
    assert outbox.delivered_ids(db, "telegram") == set(ids)

    third = run_tracker(config)
    third.communicate(timeout=60)
    assert deliveries(tg) == counts  # after the restart, nothing acknowledged is sent again


def test_kill_before_the_ack_resends_without_duplicates(world):
    config, tg, ids = world
    tg.fail("sendMessage", 0, hang_seconds=60, after=2)
    proc = run_tracker(config)
    assert tg.hanging.wait(30), "the sender never reached the third message"
    proc.kill()
    proc.communicate(timeout=30)
    assert len(tg.sent()) == 2
    db = open_store(config.store.path)
    assert outbox.delivered_ids(db, "telegram") == set()
    rerun = run_tracker(config)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    counts = deliveries(tg)
    assert set(counts.values()) == {1}
    assert len(counts) == db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    assert outbox.delivered_ids(db, "telegram") == set(ids)


def test_a_paper_is_delivered_only_when_every_row_carrying_it_is_sent(tmp_path, write_config):
    config = load_config(write_config(DELIVERY))
    db = open_store(config.store.path)
    ids = fill_store(db, sample_papers(20), "2025-10-31T06:00:00+00:00")
    a, b = ids[0], ids[1]
    messages = [
        outbox.OutboxMessage("1", "m1", (a, b), {}),
        outbox.OutboxMessage("2", "m1", (a, b), {}),
        outbox.OutboxMessage("1", "m2", (b,), {}),
    ]
    outbox.queue_digest(db, "telegram", "day", ("s", "e"), messages, [a, b])
    r1, r2, r3 = outbox.pending(db, "telegram")
    assert outbox.mark_sent(db, r1.id, "10") == []
    outbox.mark_failed(db, r2.id, "boom")
    assert outbox.delivered_ids(db, "telegram") == set()
    assert outbox.mark_sent(db, r2.id, "11") == [a]
    assert outbox.mark_sent(db, r3.id, "12") == [b]
    assert outbox.delivered_ids(db, "telegram") == {a, b}
    assert outbox.find_message(db, "telegram", "1", "12").paper_ids == (b,)


def test_dry_run_sends_and_marks_nothing(world, monkeypatch):
    config, tg, ids = world
    monkeypatch.setenv("TG_TOKEN", TOKEN)
    db = open_store(config.store.path)
    report = run_digest(config, db, "telegram", "day", datetime.now(timezone.utc), dry_run=True)
    assert report.dry_run and report.papers == len(ids) and report.messages
    assert tg.requests == [] and db["outbox"].count == 0 and db["digest_runs"].count == 0


def test_stdout_channel_prints_and_marks_nothing(world, run_cli):
    config, tg, ids = world
    for _ in range(2):
        code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "stdout")
        assert code == 0 and f"{len(ids)} new papers" in out
    db = open_store(config.store.path)
    assert db["deliveries"].count == 0 and db["outbox"].count == 0 and tg.requests == []


def test_period_takes_a_comma_list_as_channel_does(world, run_cli):
    """DESIGN writes `--period day,week` as it writes `--channel stdout,telegram,email`: it was a usage error."""
    config, tg, ids = world
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "stdout", "--period", "day,week", "--json")
    assert code == 0, err
    assert [(r["channel"], r["period"]) for r in json.loads(out)] == [("stdout", "day"), ("stdout", "week")]
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "stdout", "--period", "day,month")
    assert code == 2 and "unknown period 'month'" in err


def test_a_telegram_digest_asked_for_with_no_chat_is_an_error_naming_the_line(tmp_path, run_cli, write_config):
    """`chat_ids = []` (allowed while `tracker bot --whoami` finds the ids) made an asked-for digest
    report "0 message(s) sent" and exit 0."""
    config = load_config(write_config(DELIVERY, telegram={"api_url": "http://127.0.0.1:9", "token_env": "TG_TOKEN", "chat_ids": []}))
    line = next(n for n, text in enumerate(config.file.read_text(encoding="utf-8").splitlines(), 1) if text.startswith("chat_ids"))
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "telegram")
    assert code == 1 and out == ""
    assert err.startswith(f"error: {config.file}:{line}: key 'telegram.chat_ids' is empty") and "--whoami" in err, err


def test_unconfigured_channel_asked_explicitly_is_an_error(tmp_path, run_cli, write_config):
    config = load_config(write_config(DELIVERY))
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "telegram,email")
    assert code == 1 and "[telegram]" in err and "not configured" in err
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "email")
    assert code == 1 and "[email]" in err


def test_save_rendered_writes_what_the_digest_rendered(world, tmp_path, monkeypatch):
    from tracker.deliver.outbox import save_rendered

    config, tg, ids = world
    monkeypatch.setenv("TG_TOKEN", TOKEN)
    db = open_store(config.store.path)
    report = run_digest(config, db, "telegram", "day", datetime.now(timezone.utc))
    paths = save_rendered(report, tmp_path / "out")
    assert [p.name for p in paths] == [f"telegram-{i:02d}.html" for i in range(1, len(report.messages) + 1)]
    assert [p.read_text(encoding="utf-8") for p in paths] == [m["text"] for m in tg.sent(CHATS[0])]
