"""Inter-process locks on the data directory, released by the OS if the holder dies."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from tracker.errors import StoreError


@contextmanager
def exclusive(path: Path, what: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold `path` (an flock) for the block; if another process holds it past
    `wait_seconds`, fail with a message saying what is already running."""
    lock = FileLock(str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=wait_seconds)
    except Timeout:
        raise StoreError(
            f"another {what} is already running on {path.parent} (lock {path.name} is held)",
            "wait for it to finish, or stop the other process",
        ) from None
    except OSError as exc:
        raise StoreError(
            f"cannot take the {what} lock {path}: {exc.strerror or exc}",
            "check store.path in the config: the data folder beside it holds the locks",
        ) from None
    try:
        yield
    finally:
        lock.release()
