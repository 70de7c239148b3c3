"""Telegram delivery against the local Bot API stand-in: chats, keyboards, every fault,
and the token never showing up anywhere."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from delivery_fixtures import DELIVERY, TOKEN, fill_store, sample_papers
from tracker.config import load_config
from tracker.deliver.outbox import run_digest
from tracker.deliver import triage
from tracker.standins.telegram import TelegramStandin
from tracker.store import deliveries as outbox
from tracker.store import open_store

NOW = datetime(2025, 10, 31, 12, tzinfo=timezone.utc)
SEEN = "2025-10-31T06:00:00+00:00"
CHATS = [-1001, 42]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def tg():
    with TelegramStandin(token=TOKEN) as server:
        yield server


@pytest.fixture
def setup(tmp_path, tg, monkeypatch, write_config):
    monkeypatch.setenv("TG_TOKEN", TOKEN)

    def make(papers: int = 30, seen: str = SEEN, **telegram):
        table = {"api_url": tg.url, "token_env": "TG_TOKEN", "chat_ids": CHATS, "timeout_seconds": 5, "retries": 2, **telegram}
        config = load_config(write_config(DELIVERY, telegram=table))
        db = open_store(config.store.path)
        ids = fill_store(db, sample_papers(papers), seen)
        return config, db, ids

    return make


def test_digest_reaches_every_chat_with_triage_buttons(setup, tg):
    config, db, ids = setup(120)
    report = run_digest(config, db, "telegram", "day", NOW)
    assert report.ok and report.papers == len(ids) and report.delivered == len(ids)
    per_chat = len(report.messages)
    assert per_chat >= 1 and report.sent == per_chat * len(CHATS)
    for chat in CHATS:
        sent = tg.sent(chat)
        assert len(sent) == per_chat
        assert all(m["parse_mode"] == "HTML" and len(m["text"].encode("utf-16-le")) // 2 <= 4096 for m in sent)
        carried = [triage.decode(b["callback_data"], config.sections).paper_id
                   for m in sent for row in m["reply_markup"]["inline_keyboard"] for b in row if b["callback_data"].startswith("a|")]
        assert sorted(carried) == sorted(ids)
    assert outbox.delivered_ids(db, "telegram") == set(ids)
    again = run_digest(config, db, "telegram", "day", NOW)
    assert again.skipped_empty and again.sent == 0 and len(tg.sent()) == per_chat * len(CHATS)


def test_empty_digest_not_sent_unless_configured(setup, tg):
    config, db, _ = setup(0)
    assert run_digest(config, db, "telegram", "day", NOW).skipped_empty
    assert tg.sent() == []
    config, db, _ = setup(0, send_empty=True)
    report = run_digest(config, db, "telegram", "day", NOW)
    assert report.sent == len(CHATS) and "nothing new" in tg.sent()[0]["text"]


def test_retry_after_is_honoured(setup, tg):
    config, db, ids = setup()
    tg.fail("sendMessage", 429, retry_after=7)
    sleeps = Sleeps()
    report = run_digest(config, db, "telegram", "day", NOW, sleep=sleeps)
    assert report.ok and sleeps == [7.0]
    assert len(tg.calls("sendMessage")) == report.sent + 1
    assert len(tg.sent()) == report.sent


@pytest.mark.parametrize("status, kind", [(400, "BadRequest"), (403, "Forbidden")])
def test_refusals_are_not_retried_and_name_the_chat(setup, tg, status, kind):
    """A 403 (bot blocked or removed) is about the chat: its other messages wait. A 400 is
    about one message (its entities, its length): the chat's other messages still go, so
    one bad message does not hold a day's papers back for the runs that retry it."""
    config, db, ids = setup(120)
    tg.fail("sendMessage", status, chat_id=42)
    sleeps = Sleeps()
    report = run_digest(config, db, "telegram", "day", NOW, sleep=sleeps)
    per_chat = len(report.messages)
    assert per_chat >= 2 and not report.ok and sleeps == []
    assert len(report.failures) == 1 and "chat 42" in report.failures[0] and kind in report.failures[0]
    assert f"{kind}: {kind}" not in report.failures[0]  # the API's own "Forbidden: ..." is not repeated
    to_42 = per_chat - 1 if kind == "BadRequest" else 0
    assert len(tg.calls("sendMessage")) == per_chat + 1 + to_42  # the refused one is tried once
    assert len(tg.sent(-1001)) == per_chat and len(tg.sent(42)) == to_42
    delivered = outbox.delivered_ids(db, "telegram")
    assert delivered < set(ids) and (len(delivered) > 0) == (kind == "BadRequest")  # only what 42 acknowledged
    retry = run_digest(config, db, "telegram", "day", NOW, sleep=sleeps)
    assert retry.ok and retry.resent == per_chat - to_42 and retry.papers == 0
    assert len(tg.sent(-1001)) == len(tg.sent(42)) == per_chat
    assert outbox.delivered_ids(db, "telegram") == set(ids)


