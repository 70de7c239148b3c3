"""The weekly email against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from collections import Counter

from delivery_fixtures import DELIVERY, fill_store, keyword_scores, sample_papers
from tracker.config import load_config
from tracker.deliver.outbox import GIVE_UP_AFTER, run_digest
from tracker.models import Match, Paper, SectionScore
from tracker.standins.smtp import SmtpStandin
from tracker.store import deliveries as outbox
from tracker.store import open_store
from tracker.store.classifications import save_classifications
from tracker.store.decisions import record_decision
from tracker.store.papers import upsert_papers

NOW = datetime(2025, 11, 3, 8, tzinfo=timezone.utc)
THIS_WEEK = "2025-10-31T06:00:00+00:00"
LAST_WEEK = "2025-10-25T06:00:00+00:00"
TO = ["ann@example.org", "bob@example.org"]


def top_sections(papers) -> dict[str, int]:
    """Papers per top-scoring section, from the fixture's keyword scores (not the store)."""
    return dict(Counter(scores[0].section for scores in map(keyword_scores, papers) if scores))


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def smtp():
    with SmtpStandin(refuse={"gone@example.org"}) as server:
        yield server


def make(write_config, smtp, to=TO, folder=None, **email):
    table = {"host": "127.0.0.1", "port": smtp.port, "security": "none", "from": "tracker@example.org", "to": to, **email}
    config = load_config(write_config(DELIVERY, folder=folder, email=table))
    return config, open_store(config.store.path)


def test_weekly_email_parts_counts_and_decisions(tmp_path, smtp, write_config):
    config, db = make(write_config, smtp)
    papers = sample_papers()
    this_week = fill_store(db, papers[:300], THIS_WEEK)
    last_week = fill_store(db, papers[300:], LAST_WEEK)  # before this week's window: counted, not listed
    record_decision(db, this_week[0], "accept", at="2025-11-01T10:00:00+00:00")
    record_decision(db, this_week[1], "reject", at="2025-11-01T10:00:00+00:00")
    record_decision(db, last_week[0], "move", "decoder_only", at="2025-11-02T10:00:00+00:00")
    record_decision(db, last_week[1], "reject", at="2025-10-20T10:00:00+00:00")  # an older week
    report = run_digest(config, db, "email", "week", NOW)
    assert report.ok and report.sent == 1 and report.recipients == len(TO) and report.delivered == len(this_week)
    assert [m.recipients for m in smtp.received] == [("ann@example.org",), ("bob@example.org",)]
    msg = smtp.received[0].message
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["To"] == "ann@example.org" and msg["From"] == "tracker@example.org"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    counts, before = top_sections(papers[:300]), top_sections(papers[300:])
    assert sum(counts.values()) == len(this_week) and sum(before.values()) == len(last_week)
    table = html.split('id="counts"')[1].split("</table>")[0]
    for section in config.sections:
        n, m = counts.get(section.id, 0), before.get(section.id, 0)
        change = f"+{n - m}" if n > m else ("±0" if n == m else str(n - m))
        row = table.split(f"({section.id})")[1].split("</tr>")[0]
        assert [c.split(">")[-1] for c in row.split("</td>")[1:4]] == [str(n), str(m), change]
        assert f"({section.id})" in text
    for pid in (this_week[0], last_week[0]):
        assert f"https://arxiv.org/abs/{pid}" in html.split("Accepted (2)")[1].split("Rejected")[0]
    assert f"https://arxiv.org/abs/{this_week[1]}" in html.split("Rejected (1)")[1]
    assert "Accepted this week: 2" in text and "Rejected this week: 1" in text


