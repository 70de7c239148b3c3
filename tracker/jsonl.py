"""JSON for PAPERS.jsonl in and out (`classify`, `export`, `patch`) and for the store's
JSON columns: orjson, several times faster than the json module both ways.

Text orjson refuses but json takes (NaN, integers beyond 64 bits) is read by json,
so what is accepted and how a bad line is reported stay json's."""

from __future__ import annotations

import json
from typing import Any

import orjson

from tracker.errors import InputError


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def loads_line(line: str, where: str) -> Any:
    """One line of a JSONL file; a bad one is an InputError naming `where` (file:line) and the
    column, counted without the line's newline."""
    try:
        return loads(line.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON at column {exc.colno} ({exc.msg.removesuffix(' at')})") from None


def dumps(obj: Any) -> str:
    """Compact JSON text, non-ASCII as is; values json cannot write become their str()."""
    return orjson.dumps(obj, default=str).decode("utf-8")


def dumps_line(obj: Any) -> bytes:
    """One JSONL line (UTF-8, newline included)."""
    return orjson.dumps(obj, default=str, option=orjson.OPT_APPEND_NEWLINE)