def test_a_bot_rate_limited_to_the_end_is_told_so_not_sent_to_check_the_network(setup, tg):
    config, db, _ids = setup()
    tg.fail("sendMessage", 429, times=100, retry_after=1)
    report = run_digest(config, db, "telegram", "day", NOW, sleep=Sleeps())
    assert not report.ok and "rate-limited (429)" in report.failures[0]
    assert "kept rate-limiting the bot" in report.failures[0] and "and the network" not in report.failures[0]
    assert outbox.delivered_ids(db, "telegram") == set()


def test_server_errors_are_retried_with_backoff(setup, tg):
    config, db, ids = setup()
    tg.fail("sendMessage", 500, times=2)
    sleeps = Sleeps()
    report = run_digest(config, db, "telegram", "day", NOW, sleep=sleeps)
    assert report.ok and sleeps == [1.0, 2.0]
    assert outbox.delivered_ids(db, "telegram") == set(ids)


def test_server_errors_give_up_after_the_retries(setup, tg):
    config, db, ids = setup()
    tg.fail("sendMessage", 500, times=100)
    sleeps = Sleeps()
    report = run_digest(config, db, "telegram", "day", NOW, sleep=sleeps)
    assert not report.ok and "after 3 attempts" in report.failures[0]
    assert len(tg.calls("sendMessage")) == 3 and sleeps == [1.0, 2.0]
    assert report.sent == 0 and len(outbox.pending(db, "telegram")) == report.queued


def test_a_hang_past_the_timeout_is_retried(setup, tg):
    config, db, ids = setup(timeout_seconds=0.5)
    tg.fail("sendMessage", 0, hang_seconds=5)
    sleeps = Sleeps()
    report = run_digest(config, db, "telegram", "day", NOW, sleep=sleeps)
    assert report.ok and sleeps == [1.0]
    assert len(tg.calls("sendMessage")) == report.sent + 1 and len(tg.sent()) == report.sent


def test_the_deadline_bounds_a_call_with_its_retries(setup, tg):
    """`deadline_seconds` is the total time of one call: with every try hanging it applied to
    each of four tries (28 s for a 5 s deadline). Now the first try uses it up, and the run
    says so; the message stays pending."""
    config, db, ids = setup(timeout_seconds=30, deadline_seconds=0.5, retries=3)
    tg.fail("sendMessage", 0, times=100, hang_seconds=3)
    report = run_digest(config, db, "telegram", "day", NOW, sleep=Sleeps())
    assert not report.ok and "not done within the 0.5s deadline, retries included" in report.failures[0]
    assert len(tg.calls("sendMessage")) == 1 and report.sent == 0
    assert len(outbox.pending(db, "telegram")) == len(report.messages) * len(CHATS)


def test_a_hang_on_every_try_fails_as_timed_out(setup, tg):
    config, db, ids = setup(timeout_seconds=0.3, retries=1)
    tg.fail("sendMessage", 0, times=5, hang_seconds=3)
    report = run_digest(config, db, "telegram", "day", NOW, sleep=Sleeps())
    assert not report.ok and "TimedOut" in report.failures[0] and report.sent == 0


def test_token_never_appears_in_errors_or_logs(setup, tg, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    config, db, ids = setup(retries=1)
    tg.fail("sendMessage", 400, chat_id=-1001)
    tg.fail("sendMessage", 500, times=10, chat_id=42)
    report = run_digest(config, db, "telegram", "day", NOW, sleep=Sleeps())
    assert len(report.failures) == 2
    tg.token = "other:token"  # now every call is 401 Unauthorized for our token
    refused = run_digest(config, db, "telegram", "day", NOW, sleep=Sleeps())
    assert refused.failures and "InvalidToken" in refused.failures[0]
    out, err = capfd.readouterr()
    everything = " ".join([*report.failures, *refused.failures, caplog.text, out, err, *(r.getMessage() for r in caplog.records)])
    assert TOKEN not in everything and TOKEN.split(":")[1] not in everything
    assert any(TOKEN in r.token for r in tg.requests)  # the token really was used on the wire


def test_token_absent_from_cli_error(setup, tg, run_cli, monkeypatch):
    config, db, ids = setup(seen=(datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat(timespec="seconds"))
    monkeypatch.setenv("TRACKER_LOG_LEVEL", "DEBUG")
    tg.fail("sendMessage", 403, times=100)
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "telegram")
    assert code == 1 and "error:" in err and "Forbidden" in err, (out, err)
    assert TOKEN not in out + err and TOKEN.split(":")[1] not in out + err


def test_the_cli_summary_counts_what_an_earlier_run_left_in_the_outbox(setup, tg, run_cli):
    config, db, ids = setup(seen=(datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat(timespec="seconds"))
    tg.fail("sendMessage", 403, times=1)
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "telegram")
    assert code == 1 and f"telegram: {len(ids)} paper(s) (day): " in out and "1 message(s) failed, kept in the outbox" in out
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "telegram")
    assert code == 0, err
    assert "telegram: 0 paper(s) (day): nothing new; 1 message(s) left over from an earlier run re-sent; 1 message(s) sent" in out
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "telegram")
    assert code == 0 and "telegram: 0 paper(s) (day): nothing new, not sent" in out