def test_change_from_previous_week(tmp_path, smtp, write_config):
    config, db = make(write_config, smtp)
    papers = sample_papers()
    fill_store(db, papers[:100], "2025-10-24T06:00:00+00:00")  # the week before this one
    fill_store(db, papers[100:130], THIS_WEEK)
    report = run_digest(config, db, "email", "week", NOW)
    text = smtp.received[0].message.get_body(("plain",)).get_content()
    before, now = top_sections(papers[:100]), top_sections(papers[100:130])
    assert report.ok and sum(before.values()) > sum(now.values())
    total_line = [line for line in text.splitlines() if line.strip().startswith("Total")][0]
    assert f"previous week {sum(before.values())}" in total_line
    changes = {s: now.get(s, 0) - before.get(s, 0) for s in set(now) | set(before)}
    assert any(d < 0 for d in changes.values()) and all(str(d) in text for d in changes.values() if d < 0)


def test_a_title_with_a_newline_cannot_add_a_header(tmp_path, smtp, write_config):
    config, db = make(write_config, smtp)
    evil = Paper("2510.99999", "Attention\r\nBcc: victim@example.org\nX-Evil: 1", "Attention is all. Yes.", ("A",))
    upsert_papers(db, [evil], "api", seen=THIS_WEEK)
    save_classifications(db, [(evil.id, [SectionScore("architecture", "h", 99.0, (Match("attention", "title"),))])], "fp")
    report = run_digest(config, db, "email", "week", NOW)
    assert report.ok
    received = smtp.received[0]
    msg = received.message
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert "Attention Bcc: victim@example.org X-Evil: 1" in msg["Subject"]
    assert received.recipients == ("ann@example.org",)
    assert b"\r\nBcc:" not in received.data and b"\nX-Evil:" not in received.data


def test_a_refused_recipient_is_reported_and_the_others_still_get_it(tmp_path, smtp, write_config):
    config, db = make(write_config, smtp, to=["ann@example.org", "gone@example.org", "bob@example.org"])
    ids = fill_store(db, sample_papers(50), THIS_WEEK)
    report = run_digest(config, db, "email", "week", NOW)
    assert report.failures == ("SMTP server refused recipient gone@example.org: 550 5.1.1 mailbox unavailable",)
    assert (report.sent, report.recipients, report.delivered) == (1, 2, 0)  # one email, two recipients took it
    for address in ("ann@example.org", "bob@example.org"):
        [received] = smtp.messages_to(address)
        assert received.message["To"] == address  # no copy names the refused recipient
    assert outbox.delivered_ids(db, "email") == set()  # gone@ never got them
    for _ in range(GIVE_UP_AFTER - 1):
        again = run_digest(config, db, "email", "week", NOW)
        assert again.failures and again.sent == 0
    assert "gave up" in again.failures[0]
    assert outbox.pending(db, "email") == [] and outbox.delivered_ids(db, "email") == set()
    assert len(smtp.messages_to("ann@example.org")) == 1 and ids


def test_a_connection_dropped_after_the_data_is_sent_once_more(tmp_path, smtp, write_config):
    """The server dropped instead of answering DATA: unknown whether it kept the message,
    so the same bytes (same Message-ID) go once more, at once."""
    config, db = make(write_config, smtp)
    ids = fill_store(db, sample_papers(50), THIS_WEEK)
    smtp.drop_data = 1
    sleeps = Sleeps()
    report = run_digest(config, db, "email", "week", NOW, sleep=sleeps)
    assert report.ok and sleeps == [] and smtp.attempts == 3
    assert len(smtp.messages_to("ann@example.org")) == len(smtp.messages_to("bob@example.org")) == 1
    assert outbox.delivered_ids(db, "email") == set(ids)


def test_a_recipient_deferred_with_a_4xx_is_retried_like_a_dropped_connection(tmp_path, smtp, write_config):
    """Greylisting answers the first RCPT with 450: a real server asks to be tried again,
    so it is not a refusal, and the email reaches everyone in the same run."""
    config, db = make(write_config, smtp)
    ids = fill_store(db, sample_papers(50), THIS_WEEK)
    smtp.defer = {"bob@example.org": 1}
    sleeps = Sleeps()
    report = run_digest(config, db, "email", "week", NOW, sleep=sleeps)
    assert report.ok and (report.sent, report.recipients) == (1, 2) and len(sleeps) == 1
    assert len(smtp.messages_to("ann@example.org")) == len(smtp.messages_to("bob@example.org")) == 1
    assert outbox.delivered_ids(db, "email") == set(ids)


