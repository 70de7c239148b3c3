"""The one way to make a datetime UTC and to write it as stored ISO text.

A naive datetime is taken as UTC (never as the machine's local time), so rows
written by every stage sort and compare as strings.
"""

from __future__ import annotations

from datetime import datetime, timezone


def utc(dt: datetime) -> datetime:
    """`dt` in UTC; a naive `dt` is read as UTC."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def iso(dt: datetime) -> str:
    """UTC ISO text to the second, e.g. `2025-11-03T09:00:00+00:00`."""
    return utc(dt).isoformat(timespec="seconds")


def parse_utc(text: str) -> datetime:
    """ISO text (a trailing Z too) as a UTC datetime; raises ValueError."""
    return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def now_iso() -> str:
    return iso(utcnow())
