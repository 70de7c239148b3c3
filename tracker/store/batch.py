"""Statements over many ids: one per CHUNK distinct ids, never one per id."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

CHUNK = 500  # well under SQLite's limit on bound parameters (999 in older builds)


def each_chunk(ids: Iterable[str]) -> Iterator[tuple[list[str], str]]:
    """The distinct `ids` in chunks, each with its placeholders ("?,?,?")."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        yield chunk, ",".join("?" * len(chunk))


def select_in(db: Any, sql: str, ids: Iterable[str], after: Sequence[Any] = ()) -> Iterator[tuple]:
    """The rows of `sql`, whose `{marks}` stands for one chunk's placeholders, over all `ids`;
    `after` are parameters that follow the ids."""
    for chunk, marks in each_chunk(ids):
        yield from db.execute(sql.format(marks=marks), [*chunk, *after]).fetchall()