def test_a_day_long_retry_after_is_not_slept_and_the_message_stays_pending(setup, tg):
    """Hostile 429 with retry_after = 86400: over the 600 s cap, so nothing sleeps; the
    run fails naming the cap and the messages stay pending for the next run."""
    config, db, ids = setup()
    tg.fail("sendMessage", 429, times=100, retry_after=86400)
    sleeps = Sleeps()
    report = run_digest(config, db, "telegram", "day", NOW, sleep=sleeps)
    assert sleeps == [] and not report.ok and report.sent == 0
    assert "86400" in report.failures[0] and "600s cap" in report.failures[0]
    assert len(tg.calls("sendMessage")) == len(CHATS)  # one try per chat (flood control is per chat), none slept
    assert len(outbox.pending(db, "telegram")) == report.queued and outbox.delivered_ids(db, "telegram") == set()


def test_a_retry_after_past_the_deadline_fails_at_once_naming_the_flood_control(setup, tg, run_cli):
    """retry_after 20 s under the 600 s cap but over a 5 s deadline: the call slept until the
    deadline (6 s) and then said only "not done within the 5s deadline". Now it fails at once,
    saying what Telegram asked, and the next run sends the messages."""
    config, db, ids = setup(seen=(datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat(timespec="seconds"),
                            deadline_seconds=5)
    tg.fail("sendMessage", 429, times=1, retry_after=20)
    began = time.monotonic()
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "telegram")
    assert code == 1 and time.monotonic() - began < 2 and "Traceback" not in err
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    assert "flood control" in line and "asked to wait 20s" in line and "5s deadline" in line, line
    # flood control holds that chat only: the other chat still gets its digest in this run
    assert len(tg.calls("sendMessage")) == 2 and [len(tg.sent(chat)) for chat in CHATS] == [0, 1]
    assert len(outbox.pending(db, "telegram")) == 1 and outbox.delivered_ids(db, "telegram") == set()
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "telegram")
    assert code == 0, err
    assert [len(tg.sent(chat)) for chat in CHATS] == [1, 1] and outbox.delivered_ids(db, "telegram") == set(ids)


def test_a_failing_telegram_holds_every_chat(setup, tg, run_cli):
    """A 500 or a hang is Telegram's, not one chat's: the run stops at the first chat, fast."""
    config, db, ids = setup(seen=(datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat(timespec="seconds"),
                            deadline_seconds=5)
    tg.fail("sendMessage", 500, times=100)
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "telegram")
    assert code == 1 and tg.sent() == [] and len(outbox.pending(db, "telegram")) == len(CHATS)
    assert {c.params.get("chat_id") for c in tg.calls("sendMessage")} == {str(CHATS[0])}


@pytest.mark.parametrize("raw, shown", [({"ok": False}, '{"ok": false}'), ({"ok": True, "result": "surprise"}, "surprise")])
def test_an_unexpected_answer_is_a_handled_failure_naming_it(setup, tg, raw, shown, run_cli):
    """200 {"ok": false} and a `result` that is a string: one failure naming Telegram and
    what came back, nothing marked delivered, no retry storm, no traceback."""
    config, db, ids = setup()
    tg.fail("sendMessage", 200, times=100, raw=raw)
    sleeps = Sleeps()
    report = run_digest(config, db, "telegram", "day", NOW, sleep=sleeps)
    assert not report.ok and report.sent == 0 and sleeps == []
    assert "Telegram sendMessage" in report.failures[0] and "unexpected answer" in report.failures[0]
    assert shown in report.failures[0]
    assert outbox.delivered_ids(db, "telegram") == set()
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "telegram")
    assert code == 1 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Telegram" in errors[0], err


def test_a_bad_token_counts_every_message_it_holds_back(setup, tg, run_cli):
    """With a revoked token every message stays pending, for one reason: the summary said
    "1 failed" for them all."""
    config, db, ids = setup(seen=(datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat(timespec="seconds"))
    tg.token = "other:token"
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "telegram")
    pending = len(outbox.pending(db, "telegram"))
    assert code == 1 and pending > 1
    assert f"{pending} message(s) failed (1 error(s)), kept in the outbox for the next run" in out
