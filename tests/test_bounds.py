"""Bounded everything (issue 15 findings 1, 5, 6, 7; issue 13 point 2): each hostile
server runs on 127.0.0.1 (tracker.standins.hostile) and each test asserts the bound
(the call returns within its deadline, memory under a cap) and what is recorded."""

from __future__ import annotations

import threading
import time
import tracemalloc
from datetime import datetime, timezone

import pytest

from tracker.config import load_config
from tracker.errors import NotTried, SourceError
from tracker.net import retry
from tracker.net.retry import Interrupted, RetryPolicy, Transient
from tracker.run.pipeline import poll
from tracker.sources import Http, arxiv_api
from tracker.standins.arxiv import ArxivReplay
from tracker.standins.hostile import HostileServer, atom_page, listed
from tracker.standins.server import closed_port
from tracker.store import open_store, runs

NOW = datetime(2025, 11, 1, tzinfo=timezone.utc)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def http(**kw) -> Http:
    return Http(**{"timeout": 2.0, "retries": 2, "deadline_seconds": 5.0, "sleep": Sleeps(), **kw})


def timed(fn):
    began = time.monotonic()
    try:
        fn()
    except Exception as exc:  # the caller asserts on it
        return exc, time.monotonic() - began
    return None, time.monotonic() - began


def test_policy_retries_transients_with_backoff_and_honours_retry_after():
    sleeps, calls = Sleeps(), []

    def attempt():
        calls.append(1)
        if len(calls) == 1:
            raise Transient("HTTP 503", retry_after=7)
        if len(calls) < 4:
            raise Transient("HTTP 500")
        return "ok"

    assert RetryPolicy(retries=3, sleep=sleeps).call(attempt) == "ok"
    assert sleeps == [7.0, 2.0, 4.0]


def test_policy_does_not_wait_past_the_cap():
    sleeps = Sleeps()
    with pytest.raises(Transient) as err:
        RetryPolicy(retries=5, max_wait=600, sleep=sleeps).call(lambda: (_ for _ in ()).throw(Transient("429", 86400)))
    assert err.value.over_cap and err.value.attempts == 1 and sleeps == []


def test_policy_does_not_wait_past_the_deadline():
    sleeps = Sleeps()
    policy = RetryPolicy(retries=5, sleep=sleeps, deadline=time.monotonic() + 5)
    with pytest.raises(Transient) as err:
        policy.call(lambda: (_ for _ in ()).throw(Transient("429", 20)))
    assert err.value.past_deadline and not err.value.over_cap and err.value.attempts == 1 and sleeps == []


def test_a_stop_ends_a_backoff_wait_at_once():
    timer = threading.Timer(0.3, retry.STOP.set)
    timer.start()
    try:
        exc, seconds = timed(lambda: RetryPolicy(retries=1, backoff=60).call(
            lambda: (_ for _ in ()).throw(Transient("HTTP 503"))))
    finally:
        timer.cancel()
        retry.STOP.clear()
    assert isinstance(exc, Interrupted) and seconds < 5


def test_a_trickling_server_ends_at_the_request_deadline():
    """One byte a second never trips a per-read timeout; the total deadline ends it."""
    with HostileServer(kind="trickle", interval=0.2) as server:
        client = http(timeout=1.0, deadline_seconds=1.5)
        exc, seconds = timed(lambda: client.get(server.url + "/api/query"))
        client.close()
        host = server.url.split("//")[1]
    assert isinstance(exc, SourceError) and "1.5s deadline" in str(exc), exc
    assert 1.4 < seconds < 10
    assert list(client.gate.down) == [host]


def test_a_stop_interrupts_a_request_within_a_tick():
    with HostileServer(kind="trickle", interval=0.2) as server:
        client = http(timeout=30, deadline_seconds=60)
        timer = threading.Timer(0.5, retry.STOP.set)
        timer.start()
        try:
            exc, seconds = timed(lambda: client.get(server.url + "/api/query"))
        finally:
            timer.cancel()
            retry.STOP.clear()
            client.close()
    assert isinstance(exc, Interrupted) and seconds < 3


def test_a_silent_server_fails_once_then_the_host_is_skipped():
    with HostileServer(kind="silent") as server:
        client = http(timeout=0.5)
        exc, seconds = timed(lambda: client.get(server.url + "/api/query?a=1"))
        assert isinstance(exc, SourceError) and "timed out after 0.5s" in str(exc) and seconds < 5
        exc, seconds = timed(lambda: client.get(server.url + "/rss/cs.CL"))
        client.close()
    assert isinstance(exc, NotTried) and seconds < 0.5
    assert "on GET" in str(exc) and "/api/query?a=1" in str(exc)  # names the request that failed, not the skipped one
    assert client.requests == 1 and client.sleep == []  # a timeout is not retried: the host is down for this poll


