"""Issue 15 finding 4: an SMTP server on 127.0.0.1 that keeps the message and drops the
connection before its 250. Every run used to send the email again (3 copies per run);
now each message goes at most twice, ever, with one Message-ID, then is given up and
shown by `tracker status`."""

from __future__ import annotations

import json

from delivery_fixtures import DELIVERY, fill_store, sample_papers
from tracker.config import load_config
from tracker.standins.smtp import SmtpStandin
from tracker.store import deliveries as outbox
from tracker.store import open_store
from tracker.timeutil import now_iso

SEEN = now_iso()  # the CLI runs on the real clock
TO = ["ann@example.org", "bob@example.org"]


def test_kept_then_dropped_email_repeats_at_most_once_and_is_reported(tmp_path, run_cli, write_config):
    with SmtpStandin(keep_then_drop=1000) as smtp:
        table = {"host": "127.0.0.1", "port": smtp.port, "security": "none", "from": "t@example.org", "to": TO}
        config = load_config(write_config(DELIVERY, email=table))
        db = open_store(config.store.path)
        ids = fill_store(db, sample_papers(40), SEEN)
        db.conn.close()
        codes = [run_cli("--config", str(config.file), "digest", "--channel", "email")[0] for _ in range(3)]
        received = list(smtp.received)
    assert codes == [1, 0, 0] and ids
    for address in TO:
        copies = [r.message for r in received if address in r.recipients]
        assert len(copies) == 2, address  # the first send and one repeat; three runs used to make 9
        assert len({m["Message-ID"] for m in copies}) == 1 and copies[0]["Message-ID"]
    db = open_store(config.store.path)
    assert outbox.pending(db, "email") == [] and outbox.delivered_ids(db, "email") == set()
    given_up = outbox.failed_messages(db, "email")
    assert sorted(r.target for r in given_up) == TO and all("may have arrived" in (r.last_error or "") for r in given_up)
    code, out, err = run_cli("--config", str(config.file), "status")
    assert code == 0 and "email: 0 messages pending" in out and "1 messages (2 recipient copies) given up" in out
    code, out, err = run_cli("--config", str(config.file), "status", "--json")
    backlog = json.loads(out)["delivery_backlog"]["email"]
    assert (backlog["failed_messages"], backlog["failed_copies"]) == (1, 2)  # one email, to both recipients


def test_a_send_lost_before_the_data_is_not_counted(tmp_path, write_config):
    """A server that is down is not an unknown outcome: the row stays pending for good."""
    from datetime import datetime, timezone

    from tracker.deliver.outbox import run_digest

    with SmtpStandin() as smtp:
        port = smtp.port
    table = {"host": "127.0.0.1", "port": port, "security": "none", "from": "t@example.org", "to": TO}
    config = load_config(write_config(DELIVERY, email=table))
    db = open_store(config.store.path)
    fill_store(db, sample_papers(40), SEEN)
    now = datetime.now(timezone.utc)
    for _ in range(4):
        report = run_digest(config, db, "email", "week", now, sleep=lambda s: None)
        assert not report.ok
    assert len(outbox.pending(db, "email")) == 2 and outbox.failed_messages(db) == []
    assert [r[0] for r in db.execute("SELECT unconfirmed FROM outbox")] == [0, 0]