def test_a_recipient_deferred_past_the_retries_stays_pending_for_the_next_run(tmp_path, smtp, write_config):
    config, db = make(write_config, smtp)
    ids = fill_store(db, sample_papers(50), THIS_WEEK)
    smtp.defer = {"bob@example.org": 100}
    report = run_digest(config, db, "email", "week", NOW, sleep=Sleeps())
    assert len(report.failures) == 1 and "bob@example.org: 450 4.2.0 greylisted" in report.failures[0]
    assert "refused" not in report.failures[0] and outbox.delivered_ids(db, "email") == set()
    assert "the server deferred this recipient" in report.failures[0]  # no "check email.host" for a deferral
    smtp.defer = {}
    again = run_digest(config, db, "email", "week", NOW, sleep=Sleeps())
    assert again.ok and (again.sent, again.recipients) == (1, 1)
    assert len(smtp.messages_to("ann@example.org")) == len(smtp.messages_to("bob@example.org")) == 1
    assert outbox.delivered_ids(db, "email") == set(ids)


def test_a_connection_that_keeps_dropping_after_the_data_is_given_up_after_one_repeat(tmp_path, smtp, write_config):
    config, db = make(write_config, smtp)
    fill_store(db, sample_papers(50), THIS_WEEK)
    smtp.drop_data = 100
    report = run_digest(config, db, "email", "week", NOW, sleep=Sleeps())
    assert not report.ok and smtp.attempts == 4 and smtp.received == []  # two sends per recipient, never three
    assert all("given up" in f and "may have arrived" in f for f in report.failures) and len(report.failures) == 2
    assert outbox.delivered_ids(db, "email") == set() and outbox.pending(db, "email") == []
    assert len(outbox.failed_messages(db, "email")) == 2
    smtp.drop_data = 0
    retry = run_digest(config, db, "email", "week", NOW, sleep=Sleeps())
    assert retry.sent == 0 and smtp.attempts == 4  # a given-up message is never sent again


def test_login_uses_the_environment_and_hides_the_password(tmp_path, monkeypatch, write_config):
    with SmtpStandin(credentials=("robot", "pa55-word-secret")) as server:
        monkeypatch.setenv("SMTP_USER", "robot")
        monkeypatch.setenv("SMTP_PASSWORD", "pa55-word-secret")
        config, db = make(write_config, server, username_env="SMTP_USER", password_env="SMTP_PASSWORD")
        fill_store(db, sample_papers(30), THIS_WEEK)
        assert run_digest(config, db, "email", "week", NOW).ok and server.logins == ["robot"]  # one connection for both recipients
    with SmtpStandin(credentials=("robot", "another-password")) as server:
        (tmp_path / "b").mkdir()
        config, db = make(write_config, server, folder=tmp_path / "b", username_env="SMTP_USER", password_env="SMTP_PASSWORD")
        fill_store(db, sample_papers(30), THIS_WEEK)
        report = run_digest(config, db, "email", "week", NOW)
        assert report.failures and "refused the login" in report.failures[0]
        assert all("pa55-word-secret" not in f for f in report.failures)


def test_starttls_required_but_not_offered(tmp_path, smtp, write_config):
    config, db = make(write_config, smtp, security="starttls")
    fill_store(db, sample_papers(30), THIS_WEEK)
    report = run_digest(config, db, "email", "week", NOW)
    assert report.failures and "does not offer STARTTLS" in report.failures[0] and smtp.received == []


