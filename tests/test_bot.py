"""Triage: the update handler as a plain function, the long-polling loop against the
stand-in, the permissions, and `tracker decide`."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from delivery_fixtures import DELIVERY, TOKEN, fill_store, sample_papers
from tracker.config import load_config
from tracker.deliver.bot import REFUSAL, BotContext, handle_update, run_bot
from tracker.deliver.outbox import run_digest
from tracker.deliver import triage
from tracker.standins.telegram import TelegramStandin
from tracker.store import open_store
from tracker.store.decisions import all_decisions, latest_decisions


async def no_wait(seconds: float) -> None:
    """The retry policy's sleep, injected: the bot's tests never wait for real."""

NOW = datetime(2025, 10, 31, 12, tzinfo=timezone.utc)
SEEN = "2025-10-31T06:00:00+00:00"
GROUP, MAINTAINER, STRANGER = -1001, 7, 666


@pytest.fixture
def world(tmp_path, monkeypatch, write_config):
    monkeypatch.setenv("TG_TOKEN", TOKEN)
    with TelegramStandin(token=TOKEN) as tg:

        def make(allowed_users=(), folder="a"):
            (tmp_path / folder).mkdir()
            table = {"api_url": tg.url, "token_env": "TG_TOKEN", "chat_ids": [GROUP], "allowed_user_ids": list(allowed_users), "timeout_seconds": 5}
            config = load_config(write_config(DELIVERY, folder=tmp_path / folder, telegram=table))
            db = open_store(config.store.path)
            ids = fill_store(db, sample_papers(60), SEEN)
            assert run_digest(config, db, "telegram", "day", NOW).ok
            return config, db, ids

        yield tg, make


def press(tg: TelegramStandin, data: str, user: int = MAINTAINER, chat: int = GROUP, message: dict | None = None) -> dict:
    message = message or tg.sent(GROUP)[0]
    return {
        "update_id": 1,
        "callback_query": {
            "id": "cb1", "from": {"id": user, "is_bot": False, "first_name": "u"}, "data": data, "chat_instance": "x",
            "message": {"message_id": message["message_id"], "date": 0, "chat": {"id": chat, "type": "supergroup"}},
        },
    }


def command(text: str, user: int = MAINTAINER, chat: int = GROUP) -> dict:
    return {"update_id": 2, "message": {"message_id": 99, "date": 0, "text": text,
                                        "chat": {"id": chat, "type": "supergroup"}, "from": {"id": user, "is_bot": False, "first_name": "u"}}}


def first_paper(tg: TelegramStandin, config) -> str:
    data = tg.sent(GROUP)[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    return triage.decode(data, config.sections).paper_id


def test_accept_records_edits_and_answers(world):
    tg, make = world
    config, db, ids = make()
    pid = first_paper(tg, config)
    actions = handle_update(press(tg, f"a|{pid}"), BotContext(config, db))
    d = latest_decisions(db)[pid]
    assert (d.decision, d.via, d.decided_by) == ("accept", "telegram", str(MAINTAINER))
    edit, answer = actions
    assert edit.method == "editMessageText" and answer.method == "answerCallbackQuery"
    assert "✅ <i>accepted</i>" in edit.params["text"] and edit.params["text"].startswith(tg.sent(GROUP)[0]["text"][:40])
    assert "✅ Accept #1 ✓" == edit.params["keyboard"][0][0][0]
    assert answer.params["text"] == f"Accepted {pid}"
    # the same update delivered again (a crash before the offset was confirmed) records nothing new
    handle_update(press(tg, f"a|{pid}"), BotContext(config, db))
    assert [x.decision for x in all_decisions(db) if x.paper_id == pid] == ["accept"]
    handle_update(press(tg, f"r|{pid}"), BotContext(config, db))
    handle_update(press(tg, f"a|{pid}"), BotContext(config, db))
    assert [x.decision for x in all_decisions(db) if x.paper_id == pid] == ["accept", "reject", "accept"]


def test_move_opens_the_section_menu_then_records(world):
    tg, make = world
    config, db, ids = make()
    pid = first_paper(tg, config)
    ctx = BotContext(config, db)
    menu = handle_update(press(tg, f"m|{pid}"), ctx)
    assert menu[0].method == "editMessageReplyMarkup" and not latest_decisions(db)
    labels = [row[0][0] for row in menu[0].params["keyboard"]]
    assert labels[:-1] == [s.heading for s in config.sections] and labels[-1] == "« Back"
    target = menu[0].params["keyboard"][3][0][1]
    actions = handle_update(press(tg, target), ctx)
    d = latest_decisions(db)[pid]
    assert (d.decision, d.section) == ("move", config.sections[3].id)
    assert f"moved to {config.sections[3].id}" in actions[0].params["text"]
    assert handle_update(press(tg, f"s|{pid}|no_such_section"), ctx)[0].params["alert"] is True
    assert latest_decisions(db)[pid].section == config.sections[3].id


def test_strangers_are_refused_and_nothing_is_recorded(world):
    tg, make = world
    config, db, ids = make()
    pid = first_paper(tg, config)
    ctx = BotContext(config, db)
    for update in (press(tg, f"a|{pid}", chat=12345), press(tg, f"r|{pid}", user=STRANGER, chat=STRANGER)):
        (answer,) = handle_update(update, ctx)
        assert answer.method == "answerCallbackQuery" and answer.params["text"] == REFUSAL and answer.params["alert"]
    (reply,) = handle_update(command("/status", chat=STRANGER, user=STRANGER), ctx)
    assert reply.params == {"chat_id": STRANGER, "text": REFUSAL}
    assert latest_decisions(db) == {}
    # any member of a configured chat may act while allowed_user_ids is empty
    assert handle_update(press(tg, f"a|{pid}", user=STRANGER), ctx)[-1].params["text"].startswith("Accepted")


def test_allowed_user_ids_restrict_who_may_press(world):
    tg, make = world
    config, db, ids = make(allowed_users=[MAINTAINER])
    pid = first_paper(tg, config)
    ctx = BotContext(config, db)
    (refusal,) = handle_update(press(tg, f"a|{pid}", user=STRANGER), ctx)
    assert refusal.params["text"] == REFUSAL and latest_decisions(db) == {}
    handle_update(press(tg, f"r|{pid}", user=MAINTAINER), ctx)
    assert latest_decisions(db)[pid].decision == "reject"


def test_commands(world):
    tg, make = world
    config, db, ids = make()
    ctx = BotContext(config, db)

    def reply(text: str) -> str:
        (action,) = handle_update(command(text), ctx)
        assert action.method == "sendMessage" and action.params["chat_id"] == GROUP
        return action.params["text"]

    assert reply("/latest").count("• ") == min(10, len(ids)) > 3
    title = db["papers"].get(ids[0])["title"]
    word = max((w.strip(":,.()") for w in title.split()), key=len)
    assert f"abs/{ids[0]}" in reply(f"/search {word}")
    assert "nothing found" in reply("/search zzzqqqxxx")
    assert reply('/search "unbalanced').startswith("<b>Search")  # FTS syntax cannot break it
    section = reply(f"/section@tracker_bot {config.sections[1].id}")
    assert section.startswith(f"<b>Section {config.sections[1].id}</b>") and "• " in section
    assert "Unknown section bogus" in reply("/section bogus")
    status = reply("/status")
    assert f"papers: {db['papers'].count}" in status and f"telegram: {len(ids)} delivered" in status
    assert "/search" in reply("/help")
    assert handle_update({"update_id": 5, "message": {"text": "hello", "chat": {"id": GROUP}}}, ctx) == []


def test_the_long_polling_loop_against_the_standin(world):
    tg, make = world
    config, db, ids = make()
    pid = first_paper(tg, config)
    tg.queue_update({k: v for k, v in press(tg, f"a|{pid}").items() if k != "update_id"})
    tg.queue_update({k: v for k, v in press(tg, f"r|{pid}", chat=STRANGER, user=STRANGER).items() if k != "update_id"})
    tg.queue_update({k: v for k, v in command("/status").items() if k != "update_id"})
    handled = run_bot(config, db, max_updates=3, poll_timeout=1, sleep=no_wait)
    assert handled == 3 and tg.pending_updates == 0
    assert latest_decisions(db)[pid].decision == "accept"
    assert "✅ <i>accepted</i>" in tg.sent(GROUP)[0]["text"]
    answers = [r.params["text"] for r in tg.calls("answerCallbackQuery")]
    assert answers == [f"Accepted {pid}", REFUSAL]
    assert tg.calls("sendMessage")[-1].params["text"].startswith("<b>Status</b>")
    offsets = [int(r.params.get("offset") or 0) for r in tg.calls("getUpdates")]
    assert offsets[-1] == 4  # the last call confirmed all three updates


def test_max_updates_handles_that_many_and_leaves_the_rest_for_the_next_run(world):
    """Three taps waiting, `--max-updates 1`: one is handled and confirmed, the other two are
    neither handled nor confirmed, and the next run handles them."""
    tg, make = world
    config, db, ids = make()
    pid = first_paper(tg, config)
    for update in (press(tg, f"a|{pid}"), press(tg, f"r|{pid}"), command("/status")):
        tg.queue_update({k: v for k, v in update.items() if k != "update_id"})
    assert run_bot(config, db, max_updates=1, poll_timeout=1, sleep=no_wait) == 1
    assert latest_decisions(db)[pid].decision == "accept" and tg.pending_updates == 2
    assert run_bot(config, db, max_updates=2, poll_timeout=1, sleep=no_wait) == 2
    assert latest_decisions(db)[pid].decision == "reject" and tg.pending_updates == 0


def test_malformed_updates_are_skipped_and_confirmed_not_fatal(world):
    """A callback PTB could not parse (no `is_bot`) and one our handler cannot read (no
    `chat`) must not stop the bot, nor come back after a restart; the next tap still counts."""
    tg, make = world
    config, db, ids = make()
    pid = first_paper(tg, config)
    no_is_bot = press(tg, f"a|{pid}")
    del no_is_bot["callback_query"]["from"]["is_bot"]
    no_chat = {"message": {"message_id": 5, "date": 0, "text": "/status", "from": {"id": MAINTAINER}}}
    for update in (no_is_bot, no_chat, press(tg, f"r|{pid}")):
        tg.queue_update({k: v for k, v in update.items() if k != "update_id"})
    handled = run_bot(config, db, max_updates=3, poll_timeout=1, sleep=no_wait)
    assert handled == 3 and tg.pending_updates == 0
    assert latest_decisions(db)[pid].decision == "reject"
    assert int(tg.calls("getUpdates")[-1].params.get("offset") or 0) == 4


def test_a_store_that_cannot_be_written_is_one_line_not_a_traceback(tmp_path, run_cli, write_config, monkeypatch):
    """SQLite failures of the disk or the file reached the user as tracebacks (a full disk in
    `digest`, `finish_run`); they are one `error:` line with what to do. A failure that is
    the code's own (no such table) still is a bug and keeps its traceback."""
    import sqlite3

    import tracker.store as store

    config = load_config(write_config(DELIVERY))
    ids = fill_store(open_store(config.store.path), sample_papers(30), SEEN)

    def read_only(path, *args, **kwargs):
        db = open_store(path, *args, **kwargs)
        db.execute("PRAGMA query_only = ON")
        return db

    monkeypatch.setattr(store, "open_store", read_only)
    code, out, err = run_cli("--config", str(config.file), "decide", ids[0], "accept")
    assert code == 1 and err == ("error: the store: attempt to write a readonly database "
                                 "(make store.path and its folder writable)\n")
    assert store.store_failure(sqlite3.OperationalError("no such table: papers")) is None


