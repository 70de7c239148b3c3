"""One cycle (`run --once`) and the daemon's job loop, with injected stage fakes:
order, recording in job_runs, one failure not stopping the others, exit codes,
the email's due rule, catch-up at start, and job status."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from runner_support import ALL_SERVICES, EMAIL, RUNNER, TELEGRAM, Recorder, Report

from tracker.config import load_config
from tracker.deliver.outbox import DigestReport
from tracker.propose.proposals import ProposeReport
from tracker.run import runner
from tracker.run.pipeline import PollReport, SourceReport
from tracker.run import schedule
from tracker.errors import SourceError
from tracker.store import jobs, open_store
from tracker.store.status import status as store_status

NY = ZoneInfo("America/New_York")
MONDAY = datetime(2024, 1, 8, 10, tzinfo=NY)
WEDNESDAY = datetime(2024, 1, 10, 10, tzinfo=NY)


def rows(db):
    return [(r["job"], r["trigger"], r["outcome"]) for r in db.query("SELECT * FROM job_runs ORDER BY id")]


def test_once_runs_the_stages_in_order_and_records_each(tmp_path, write_config):
    config = load_config(write_config(RUNNER, ALL_SERVICES))
    db = open_store(":memory:")
    rec = Recorder()
    results = runner.run_once(config, db, rec.stages(), clock=lambda: MONDAY)
    assert rec.names == ["poll", "digest", "email", "propose"]
    assert [(r.job, r.outcome) for r in results] == [(n, "ok") for n in rec.names]
    assert rows(db) == [(n, "once", "ok") for n in rec.names]
    assert results[0].summary == {"new": 1}
    assert all(now == MONDAY for _, now in rec.calls)


def test_a_failing_stage_is_recorded_and_the_others_still_run(tmp_path, write_config):
    config = load_config(write_config(RUNNER, ALL_SERVICES))
    db = open_store(":memory:")

    def boom():
        raise SourceError("arXiv answered 503 three times")

    rec = Recorder(behave={"poll": boom, "email": lambda: 1 / 0})
    results = runner.run_once(config, db, rec.stages(), clock=lambda: MONDAY)
    assert rec.names == ["poll", "digest", "email", "propose"]
    assert [r.outcome for r in results] == ["failed", "ok", "failed", "ok"]
    failed = {r["job"]: r["error"] for r in db.query("SELECT * FROM job_runs WHERE outcome = 'failed'")}
    assert failed == {"poll": "arXiv answered 503 three times", "email": "ZeroDivisionError: division by zero"}


def test_a_report_saying_not_ok_fails_the_job_with_the_source_errors(tmp_path, write_config):
    config = load_config(write_config(RUNNER))
    db = open_store(":memory:")
    bad = Report(ok=False, new=3, problems=["rss: HTTP 500"])
    rec = Recorder(behave={"poll": lambda: bad})
    result = runner.run_once(config, db, rec.stages(), clock=lambda: MONDAY)[0]
    assert (result.outcome, result.error, result.summary["new"]) == ("failed", "rss: HTTP 500", 3)


def test_unconfigured_services_are_skipped_and_propose_writes_files_only(tmp_path, caplog, write_config):
    config = load_config(write_config(RUNNER))
    db = open_store(":memory:")
    rec = Recorder()
    results = runner.run_once(config, db, rec.stages(), clock=lambda: MONDAY)
    assert rec.names == ["poll", "propose"]
    assert [(r.job, r.outcome) for r in results] == [("poll", "ok"), ("digest", "skipped"), ("email", "skipped"),
                                                      ("propose", "ok")]
    assert "no [telegram]" in results[1].error and "no [email]" in results[2].error
    assert rows(db)[1] == ("digest", "once", "skipped")


class TestEmailDue:
    def setup(self, write_config):
        return load_config(write_config(RUNNER, EMAIL)), open_store(":memory:")

    def succeed(self, db, when):
        jobs.record_job_finish(db, jobs.record_job_start(db, "email", when), when, jobs.OK)

    def test_never_sent_is_due(self, tmp_path, write_config):
        config, db = self.setup(write_config)
        assert runner.email_due(config, db, WEDNESDAY)

    def test_monday_after_the_cron_time_is_due_once(self, tmp_path, write_config):
        config, db = self.setup(write_config)
        self.succeed(db, MONDAY - timedelta(days=7))
        assert not runner.email_due(config, db, MONDAY.replace(hour=7))
        assert runner.email_due(config, db, MONDAY)
        self.succeed(db, MONDAY)
        assert not runner.email_due(config, db, MONDAY + timedelta(hours=5))
        assert not runner.email_due(config, db, WEDNESDAY)

    def test_a_missed_monday_is_sent_later_in_the_week(self, tmp_path, write_config):
        config, db = self.setup(write_config)
        self.succeed(db, MONDAY - timedelta(days=8))
        assert runner.email_due(config, db, WEDNESDAY)

    def test_once_skips_the_email_when_not_due(self, tmp_path, write_config):
        config, db = self.setup(write_config)
        self.succeed(db, MONDAY)
        rec = Recorder()
        results = runner.run_once(config, db, rec.stages(), clock=lambda: WEDNESDAY)
        assert "email" not in rec.names and results[2].outcome == "skipped" and "not due" in results[2].error


def test_a_stop_request_ends_the_cycle_after_the_current_stage(tmp_path, write_config):
    config = load_config(write_config(RUNNER, ALL_SERVICES))
    db = open_store(":memory:")
    stop = threading.Event()
    rec = Recorder(behave={"digest": stop.set})
    results = runner.run_once(config, db, rec.stages(), clock=lambda: MONDAY, stop=stop)
    assert rec.names == ["poll", "digest"] and [r.outcome for r in results] == ["ok", "ok"]


def test_cli_once_exits_1_when_a_stage_failed_and_prints_each(tmp_path, run_cli, monkeypatch, write_config):
    path = write_config(RUNNER, ALL_SERVICES)
    rec = Recorder(behave={"digest": lambda: 1 / 0})
    monkeypatch.setattr(runner, "default_stages", rec.stages)
    monkeypatch.setenv("TEST_TELEGRAM_TOKEN", "1:t")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_t")
    code, out, err = run_cli("--config", str(path), "run", "--once", "--now", "2024-01-08T15:00:00Z")
    assert code == 1, err
    assert rec.names == ["poll", "digest", "email", "propose"]
    assert "digest   failed   ZeroDivisionError" in out and "error: a stage failed" in err
    times = [now for _, now in rec.calls]
    start = datetime(2024, 1, 8, 15, tzinfo=timezone.utc)
    assert start <= times[0] < start + timedelta(minutes=1)
    assert all(later - earlier >= timedelta(seconds=1) for earlier, later in zip(times, times[1:]))


def test_cli_once_json_and_exit_0(tmp_path, run_cli, monkeypatch, write_config):
    import json

    path = write_config(RUNNER)
    monkeypatch.setattr(runner, "default_stages", Recorder().stages)
    code, out, err = run_cli("--config", str(path), "run", "--once", "--json")
    assert code == 0, err
    assert [(r["job"], r["outcome"]) for r in json.loads(out)] == [
        ("poll", "ok"), ("digest", "skipped"), ("email", "skipped"), ("propose", "ok")]
    assert "job.done" in err and "job=poll" in err


def test_cli_now_needs_once(tmp_path, run_cli, write_config):
    code, _, err = run_cli("--config", str(write_config(RUNNER)), "run", "--now", "2024-01-08T15:00:00Z")
    assert code == 2 and "--now only works with --once" in err


def serve_in_thread(config, rec, wait_for: threading.Event, stop: threading.Event):
    thread = threading.Thread(target=runner.serve, kwargs={"config": config, "stages": rec.stages(), "stop": stop})
    thread.start()
    assert wait_for.wait(20), "the catch-up job never ran"
    stop.set()
    thread.join(20)
    assert not thread.is_alive()


def test_daemon_catches_up_at_start_and_one_failure_does_not_stop_the_next(tmp_path, write_config):
    config = load_config(write_config(RUNNER, TELEGRAM))
    db = open_store(config.store.path)
    long_ago = datetime.now(timezone.utc) - timedelta(days=3)
    jobs.record_job_finish(db, jobs.record_job_start(db, "digest", long_ago), long_ago, jobs.OK)
    jobs.record_job_start(db, "propose", long_ago)  # left "running" by a killed process
    db.close()
    digest_ran, stop = threading.Event(), threading.Event()

    def boom():
        raise SourceError("arXiv is down")

    def digest():
        digest_ran.set()
        assert stop.wait(20)

    rec = Recorder(behave={"poll": boom, "digest": digest})
    serve_in_thread(config, rec, digest_ran, stop)
    assert rec.names == ["poll", "digest"]  # propose was due too (never succeeded) but the stop came first
    db = open_store(config.store.path)
    assert rows(db) == [("digest", "schedule", "ok"), ("propose", "schedule", "interrupted"),
                        ("poll", "catch-up", "failed"), ("digest", "catch-up", "ok")]
    nxt = db.execute("SELECT next_run FROM job_runs WHERE job = 'digest' ORDER BY id DESC").fetchone()[0]
    assert datetime.fromisoformat(nxt).astimezone(NY).time().isoformat() == "08:00:00"


def test_job_status_shows_last_run_outcome_and_next_run(tmp_path, write_config):
    config = load_config(write_config(RUNNER, ALL_SERVICES))
    db = open_store(":memory:")
    runner.run_once(config, db, Recorder(behave={"email": lambda: 1 / 0}).stages(), clock=lambda: MONDAY)
    status = {s["job"]: s for s in runner.status_jobs(config, db, WEDNESDAY)}
    assert list(status) == list(schedule.JOBS)
    assert status["email"]["last_outcome"] == "failed" and status["email"]["last_success"] is None
    assert status["poll"]["last_outcome"] == "ok" and status["catch_up"]["last_outcome"] is None
    assert status["poll"]["next_run"] == "2024-01-11T01:30:00+00:00"  # Wed 20:30 New York
    assert status["email"]["next_run"] == "2024-01-15T13:00:00+00:00"  # next Monday 08:00
    scheduler = schedule.build_scheduler(config, lambda n, t: None)
    assert [s["job"] for s in runner.status_jobs(scheduler, db, WEDNESDAY)] == list(schedule.JOBS)


def test_status_marks_unconfigured_jobs(tmp_path, write_config):
    config = load_config(write_config(RUNNER))
    status = {s["job"]: s for s in runner.status_jobs(config, open_store(":memory:"), WEDNESDAY)}
    assert status["digest"]["enabled"] is False and status["digest"]["next_run"] is None
    assert "writes out/ files only" in status["propose"]["note"]
    assert store_status(open_store(":memory:"))["delivery_backlog"] == {}


def test_stage_reports_count_and_explain_their_failures():
    api = SourceReport("api", "a", "b", fetched=5, new=3, updated=1, requests=2, outcome="ok")
    rss = SourceReport("rss", "a", "b", fetched=4, new=0, updated=0, requests=1, outcome="failed", error="HTTP 500")
    cites = SourceReport("citations", "a", "b", 2, 2, 0, 3, "ok", detail={"works": 9, "linked": 4})
    poll = PollReport((api, rss, cites))
    assert poll.counts() == {"fetched": 11, "new": 5, "updated": 1, "requests": 6, "skipped": 0, "works": 9, "linked": 4}
    assert (poll.ok, poll.errors()) == (False, ["rss: HTTP 500"])
    assert runner.failure(poll) == "rss: HTTP 500"
    digest = DigestReport("telegram", "day", "a", "b", papers=4, messages=("m1", "m2"), sent=1, failures=("chat 1: 403",))
    assert digest.counts() == {"papers": 4, "messages": 2, "queued": 0, "sent": 1, "resent": 0, "delivered": 0,
                               "failures": 1}
    assert runner.failure(digest) == "chat 1: 403"
    assert runner.failure(Report(ok=False)) == "the stage reported a failure"
    assert runner.failure(Report(problems=["ignored while ok"])) is None
    assert ProposeReport(refreshed=((1, "open"),)).counts() == {"proposed": 0, "skipped": 0, "refreshed": 1}


def test_status_lines(tmp_path, write_config):
    from tracker.commands.run import render_backlog, render_jobs

    config = load_config(write_config(RUNNER, ALL_SERVICES))
    db = open_store(":memory:")
    runner.run_once(config, db, Recorder(behave={"email": lambda: 1 / 0}).stages(), clock=lambda: MONDAY)
    lines = render_jobs(runner.status_jobs(config, db, WEDNESDAY))
    assert lines[0] == "poll: '30 20 * * sun-thu', last ok at 2024-01-08T15:00:00+00:00, next 2024-01-11T01:30:00+00:00"
    assert lines[1].startswith("catch_up: '0 12 * * *', never run by the scheduler")
    assert "  error: ZeroDivisionError: division by zero" in lines
    assert render_backlog({"telegram": {"pending_messages": 1, "queued_papers": 3, "delivered_papers": 9}}) == [
        "telegram: 1 messages pending, 3 papers queued, 9 delivered"]


def test_a_report_with_clashing_keys_still_logs(tmp_path, write_config):
    config = load_config(write_config(RUNNER))
    rec = Recorder(behave={"poll": lambda: Report(extra={"job": 1, "seconds": 9, "error": 1, "sent": 2})})
    result = runner.run_once(config, open_store(":memory:"), rec.stages(), clock=lambda: MONDAY)[0]
    assert result.outcome == "ok" and result.summary["sent"] == 2


def test_the_bot_runs_in_the_daemon_by_default_and_stops_with_it(tmp_path, monkeypatch, write_config):
    import time

    from tracker.standins.telegram import TelegramStandin

    with TelegramStandin() as tg:
        monkeypatch.setenv("TEST_TELEGRAM_TOKEN", tg.token)
        config = load_config(write_config(RUNNER, TELEGRAM, telegram={"run_bot": None, "api_url": tg.url}))  # the default: on
        stop, polled = threading.Event(), threading.Event()
        rec = Recorder(behave={"poll": polled.set})
        thread = threading.Thread(target=runner.serve, kwargs={"config": config, "stages": rec.stages(), "stop": stop})
        thread.start()
        tg.queue_update({"message": {"message_id": 5, "chat": {"id": 1, "type": "private"},
                                     "from": {"id": 1, "is_bot": False, "first_name": "M"},
                                     "date": 0, "text": "/status"}})
        deadline = time.monotonic() + 30
        while not tg.sent(1) and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting for the bot's reply, not for a schedule
        assert polled.wait(10)
        stop.set()
        tg.queue_update({"message": {"message_id": 6, "chat": {"id": 1, "type": "private"},
                                     "from": {"id": 1, "is_bot": False, "first_name": "M"}, "date": 0,
                                     "text": "/latest"}})  # ends the bot's long poll at once
        thread.join(30)
    assert not thread.is_alive()
    assert tg.sent(1), "the bot never answered /status"
