"""The SQLite store: the only package that imports sqlite_utils.

`open_store` applies pending migrations and turns on WAL so a reader (status,
Datasette) never blocks a poll, and a killed writer leaves the file consistent.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Iterator

from sqlite_utils import Database

from tracker.errors import StoreError
from tracker.store.schema import migrations


class Store(Database):
    """A Database whose transactions take the write lock when they begin (BEGIN IMMEDIATE).

    The daemon's jobs and the bot each hold a connection. A deferred transaction that
    reads first and then writes fails at once with "database is locked" when another
    connection committed in between (its WAL snapshot is stale; the busy timeout does not
    apply), which once left a sent Telegram message pending, to be sent again. Taking the
    lock first makes the other writer wait its busy timeout instead."""

    @contextlib.contextmanager
    def atomic(self) -> Iterator["Store"]:
        if self.conn.in_transaction:
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise


# What SQLite says when the machine, not the code, is at fault, and what to do about it.
_ENVIRONMENT = {
    "database or disk is full": "free space on the disk that holds store.path, then run again",
    "disk i/o error": "check the disk that holds store.path",
    "attempt to write a readonly database": "make store.path and its folder writable",
    "database is locked": "another tracker process holds the store; run again when it is done",
    "unable to open database file": "check store.path and that its folder is writable",
}


def store_failure(exc: BaseException) -> StoreError | None:
    """A one-line StoreError for SQLite's failure of the disk or the file (it has rolled the
    transaction back, so nothing is half-written); None for anything else, which is a bug."""
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    text = str(exc)
    hint = next((h for words, h in _ENVIRONMENT.items() if words in text.lower()), None)
    return StoreError(f"the store: {text}", hint) if hint else None


def open_store(path: str | Path, busy_timeout_ms: int = 30_000) -> Database:
    """Open (creating if needed) and migrate the database; `:memory:` works for tests."""
    memory = str(path) == ":memory:"
    if not memory:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{path}: cannot create the data folder {Path(path).parent}: {exc.strerror or exc}",
                "check store.path in the config: its folder must be creatable and writable",
            ) from None
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None)
        db = Store(conn)
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        db.execute("PRAGMA foreign_keys = ON")
        if not memory:
            db.enable_wal()
            db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the database: {exc}", "check store.path in the config") from None
    return db
