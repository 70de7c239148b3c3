"""`[digest] max_papers`: a daily digest shows the highest priorities, says how many more
there are, never offers them again on that channel, and the weekly email carries them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from delivery_fixtures import DELIVERY, TOKEN, fill_store, sample_papers
from tracker.config import load_config
from tracker.classify.terms import parse_term
from tracker.deliver import digest as dg
from tracker.deliver.outbox import run_digest
from tracker.errors import ConfigError
from tracker.standins.smtp import SmtpStandin
from tracker.standins.telegram import TelegramStandin
from tracker.store import deliveries as outbox
from tracker.store import open_store
from tracker.timeutil import iso

MONDAY = datetime(2025, 11, 3, 8, tzinfo=timezone.utc)


def no_sleep(seconds: float) -> None:
    pass


def _digest(config, db, now, cap, period="day"):
    start, end = dg.window(period, now)
    return dg.build_digest(outbox.undelivered(db, "telegram", iso(start), iso(end)), config.sections, period, start, end, cap)


def test_cap_keeps_the_highest_priorities_across_sections(tmp_path, write_config):
    config = load_config(write_config(DELIVERY))
    db = open_store(config.store.path)
    ids = fill_store(db, sample_papers(), iso(MONDAY - timedelta(hours=2)))
    full = _digest(config, db, MONDAY, 0)
    capped = _digest(config, db, MONDAY, 10)
    assert full.count == len(ids) > 10 and not full.overflow
    assert capped.count == 10 and capped.more == len(ids) - 10
    assert set(capped.paper_ids) | set(capped.overflow) == set(ids)
    kept = min(e.priority for e in capped.entries)
    held = {e.id: e.priority for e in full.entries if e.id in capped.overflow}
    assert max(held.values()) <= kept
    order = [s.id for s in config.sections]
    assert [s.id for s in capped.sections] == sorted((s.id for s in capped.sections), key=order.index)


def test_max_papers_is_checked(tmp_path, write_config):
    assert load_config(write_config(DELIVERY, digest={"max_papers": 7})).digest.max_papers == 7
    with pytest.raises(ConfigError, match=r"digest\.max_papers"):
        load_config(write_config(DELIVERY, digest={"max_papers": -1}))


def test_overflow_goes_to_the_weekly_email_and_never_back_to_telegram(tmp_path, monkeypatch, write_config):
    monkeypatch.setenv("TG_TOKEN", TOKEN)
    monkeypatch.setenv("SMTP_USER", "robot")
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    papers = sample_papers(120)
    with TelegramStandin(token=TOKEN) as tg, SmtpStandin(credentials=("robot", "pw")) as smtp:
        config = load_config(write_config(
            DELIVERY,
            telegram={"api_url": tg.url, "token_env": "TG_TOKEN", "chat_ids": [7]},
            email={"host": "127.0.0.1", "port": smtp.port, "security": "none", "from": "t@example.org", "to": ["m@example.org"],
                   "username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD"},
            digest={"max_papers": 5},
        ))
        db = open_store(config.store.path)
        day1 = fill_store(db, papers[:60], iso(MONDAY - timedelta(hours=2)))
        first = run_digest(config, db, "telegram", "day", MONDAY, sleep=no_sleep)
        assert first.papers == 5 and first.delivered == 5
        text = "\n".join(m["text"] for m in tg.sent())
        assert f"{len(day1) - 5} more over the daily cap of 5 (digest.max_papers) go to the weekly email" in text
        head = tg.sent()[0]["text"].splitlines()
        assert head[0].endswith("5 new papers") and "more over the daily cap" in head[1]  # the note on its own line
        held = {r["paper_id"] for r in db.query("SELECT paper_id FROM deliveries WHERE status = 'overflow'")}
        assert len(held) == len(day1) - 5
        assert outbox.backlog(db)["telegram"]["overflow_papers"] == len(held)
        assert not held & outbox.delivered_ids(db, "telegram")

        tuesday = MONDAY + timedelta(days=1)
        day2 = fill_store(db, papers[60:], iso(tuesday - timedelta(hours=2)))
        second = run_digest(config, db, "telegram", "day", tuesday, sleep=no_sleep)
        assert second.papers == 5
        shown = set(outbox.delivered_ids(db, "telegram"))
        assert not held & shown and len(shown) == 10
        later = run_digest(config, db, "telegram", "day", tuesday + timedelta(days=1), sleep=no_sleep)
        assert later.papers == 0  # yesterday's leftovers do not come back

        weekly = run_digest(config, db, "email", "week", MONDAY + timedelta(days=6), sleep=no_sleep)
        assert weekly.papers == len(day1) + len(day2)  # no cap on the week: every paper, overflow included
        body = smtp.messages_to("m@example.org")[0].message.get_body(("plain",)).get_content()
        for pid in held:
            assert pid in body


def test_stdout_digest_previews_the_cap_and_marks_nothing(tmp_path, write_config):
    config = load_config(write_config(DELIVERY, digest={"max_papers": 3}))
    db = open_store(config.store.path)
    ids = fill_store(db, sample_papers(40), iso(datetime.now(timezone.utc) - timedelta(hours=1)))
    report = run_digest(config, db, "stdout", "day", datetime.now(timezone.utc))
    assert report.papers == 3
    assert f"{len(ids) - 3} more over the daily cap of 3 (digest.max_papers) are not sent: no [email] table" in report.messages[0]
    assert db["deliveries"].count == 0
    week = run_digest(replace(config), db, "stdout", "week", datetime.now(timezone.utc))
    assert week.papers == len(ids)


def test_digest_shows_the_papers_words_not_rule_syntax(tmp_path, write_config):
    from tracker.classify.matcher import Classifier
    from tracker.deliver import telegram_html as th
    from tracker.store.classifications import save_classifications
    from tracker.store.papers import upsert_papers

    config = load_config(write_config(DELIVERY))
    db = open_store(config.store.path)
    rule = replace(config.sections[3].rule, any=(parse_term("*GPT*"),))
    classifier = Classifier(None, [(config.sections[3].id, config.sections[3].heading, rule)])
    papers = sample_papers()
    seen = iso(MONDAY - timedelta(hours=2))
    upsert_papers(db, papers, "api", seen=seen)
    save_classifications(db, [(p.id, classifier.classify(p)) for p in papers], classifier.fingerprint, at=seen)
    digest = _digest(config, db, MONDAY, 0)
    assert digest.count > 5
    env = dg.environment(None)
    header, sections = th.render_parts(digest, env)
    telegram = "\n".join(p.html for _h, parts in sections for p in parts)
    text = dg.render_stdout(digest, env)
    for out in (telegram, text):
        assert "*GPT*" not in out and "GPT-4o" in out and "ChatGPT" in out


def test_a_word_matched_in_title_and_abstract_is_shown_once():
    assert dg.distinct_words(["Attention", "Long-Context", "attention", "long-context", "KV cache"]) == (
        "Attention", "Long-Context", "KV cache")
