"""One error family for every stage, each carrying an optional fix-it hint.

The CLI turns any TrackerError into a one-line message on stderr and exit 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class TrackerError(Exception):
    """A handled failure: bad input, an unreachable service, a refused request."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(TrackerError):
    """The config file is missing, not TOML, or a key has the wrong shape. `key`, the dotted
    key at fault when a check made after loading raises it, lets the caller name its line."""

    def __init__(self, message: str, hint: str | None = None, key: str | None = None) -> None:
        super().__init__(message, hint)
        self.key = key


class SurveyError(TrackerError):
    """The survey file cannot be read, or a requested section does not exist."""


class InputError(TrackerError):
    """A PAPERS.jsonl line (or another input file) is malformed."""


class SourceError(TrackerError):
    """arXiv or a citation provider failed: HTTP error, error feed, bad body."""


class NotTried(SourceError):
    """A request skipped because its host already failed in this poll (fail fast)."""


class StoreError(TrackerError):
    """The database is locked by another run, or a stored row is missing."""


class DeliveryError(TrackerError):
    """Telegram or SMTP refused or failed to take a message."""


class ForgeError(TrackerError):
    """git or the GitHub API refused a step of a proposal."""
