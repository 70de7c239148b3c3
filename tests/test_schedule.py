"""The schedule built from [schedule]: jobs, next fire times at given dates, the
crontab day-of-week trap, time zones across DST, and the start-up catch-up rule."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from runner_support import ALL_SERVICES, RUNNER

from tracker.config import load_config
from tracker.run import schedule
from tracker.errors import ConfigError

NY = ZoneInfo("America/New_York")
UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fire(expr: str, after: datetime, tz: str = "America/New_York") -> datetime:
    return schedule.next_fire(schedule.crontab_trigger(expr, tz), after)


def test_default_config_builds_poll_catch_up_and_propose_only(tmp_path, write_config):
    config = load_config(write_config(RUNNER))
    scheduler = schedule.build_scheduler(config, lambda name, trigger: None)
    assert sorted(j.id for j in scheduler.get_jobs()) == ["catch_up", "poll", "propose"]
    skipped = {s.name: s.skip_reason for s in schedule.job_specs(config) if not s.enabled}
    assert skipped == {"digest": "no [telegram] table in the config", "email": "no [email] table in the config"}


def test_all_services_give_five_jobs_with_deliberate_misfire_settings(tmp_path, write_config):
    config = load_config(write_config(RUNNER, ALL_SERVICES, schedule={"misfire_grace_seconds": 900}))
    scheduler = schedule.build_scheduler(config, lambda name, trigger: None)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert sorted(jobs) == sorted(schedule.JOBS)
    for job in jobs.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 900)
        assert job.args == (job.id, "schedule")
    saturday = utc(2024, 1, 6, 12)
    nexts = {name: j.trigger.get_next_fire_time(None, saturday) for name, j in jobs.items()}
    assert nexts == {
        "poll": datetime(2024, 1, 7, 20, 30, tzinfo=NY),
        "catch_up": datetime(2024, 1, 6, 12, 0, tzinfo=NY),
        "digest": datetime(2024, 1, 6, 8, 0, tzinfo=NY),  # 07:00 in New York now
        "email": datetime(2024, 1, 8, 8, 0, tzinfo=NY),
        "propose": datetime(2024, 1, 8, 9, 0, tzinfo=NY),
    }


def test_numeric_crontab_weekday_means_what_crontab_means():
    saturday = utc(2024, 1, 6, 12)
    monday_8 = datetime(2024, 1, 8, 8, 0, tzinfo=NY)
    assert fire("0 8 * * 1", saturday) == monday_8
    assert fire("0 8 * * mon", saturday) == monday_8
    assert fire("0 8 * * 1", saturday).weekday() == 0
    # The trap we avoid: APScheduler 3.x reads the bare 1 as Tuesday.
    naive = CronTrigger.from_crontab("0 8 * * 1", timezone=NY).get_next_fire_time(None, saturday)
    assert naive == datetime(2024, 1, 9, 8, 0, tzinfo=NY)


@pytest.mark.parametrize("field", ["0", "7", "sun", "Sunday"])
def test_sunday_is_0_or_7(field):
    assert fire(f"0 8 * * {field}", utc(2024, 1, 8, 12)) == datetime(2024, 1, 14, 8, 0, tzinfo=NY)


def test_default_poll_sun_thu_which_from_crontab_rejects():
    with pytest.raises(ValueError):
        CronTrigger.from_crontab("30 20 * * sun-thu")
    friday = utc(2024, 1, 5, 12)
    fires, t = [], friday
    for _ in range(6):
        t = fire("30 20 * * sun-thu", t + timedelta(seconds=1))
        fires.append(t.strftime("%a"))
    assert fires == ["Sun", "Mon", "Tue", "Wed", "Thu", "Sun"]


@pytest.mark.parametrize(
    "field, days",
    [("1-5", (1, 2, 3, 4, 5)), ("fri-mon", (0, 1, 5, 6)), ("0-7", tuple(range(7))), ("*/2", (0, 2, 4, 6)),
     ("1,3,5", (1, 3, 5)), ("mon-fri/2", (1, 3, 5)), ("sat,7", (0, 6))],
)
def test_crontab_days(field, days):
    assert schedule.crontab_days(field) == days


def test_dst_job_at_2030_new_york_fires_at_the_right_utc_time_in_winter_and_summer():
    january = fire("30 20 * * sun-thu", utc(2024, 1, 5, 12))
    july = fire("30 20 * * sun-thu", utc(2024, 7, 5, 12))
    assert january.astimezone(UTC) == utc(2024, 1, 8, 1, 30)
    assert july.astimezone(UTC) == utc(2024, 7, 8, 0, 30)


@pytest.mark.parametrize(
    "expr, words", [("0 8 * *", "5 fields"), ("0 25 * * *", "bad crontab"), ("0 8 * * 8", "out of range"),
                    ("0 8 * * funday", "unknown day of week")],
)
def test_bad_expressions_name_the_key(expr, words):
    with pytest.raises(ConfigError) as err:
        schedule.crontab_trigger(expr, "UTC", "schedule.poll")
    assert "schedule.poll" in str(err.value) and words in str(err.value)


def test_bad_config_is_reported_when_the_specs_are_built(tmp_path, write_config):
    with pytest.raises(ConfigError, match="schedule.timezone"):
        schedule.job_specs(load_config(write_config(RUNNER, schedule={"timezone": "Mars/Olympus"})))
    with pytest.raises(ConfigError, match="schedule.email"):
        schedule.job_specs(load_config(write_config(RUNNER, ALL_SERVICES, schedule={"email": "0 8 * * 9"})))


def test_a_job_can_be_switched_off(tmp_path, write_config):
    specs = {s.name: s for s in schedule.job_specs(load_config(write_config(RUNNER, schedule={"catch_up": "off"})))}
    assert not specs["catch_up"].enabled and "disabled" in specs["catch_up"].skip_reason


def test_macros():
    assert fire("@weekly", utc(2024, 1, 8, 12)) == datetime(2024, 1, 14, 0, 0, tzinfo=NY)


def test_last_fire_looks_back_to_the_latest_occurrence():
    trigger = schedule.crontab_trigger("0 9 * * mon", NY)
    wednesday = datetime(2024, 1, 10, 12, tzinfo=NY)
    assert schedule.last_fire(trigger, wednesday) == datetime(2024, 1, 8, 9, tzinfo=NY)
    assert schedule.last_fire(trigger, datetime(2024, 1, 8, 9, tzinfo=NY)) == datetime(2024, 1, 8, 9, tzinfo=NY)
    assert schedule.last_fire(trigger, wednesday, max_age=timedelta(days=1)) is None


class TestCatchUp:
    """missed_jobs at start: from job_runs facts, with plain datetimes."""

    def specs(self, write_config):
        return schedule.job_specs(load_config(write_config(RUNNER, ALL_SERVICES)))

    def test_a_weekly_job_missed_while_down_runs_once(self, tmp_path, write_config):
        now = datetime(2024, 1, 24, 13, tzinfo=NY)  # a Wednesday; Mondays 8th, 15th, 22nd all passed
        last = {"email": datetime(2024, 1, 5, tzinfo=NY), "poll": now - timedelta(minutes=30),
                "digest": datetime(2024, 1, 24, 8, 30, tzinfo=NY), "propose": datetime(2024, 1, 22, 9, 5, tzinfo=NY)}
        ran = {n: True for n in schedule.JOBS}
        assert schedule.missed_jobs(self.specs(write_config), last, ran, now) == ["email"]

    def test_nothing_is_due_when_every_job_succeeded_after_its_last_fire(self, tmp_path, write_config):
        now = datetime(2024, 1, 24, 12, 30, tzinfo=NY)
        last = {n: now - timedelta(minutes=5) for n in schedule.JOBS}
        assert schedule.missed_jobs(self.specs(write_config), last, {n: True for n in schedule.JOBS}, now) == []

    def test_a_failed_last_run_counts_as_missed(self, tmp_path, write_config):
        now = datetime(2024, 1, 24, 12, 30, tzinfo=NY)
        last = {n: now - timedelta(minutes=5) for n in schedule.JOBS} | {"digest": datetime(2024, 1, 23, 8, tzinfo=NY)}
        assert schedule.missed_jobs(self.specs(write_config), last, {n: True for n in schedule.JOBS}, now) == ["digest"]

    def test_poll_and_catch_up_both_missed_give_one_poll(self, tmp_path, write_config):
        now = datetime(2024, 1, 24, 13, tzinfo=NY)
        last = {n: now for n in schedule.JOBS} | {"poll": datetime(2024, 1, 20, tzinfo=NY), "catch_up": None}
        assert schedule.missed_jobs(self.specs(write_config), last, {n: True for n in schedule.JOBS}, now) == ["poll"]

    def test_a_catch_up_success_satisfies_the_poll(self, tmp_path, write_config):
        now = datetime(2024, 1, 24, 13, tzinfo=NY)
        last = {n: now for n in schedule.JOBS} | {"poll": datetime(2024, 1, 20, tzinfo=NY),
                                                    "catch_up": datetime(2024, 1, 24, 12, 1, tzinfo=NY)}
        assert schedule.missed_jobs(self.specs(write_config), last, {n: True for n in schedule.JOBS}, now) == []

    def test_fresh_install_polls_at_once_but_sends_nothing(self, tmp_path, write_config):
        now = datetime(2024, 1, 24, 12, tzinfo=NY)
        assert schedule.missed_jobs(self.specs(write_config), {}, {}, now) == ["poll"]

    def test_an_occurrence_older_than_the_max_age_is_not_caught_up(self, tmp_path, write_config):
        config = load_config(write_config(RUNNER, ALL_SERVICES, schedule={"propose": "0 9 1 1 *"}))
        specs = [s for s in schedule.job_specs(config) if s.name == "propose"]
        now = datetime(2024, 3, 1, tzinfo=NY)
        assert schedule.missed_jobs(specs, {"propose": datetime(2023, 1, 1, 10, tzinfo=NY)}, {"propose": True}, now) == []
        assert schedule.missed_jobs(specs, {"propose": datetime(2023, 1, 1, 10, tzinfo=NY)}, {"propose": True}, now,
                                    max_age=timedelta(days=90)) == ["propose"]


@pytest.mark.parametrize("expr", ["@hourly", "* * * * *", "30 1 * * *", "30 1 * * sun"])
def test_last_fire_steps_over_the_hour_a_clock_change_repeats(expr):
    """2026-11-01 01:00-01:59 happens twice in New York; stepping in local wall-clock time
    lost the second one's fold and looped for ever (the daemon's email job hung)."""
    trigger = schedule.crontab_trigger(expr, ZoneInfo("America/New_York"), "schedule.x")
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("last_fire did not return: it loops in the repeated hour"))
    signal.alarm(20)
    try:
        found = schedule.last_fire(trigger, datetime(2026, 11, 5, 12, tzinfo=timezone.utc), timedelta(days=8))
    finally:
        signal.alarm(0)
    assert found is not None and found <= datetime(2026, 11, 5, 12, tzinfo=timezone.utc)
    start, end = schedule.scheduled_period(trigger, datetime(2026, 11, 20, 12, tzinfo=timezone.utc))
    assert start < end


def test_both_occurrences_of_the_repeated_hour_fire():
    trigger = schedule.crontab_trigger("@hourly", ZoneInfo("America/New_York"), "schedule.x")
    first = schedule.last_fire(trigger, datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc), timedelta(hours=2))
    second = schedule.last_fire(trigger, datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc), timedelta(hours=2))
    assert (first.utcoffset(), second.utcoffset()) == (timedelta(hours=-4), timedelta(hours=-5))
