"""One-line structured logs (key=value or JSON), with secrets scrubbed before they are written."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so no log line ever shows it (tokens, passwords)."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def scrub(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def _quote(value: Any) -> str:
    s = str(value)
    return json.dumps(s, ensure_ascii=False) if (not s or any(c in s for c in ' "=\n')) else s


class KeyValueFormatter(logging.Formatter):
    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        fields = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return fields

    def format(self, record: logging.LogRecord) -> str:
        return scrub(" ".join(f"{k}={_quote(v)}" for k, v in self.fields(record).items()))


class JsonFormatter(KeyValueFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(json.dumps(self.fields(record), ensure_ascii=False, default=str))


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def effective_level(configured: str = "INFO") -> str:
    """TRACKER_LOG_LEVEL (any case, surrounding spaces ignored) overrides the configured level;
    a value that is not a level is ignored rather than crashing every command."""
    wanted = os.environ.get("TRACKER_LOG_LEVEL", "").strip().upper()
    return wanted if wanted in LEVELS else configured.upper()


def setup_logging(level: str = "INFO", fmt: str = "keyvalue") -> None:
    """Log to stderr; TRACKER_LOG_LEVEL overrides the configured level. At DEBUG the
    libraries' own INFO lines (httpx's one line per request) are shown too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger("tracker")
    root.handlers[:] = [handler]
    level = effective_level(level)
    root.setLevel(level)
    root.propagate = False
    # Libraries' warnings (APScheduler's "job raised an exception", a missed run) go
    # through the same one-line, scrubbed handler, not Python's last-resort stderr.
    for noisy in ("httpx", "telegram", "apscheduler", "arxiv"):
        lib = logging.getLogger(noisy)
        lib.handlers[:] = [handler]
        lib.propagate = False
        lib.setLevel(logging.INFO if level == "DEBUG" else logging.WARNING)


def log(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """`log(logger, logging.INFO, "poll.done", stored=12)` -> one line with those fields."""
    logger.log(level, event, extra={"fields": fields})