def test_a_closed_port_is_not_retried():
    client = http()
    exc, seconds = timed(lambda: client.get(f"http://127.0.0.1:{closed_port()}/api/query"))
    assert isinstance(exc, SourceError) and "connection failed" in str(exc) and client.requests == 1
    assert client.sleep == [] and seconds < 5


@pytest.mark.parametrize("kind, expected", [("gzip-garbage", "could not be decoded"), ("redirect-loop", "redirect loop")])
def test_garbage_and_redirect_loops_are_source_errors(kind, expected):
    with HostileServer(kind=kind) as server:
        client = http()
        exc, _ = timed(lambda: client.get(server.url + "/api/query"))
        client.close()
        url = server.url
    assert isinstance(exc, SourceError) and expected in str(exc), exc
    assert url in str(exc)


@pytest.mark.parametrize("announce", [True, False])
def test_a_200_mb_body_stops_at_the_size_cap_with_flat_memory(announce):
    with HostileServer(kind="big", size=200 * 1024 * 1024, announce=announce) as server:
        client = http(max_bytes=2 * 1024 * 1024)
        tracemalloc.start()
        try:
            exc, seconds = timed(lambda: client.get(server.url + "/api/query"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            client.close()
    assert isinstance(exc, SourceError) and "larger than the 2 MB cap" in str(exc) and "/api/query" in str(exc)
    assert peak < 32 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert client.sleep == []


def test_a_megabyte_abstract_is_cut_and_marked_on_store(tmp_path, write_config):
    huge = "word " * 400_000  # 2 MB
    body = atom_page([listed(1, abstract=huge), listed(2)])
    with HostileServer(kind="body", body=body) as server:
        config = load_config(write_config(BOUNDS, arxiv=arxiv_at(server.url)))
        db = open_store(config.store.path)
        report = poll(config, db, ["api"], NOW, link_works=False, sleep=Sleeps())
    assert report.ok and report.sources[0].new == 2
    abstract = db.execute("SELECT abstract FROM papers WHERE id = '2510.00001'").fetchone()[0]
    assert len(abstract) <= 20_000 and abstract.endswith("[cut: 2,000,000 characters]")


def test_bad_records_are_skipped_and_reported_not_fatal(tmp_path, write_config):
    """A NUL in one entry and a vertical tab (as a character reference) in another: those
    two are skipped and counted, the other entries are stored and the window moves on."""
    good = atom_page([listed(i) for i in range(4)]).decode()
    entries = good.split("<entry>")
    entries[1] = entries[1].replace("An abstract.", "An \x00 abstract.")
    entries[2] = entries[2].replace("An abstract.", "An &#11; abstract.")
    body = "<entry>".join(entries).encode()
    with HostileServer(kind="body", body=body) as server:
        config = load_config(write_config(BOUNDS, arxiv=arxiv_at(server.url)))
        db = open_store(config.store.path)
        report = poll(config, db, ["api"], NOW, link_works=False, sleep=Sleeps())
    src = report.sources[0]
    assert report.ok and src.new == 2 and src.skipped == 2
    assert {r[0] for r in db.execute("SELECT id FROM papers")} == {"2510.00002", "2510.00003"}
    assert runs.LEDGER.last_success(db, "api") is not None


def test_repeated_pages_fail_the_run_as_inconsistent_paging(tmp_path, write_config):
    """totalResults = 500 but the same 10 entries on every page: not "fetched 1500, new 10"."""
    with HostileServer(kind="pages", total=500) as server:
        config = load_config(write_config(BOUNDS, arxiv=arxiv_at(server.url, page_size=10)))
        db = open_store(config.store.path)
        report = poll(config, db, ["api"], NOW, link_works=False, sleep=Sleeps())
    src = report.sources[0]
    assert not report.ok and "inconsistent paging" in src.error and src.fetched == 10
    assert server.requests == 2 and runs.LEDGER.last_success(db, "api") is None  # the window does not move


def test_poll_records_its_runs_when_the_works_look_up_gets_garbage(tmp_path, write_config):
    with HostileServer(kind="gzip-garbage") as server:
        (tmp_path / "survey.md").write_text(SURVEY, encoding="utf-8")
        config = load_config(write_config(BOUNDS, arxiv=arxiv_at(server.url)))
        db = open_store(config.store.path)
        report = poll(config, db, ["api", "rss"], NOW, sleep=Sleeps())
    assert [s.outcome for s in report.sources] == ["failed", "failed"]
    assert all("could not be decoded" in s.error for s in report.sources)
    rows = db.execute("SELECT source, outcome FROM poll_runs ORDER BY id").fetchall()
    assert rows == [("api", "failed"), ("rss", "failed")]
    failures = db.execute("SELECT failures FROM lookup_failures").fetchall()
    assert failures == [(1,)] * 3  # remembered with a back-off: not asked again next poll


def test_failed_title_look_ups_back_off_instead_of_repeating_every_poll(tmp_path, write_config):
    port = closed_port()
    (tmp_path / "survey.md").write_text(SURVEY, encoding="utf-8")
    config = load_config(write_config(BOUNDS, arxiv=arxiv_at(f"http://127.0.0.1:{port}")))
    db = open_store(config.store.path)
    poll(config, db, ["api"], NOW, sleep=Sleeps())
    first = db.execute("SELECT key, retry_after FROM lookup_failures").fetchall()
    assert len(first) == 1 and first[0][1] == "2025-11-01T06:00:00+00:00"
    with ArxivReplay() as replay:  # arXiv is back two hours later: the failed title waits for its back-off
        (tmp_path / "survey.md").write_text(SURVEY, encoding="utf-8")
        config = load_config(write_config(BOUNDS, arxiv=arxiv_at(replay.api_url.rsplit("/api", 1)[0])))
        poll(config, db, ["api"], NOW.replace(hour=2), sleep=Sleeps())
        asked = [r for r in replay.api_requests() if "ti:" in str(r.params.get("search_query", ""))]
    titles = [str(r.params["search_query"]) for r in asked]
    assert titles and not any("BERT" in t for t in titles), titles


BOUNDS = {"sections": [{"id": "llm", "heading": "Language models", "any": ["paper", "language model"]}]}


def arxiv_at(base: str, **changes) -> dict:
    """The [arxiv] table pointed at a hostile (or replay) server at `base`."""
    return {"api_url": f"{base}/api/query", "rss_url": f"{base}/rss", "categories": ["cs.CL"], "delay_seconds": 0,
            "timeout_seconds": 1, "deadline_seconds": 5, "retries": 1, "page_size": 100, **changes}


SURVEY = """# Survey

## Language models

1. **BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding.** `NAACL 2019`  
    *Jacob Devlin.* [[PDF](https://aclanthology.org/N19-1423/)], 2019.
2. **Deep contextualized word representations.** `NAACL 2018`  
    *Matthew Peters.* [[PDF](https://aclanthology.org/N18-1202/)], 2018.
3. **Universal Language Model Fine-tuning for Text Classification.** `ACL 2018`  
    *Jeremy Howard.* [[PDF](https://aclanthology.org/P18-1031/)], 2018.
"""


def test_a_job_stuck_on_a_trickling_server_blocks_no_other_job_and_the_daemon_stops_within_10s(tmp_path, monkeypatch, write_config):
    """A one-second schedule: the poll hangs on a trickling arXiv (deadline 120 s), the
    digest still runs every second; a stop then ends the daemon within 10 s (the poll
    gets its grace, then its wait is interrupted and recorded as a failed run)."""
    from apscheduler.triggers.interval import IntervalTrigger

    from tracker.run import runner, schedule

    every_second = [schedule.JobSpec(name, "every second", IntervalTrigger(seconds=1)) for name in ("poll", "digest")]
    monkeypatch.setattr(schedule, "job_specs", lambda config: every_second)
    digests: list[datetime] = []
    with HostileServer(kind="trickle", interval=0.5) as server:
        config = load_config(write_config(BOUNDS, arxiv=arxiv_at(server.url, timeout_seconds=30, deadline_seconds=120)))
        stages = {"poll": runner.poll_stage, "digest": lambda c, db, now: digests.append(now)}
        stop = threading.Event()
        daemon = threading.Thread(target=runner.serve, kwargs={"config": config, "stages": stages, "stop": stop})
        daemon.start()
        deadline = time.monotonic() + 30
        while (server.requests < 1 or len(digests) < 4) and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the schedule to fire, bounded
        stuck = server.requests == 1
        began = time.monotonic()
        stop.set()
        daemon.join(15)
        seconds = time.monotonic() - began
    assert stuck and len(digests) >= 4, (server.requests, digests)
    assert not daemon.is_alive() and seconds < 10, seconds
    db = open_store(config.store.path)
    poll_runs = db.execute("SELECT outcome, error FROM poll_runs WHERE source = 'api'").fetchall()
    assert poll_runs and poll_runs[0][0] == "failed" and "stopped" in poll_runs[0][1]
    assert not retry.STOP.is_set()


@pytest.mark.parametrize("kind", ["closed", "silent"])
def test_poll_against_a_dead_arxiv_fails_fast_in_few_lines(tmp_path, kind, write_config):
    """Issue 13: a closed port and a server that never answers each fail the CLI poll
    within 60 s with at most 5 lines on stderr (one per host, one for the look-ups, one
    per source, the error line), and the failed look-ups are remembered."""
    import subprocess
    import sys

    server = HostileServer(kind="silent").start() if kind == "silent" else None
    base = server.url if server else f"http://127.0.0.1:{closed_port()}"
    try:
        (tmp_path / "survey.md").write_text(SURVEY, encoding="utf-8")
        path = write_config(BOUNDS, arxiv=arxiv_at(base))
        began = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "tracker", "--config", str(path), "poll"],
                              capture_output=True, text=True, timeout=90)
        seconds = time.monotonic() - began
    finally:
        if server:
            server.stop()
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and seconds < 60
    assert len(lines) <= 5, proc.stderr
    assert lines[-1].startswith("error: 2 of 2 sources failed") and "Traceback" not in proc.stderr
    assert sum("http.host_down" in line for line in lines) == 1
    db = open_store(tmp_path / "data" / "tracker.db")
    assert db.execute("SELECT count(*) FROM poll_runs WHERE outcome = 'failed'").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM lookup_failures").fetchone()[0] == 1


