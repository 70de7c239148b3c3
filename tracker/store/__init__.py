"""The SQLite store: the only package that imports sqlite_utils.

`open_store` applies pending migrations and turns on WAL so a reader (status,
Datasette) never blocks a poll, and a killed writer leaves the file consistent.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from tracker.errors import StoreError
from tracker.store.schema import migrations


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
        db = Database(conn)
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        db.execute("PRAGMA foreign_keys = ON")
        if not memory:
            db.enable_wal()
            db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the database: {exc}", "check store.path in the config") from None
    return db