def test_decide_cli(tmp_path, run_cli, write_config):
    config = load_config(write_config(DELIVERY))
    db = open_store(config.store.path)
    ids = fill_store(db, sample_papers(30), SEEN)
    code, out, err = run_cli("--config", str(config.file), "decide", f"{ids[0]}v2", "accept")
    assert code == 0 and out.strip() == f"{ids[0]}: accept"
    code, out, err = run_cli("--config", str(config.file), "decide", ids[1], "move", "decoder_only")
    assert code == 0
    decided = latest_decisions(db)
    assert (decided[ids[1]].decision, decided[ids[1]].section, decided[ids[1]].via) == ("move", "decoder_only", "cli")
    code, out, err = run_cli("--config", str(config.file), "decide", ids[2], "move", "nowhere")
    assert code == 2 and "unknown section 'nowhere'" in err and "decoder_only" in err
    code, out, err = run_cli("--config", str(config.file), "decide", ids[2], "move")
    assert code == 2
    code, out, err = run_cli("--config", str(config.file), "decide", "9999.99999", "reject")
    assert code == 1 and "not in the store" in err
    assert ids[2] not in latest_decisions(db)


def test_decide_on_a_version_not_stored_says_which_one_is(tmp_path, run_cli, write_config):
    """`decide 2510.24626v9 accept` on a paper stored at v2 was recorded without a word."""
    from dataclasses import replace

    config = load_config(write_config(DELIVERY))
    db = open_store(config.store.path)
    pid = fill_store(db, [replace(p, version=2) for p in sample_papers(30)], SEEN)[0]
    code, out, err = run_cli("--config", str(config.file), "decide", f"{pid}v9", "accept")
    assert code == 0 and out.strip() == f"{pid}: accept"
    assert err.startswith(f"note: {pid} is stored at v2, not v9;"), err
    code, out, err = run_cli("--config", str(config.file), "decide", f"{pid}v2", "reject")
    assert code == 0 and err == "" and latest_decisions(db)[pid].decision == "reject"