def test_one_email_to_three_recipients_is_reported_as_one_email(tmp_path, smtp, write_config, run_cli):
    to = ["ann@example.org", "bob@example.org", "cat@example.org"]
    config, db = make(write_config, smtp, to=to)
    papers = sample_papers(40)
    first = fill_store(db, papers[:20], THIS_WEEK)
    report = run_digest(config, db, "email", "week", NOW)
    assert sorted(r.recipients[0] for r in smtp.received) == to
    counts = report.counts()
    assert (counts["queued"], counts["sent"], counts["recipients"], counts["delivered"]) == (1, 1, len(to), len(first))
    second = fill_store(db, papers[20:], "2025-11-05T06:00:00+00:00")
    db.conn.close()
    code, out, err = run_cli("--config", str(config.file), "digest", "--channel", "email", "--now", "2025-11-10T08:00:00+00:00")
    assert code == 0, err
    assert len(smtp.received) == 2 * len(to)
    n = len(second)
    assert f"email: {n} paper(s) (week): 1 email(s) sent to {len(to)} recipient(s), {n} paper(s) delivered" in out


@pytest.mark.parametrize("refusal, reply, hint", [
    ({"refuse_sender": {"tracker@example.org": "553 5.7.1 sender address rejected: not owned by user"}},
     "553 5.7.1 sender address rejected", "check email.from"),
    ({"refuse_sender": {"tracker@example.org": "530 5.7.0 Authentication required"}},
     "530 5.7.0 Authentication required", "email.security / email.username_env"),
    ({"refuse": dict.fromkeys(TO, "530 5.7.0 Authentication required")},  # a 530 at RCPT: still the setup
     "530 5.7.0 Authentication required", "email.security / email.username_env"),
], ids=["553-sender", "530-sender", "530-recipient"])
def test_a_refused_sender_or_a_530_stops_the_run_and_keeps_every_message(tmp_path, write_config, refusal, reply, hint):
    """A setup problem, not a refused recipient: counted as one, the rows were given up and
    fixing the config (or the server) delivered nothing."""
    with SmtpStandin(**refusal) as server:
        config, db = make(write_config, server)
        ids = fill_store(db, sample_papers(50), THIS_WEEK)
        for _ in range(GIVE_UP_AFTER + 1):
            sleeps = Sleeps()
            report = run_digest(config, db, "email", "week", NOW, sleep=sleeps)
            [failure] = report.failures
            assert f"SMTP server 127.0.0.1:{server.port} refused" in failure and reply in failure and hint in failure
            assert "gave up" not in failure and sleeps == []  # not retried, never given up
        assert {r.status for r in outbox.pending(db, "email")} == {"pending"} and len(outbox.pending(db, "email")) == len(TO)
        assert outbox.failed_messages(db, "email") == []
        server.refuse, server.refuse_sender = set(), {}
        fixed = run_digest(config, db, "email", "week", NOW, sleep=Sleeps())
        assert fixed.ok and (fixed.resent, fixed.recipients) == (1, len(TO))
        assert run_digest(config, db, "email", "week", NOW, sleep=Sleeps()).sent == 0
        assert [len(server.messages_to(address)) for address in TO] == [1] * len(TO)
        assert outbox.delivered_ids(db, "email") == set(ids)


def test_runs_stopped_by_a_setup_failure_do_not_count_toward_giving_up(tmp_path, write_config):
    """The row's failures were all counted as refusals: after three refused-sender runs, the
    first refusal of the recipient gave it up, said to be "after 3 refusals"."""
    with SmtpStandin(refuse_sender={"tracker@example.org": "553 5.7.1 not owned by user"}) as server:
        config, db = make(write_config, server)
        fill_store(db, sample_papers(50), THIS_WEEK)
        for _ in range(GIVE_UP_AFTER):
            assert run_digest(config, db, "email", "week", NOW, sleep=Sleeps()).failures
        server.refuse_sender, server.refuse = {}, {"ann@example.org"}
        for _ in range(GIVE_UP_AFTER - 1):
            [failure] = run_digest(config, db, "email", "week", NOW, sleep=Sleeps()).failures
            assert "refused recipient ann@example.org" in failure and "gave up" not in failure
        [failure] = run_digest(config, db, "email", "week", NOW, sleep=Sleeps()).failures
        assert failure.endswith(f"(gave up after {GIVE_UP_AFTER} refusals)")
        assert [r.target for r in outbox.failed_messages(db, "email")] == ["ann@example.org"]
        assert len(server.messages_to("bob@example.org")) == 1
