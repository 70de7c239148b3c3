"""The one retry policy for every client (arXiv, Semantic Scholar, Telegram, SMTP, GitHub).

Built on tenacity: a client wraps one attempt in a function that raises `Transient`
for what is worth another try (a 5xx, a 429, a dropped connection) and anything
else for what is final. The policy then:
- retries `retries` times with exponential backoff (`backoff * 2**n`, capped at
  `max_backoff`), or waits what the server asked (`Retry-After`, Telegram's
  `retry_after`) when that is longer;
- refuses to wait longer than `max_wait` (10 minutes by default): a server that asks
  for a day gets its `Transient` re-raised at once with `over_cap` set, so the caller
  leaves the message pending for the next run instead of sleeping;
- given a `deadline` (a `time.monotonic()` value: when the whole call must be done),
  refuses a wait that would end after it, the same way, with `past_deadline` set: the
  caller can say what the server asked, instead of sleeping into a bare timeout;
- sleeps through an injected `sleep` (tests record waits, never sleep) or, by
  default, on `STOP`, the process-wide event SIGTERM sets, so no wait outlives a
  stop request by more than a tick; a stop during a wait raises `Interrupted`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TypeVar

import tenacity

from tracker.errors import TrackerError

T = TypeVar("T")
STOP = threading.Event()
TICK = 0.2
DEFAULT_MAX_WAIT = 600.0
Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[["Transient", int, float], None]


class Interrupted(TrackerError):
    """A stop was requested (SIGTERM/SIGINT) while waiting on the network or a backoff."""

    def __init__(self, what: str = "a network wait") -> None:
        super().__init__(f"stopped during {what} (shutdown requested)", "the next run picks up where this one stopped")


class Transient(Exception):
    """One failed attempt worth retrying; `retry_after` is the server's requested wait."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after
        self.attempts = 1
        self.over_cap = False
        self.past_deadline = False


def check_stop(what: str = "a network wait") -> None:
    if STOP.is_set():
        raise Interrupted(what)


def interruptible_sleep(seconds: float) -> None:
    """time.sleep that ends early (raising Interrupted) when STOP is set."""
    if STOP.wait(max(0.0, seconds)):
        raise Interrupted("a retry wait")


async def async_interruptible_sleep(seconds: float) -> None:
    end = time.monotonic() + max(0.0, seconds)
    while True:
        check_stop("a retry wait")
        left = end - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(TICK, left))


async def until_stopped(awaitable: Awaitable[T], what: str, also: Callable[[], bool] | None = None) -> T:
    """Await `awaitable`, cancelling it (and raising Interrupted) within a tick of STOP
    (or of `also()` turning true: the bot's own stop flag)."""
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=TICK)
            if done:
                return task.result()
            if STOP.is_set() or (also is not None and also()):
                task.cancel()
                raise Interrupted(what)
    except BaseException:
        if not task.done():
            task.cancel()
        raise


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 60.0
    max_wait: float = DEFAULT_MAX_WAIT
    deadline: float | None = None
    sleep: Sleep | None = None
    async_sleep: AsyncSleep | None = None
    on_retry: OnRetry | None = field(default=None, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before try `attempt + 1` (attempt counts from 1)."""
        wait = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return wait if retry_after is None else max(wait, retry_after)

    def _retry(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if not isinstance(exc, Transient):
            return False
        exc.attempts = state.attempt_number
        if exc.retry_after is not None and exc.retry_after > self.max_wait:
            exc.over_cap = True
            return False
        if state.attempt_number > self.retries:
            return False
        if self.deadline is not None and time.monotonic() + self.delay(state.attempt_number, exc.retry_after) > self.deadline:
            exc.past_deadline = True
            return False
        return True

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception()  # type: ignore[union-attr]
        assert isinstance(exc, Transient)
        return self.delay(state.attempt_number, exc.retry_after)

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception()  # type: ignore[union-attr]
        if self.on_retry is not None and isinstance(exc, Transient):
            self.on_retry(exc, state.attempt_number, state.next_action.sleep if state.next_action else 0.0)

    def _kwargs(self) -> dict[str, Any]:
        return dict(
            retry=self._retry, wait=self._wait, before_sleep=self._before_sleep, reraise=True,
            stop=tenacity.stop_never,
        )

    def call(self, attempt: Callable[[], T]) -> T:
        """Run `attempt` under the policy; the last Transient (or a final error) propagates."""
        check_stop()
        retrying = tenacity.Retrying(sleep=interruptible_sleep if self.sleep is None else self.sleep, **self._kwargs())
        return retrying(attempt)

    async def acall(self, attempt: Callable[[], Awaitable[T]]) -> T:
        check_stop()
        retrying = tenacity.AsyncRetrying(sleep=async_interruptible_sleep if self.async_sleep is None else self.async_sleep, **self._kwargs())
        return await retrying(attempt)


def over_cap_hint(exc: Transient, cap: float) -> str:
    return (f"the server asked to wait {exc.retry_after:g}s, over the {cap:g}s cap; "
            "nothing more was sent, the next run tries again")