def test_whoami_tells_any_chat_its_ids_and_start_does_too(tmp_path, run_cli, monkeypatch, write_config):
    """`tracker bot --whoami` before chat_ids is filled in: a /start from a chat the config
    does not know yet is answered with its chat id and the user's id, and printed."""
    from tracker.standins.telegram import TelegramStandin

    with TelegramStandin() as tg:
        monkeypatch.setenv("WHO_TOKEN", tg.token)
        (tmp_path / "s.md").write_text("# S\n\n## Models\n\n1. **A.** x\n", encoding="utf-8")
        config = write_config(survey={"path": "s.md"}, telegram={"api_url": tg.url, "token_env": "WHO_TOKEN", "chat_ids": []},
                              sections=[{"id": "m", "heading": "Models", "any": ["model"]}])
        tg.queue_update({"message": {"message_id": 3, "date": 0, "text": "/start",
                                     "chat": {"id": -100777, "type": "supergroup", "title": "Lab"},
                                     "from": {"id": 4242, "is_bot": False, "first_name": "M", "username": "maint"}}})
        code, out, err = run_cli("--config", str(config), "bot", "--whoami", "--wait", "10", "--poll-timeout", "1")
        assert code == 0, err
        assert "chat id -100777 (supergroup Lab), user id 4242 (@maint)" in out
        assert "chat_ids = [-100777], allowed_user_ids = [4242]" in out
        reply = tg.sent(-100777)[0]["text"]
        assert "-100777" in reply and "4242" in reply and "not in telegram.chat_ids" in reply

        code, out, err = run_cli("--config", str(config), "bot", "--whoami", "--wait", "1", "--poll-timeout", "1")
        assert code == 1 and "no message reached the bot within 1 s" in err and "send /start" in err

    ctx = BotContext(load_config(config), open_store(":memory:"))
    start = {"message": {"message_id": 1, "date": 0, "text": "/start", "chat": {"id": 5, "type": "private"},
                         "from": {"id": 5, "is_bot": False, "first_name": "X"}}}
    actions = handle_update(start, ctx)
    assert [a.method for a in actions] == ["sendMessage"] and "<code>5</code>" in actions[0].params["text"]
    assert REFUSAL not in actions[0].params["text"]


def test_a_flood_wait_past_the_poll_deadline_is_waited_out_by_the_loop(world):
    """getUpdates answered 429 with retry_after 100, past the call's 61 s deadline: the call
    fails at once, and the loop waits what Telegram asked before it polls again (not 1 s)."""
    tg, make = world
    config, db, ids = make()
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    tg.fail("getUpdates", 429, times=1, retry_after=100)
    tg.queue_update({k: v for k, v in command("/status").items() if k != "update_id"})
    assert run_bot(config, db, max_updates=1, poll_timeout=1, sleep=record) == 1
    assert waits == [100.0] and len(tg.calls("getUpdates")) >= 2
