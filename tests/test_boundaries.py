"""Exact boundaries (issue 15, finding 8): the digest never leaves out a paper stored in
the second it starts, the weekly email's counts cover the week the schedule closes, the
first email shows no week-over-week change, and the text table's columns line up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rich.cells import cell_len

from delivery_fixtures import DELIVERY, fill_store, keyword_scores, sample_papers
from tracker.config import load_config
from tracker.deliver.outbox import run_digest
from tracker.run import runner, schedule
from tracker.standins.smtp import SmtpStandin
from tracker.store import open_store
from tracker.timeutil import iso

NOW = datetime(2025, 11, 3, 13, 0, 0, 400_000, tzinfo=timezone.utc)  # Monday 08:00:00.4 in New York


@pytest.fixture
def smtp():
    with SmtpStandin() as server:
        yield server


def email_config(write_config, smtp, schedule_email="0 8 * * mon"):
    table = {"host": "127.0.0.1", "port": smtp.port, "security": "none", "from": "t@example.org", "to": ["m@example.org"]}
    schedule = {"timezone": "America/New_York", "email": schedule_email}
    config = load_config(write_config(DELIVERY, email=table, schedule=schedule))
    return config, open_store(config.store.path)


def classified(papers, n):
    return [p for p in papers if keyword_scores(p)][:n]


def test_a_paper_stored_in_the_same_second_is_in_the_digest(tmp_path, write_config):
    config = load_config(write_config(DELIVERY))
    db = open_store(config.store.path)
    first, later = classified(sample_papers(), 2)
    fill_store(db, [first], iso(NOW))  # same second as the digest, stored just before it
    report = run_digest(config, db, "stdout", "day", NOW)
    assert report.papers == 1 and first.id in report.messages[0]


def test_a_paper_stored_in_that_second_after_the_digest_goes_out_next_time(tmp_path, write_config):
    tg = {"api_url": "http://127.0.0.1:9", "token_env": "T_TOKEN", "chat_ids": [1]}
    config = load_config(write_config(DELIVERY, telegram=tg))
    db = open_store(config.store.path)
    first, later = classified(sample_papers(), 2)
    fill_store(db, [first], iso(NOW))
    one = run_digest(config, db, "telegram", "day", NOW, dry_run=True)
    assert one.papers == 1
    from tracker.store import deliveries

    deliveries.queue_digest(db, "telegram", "day", (one.window_start, one.window_end), [], [first.id], iso(NOW))
    fill_store(db, [later], iso(NOW))  # the same second, after the first digest queued
    two = run_digest(config, db, "telegram", "day", NOW + timedelta(days=1), dry_run=True)
    assert two.papers == 1 and later.id in two.messages[0] and first.id not in two.messages[0]


def test_scheduled_period_is_the_span_between_the_last_two_fires():
    trigger = schedule.crontab_trigger("0 8 * * mon", "America/New_York")
    late = datetime(2025, 11, 4, 20, tzinfo=timezone.utc)  # caught up on Tuesday
    start, end = schedule.scheduled_period(trigger, late)
    assert (start, end) == (datetime(2025, 10, 27, 12, tzinfo=timezone.utc), datetime(2025, 11, 3, 13, tzinfo=timezone.utc))
    assert schedule.scheduled_period(trigger, NOW) == (start, end)  # on time or late: the same week


def _count_lines(text: str) -> list[str]:
    after = text.replace("\r\n", "\n").split("New papers per section", 1)[1]
    return after.split("\n\n")[0].splitlines()[1:]


def test_weekly_counts_follow_the_schedule_not_the_run_time(tmp_path, smtp, write_config):
    """The email job runs a day late: counts still cover Mon 08:00 to Mon 08:00 (New York)."""
    config, db = email_config(write_config, smtp)
    papers = classified(sample_papers(), 30)
    fill_store(db, papers[:10], "2025-10-20T15:00:00+00:00")  # the previous scheduled week (20-27 Oct)
    fill_store(db, papers[10:20], "2025-10-29T15:00:00+00:00")  # this week
    fill_store(db, papers[20:30], "2025-11-04T09:00:00+00:00")  # after Monday's fire, before the late run
    late = datetime(2025, 11, 4, 20, tzinfo=timezone.utc)
    report = runner.email_stage(config, db, late)
    assert report.ok and report.sent == 1
    text = smtp.received[0].message.get_body(("plain",)).get_content()
    total = [line for line in _count_lines(text) if line.strip().startswith("Total")][0]
    assert total.split()[1] == "10" and "previous week 10" in total  # counted from the run time: 20 and 0
    assert all(f"arxiv.org/abs/{p.id}" in text for p in papers[10:30])  # listed: every undelivered paper


def test_first_weekly_email_shows_no_change(tmp_path, smtp, write_config):
    config, db = email_config(write_config, smtp)
    fill_store(db, classified(sample_papers(), 12), "2025-10-30T15:00:00+00:00")
    report = runner.email_stage(config, db, NOW)
    assert report.ok and report.sent == 1
    message = smtp.received[0].message
    text, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    assert "previous week" not in text.lower() and "(+" not in text and "±" not in text
    assert "Previous week" not in html and "Change" not in html
    assert _count_lines(text)[-1].split()[:2] == ["Total", "12"]


def test_plain_text_counts_line_up_with_wide_headings(tmp_path, smtp, write_config):
    config, db = email_config(write_config, smtp)
    papers = classified(sample_papers(), 40)
    fill_store(db, papers[:25], "2025-10-22T15:00:00+00:00")
    fill_store(db, papers[25:], "2025-10-30T15:00:00+00:00")
    assert runner.email_stage(config, db, NOW).ok
    text = smtp.received[0].message.get_body(("plain",)).get_content()
    lines = _count_lines(text)
    assert len(lines) == 6 and any("架构" in line for line in lines)
    ends = set()
    for line in lines:
        number = line.split("  (")[0].rstrip()
        ends.add(cell_len(number))  # the count column ends in the same terminal cell on every row
    assert len(ends) == 1, lines
    assert "(previous week 25)" in lines[-1]