def test_capped_cuts_every_stored_text_field_and_marks_it():
    from tracker.models import Paper, capped

    paper = capped(Paper(id="2510.00001", title="T" * 5000, abstract="x", comment="c" * 3000,
                         authors=tuple("a" * 400 for _ in range(6000))))
    assert len(paper.title) == 1000 and paper.title.endswith("[cut: 5,000 characters]")
    assert len(paper.comment) == 2000 and paper.abstract == "x"
    assert len(paper.authors) == 5001 and paper.authors[-1] == "[cut: 6,000 authors]" and len(paper.authors[0]) == 300
    small = Paper(id="2510.00002", title="Short")
    assert capped(small) is small


def test_an_smtp_server_trickling_its_greeting_ends_at_the_session_deadline():
    from tracker.config import EmailConfig
    from tracker.deliver.email import SmtpSession, SmtpUnavailable
    from tracker.standins.hostile import TricklingTcp

    with TricklingTcp(interval=0.1) as server:
        cfg = EmailConfig(host="127.0.0.1", from_="t@example.org", to=("m@example.org",), port=server.port,
                          security="none", timeout_seconds=5, deadline_seconds=1.5)
        with SmtpSession(cfg, sleep=Sleeps()) as session:
            exc, seconds = timed(lambda: session.send("t@example.org", "m@example.org", b"Subject: x\r\n\r\nx\r\n"))
    assert isinstance(exc, SmtpUnavailable) and "1.5s deadline" in str(exc), exc
    assert seconds < 6


def test_sigterm_stops_the_daemon_within_10s_while_its_poll_hangs_on_a_trickling_server(tmp_path, write_config):
    """The real signal path: `tracker run` catches up its first poll, which hangs on a
    server trickling a byte every half second (deadline 120 s); SIGTERM ends it in time."""
    import signal
    import subprocess
    import sys

    with HostileServer(kind="trickle", interval=0.5) as server:
        (tmp_path / "survey.md").write_text(SURVEY, encoding="utf-8")
        path = write_config(BOUNDS, arxiv=arxiv_at(server.url, timeout_seconds=30, deadline_seconds=120))
        proc = subprocess.Popen([sys.executable, "-m", "tracker", "--config", str(path), "run"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while server.requests < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the catch-up poll to reach the server, bounded
        assert proc.poll() is None and server.requests == 1
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        seconds = time.monotonic() - began
    assert proc.returncode == 0 and seconds < 10, (seconds, err)
    assert "run.stopping" in err and "run.stopped" in err and "Traceback" not in err
