"""Where papers come from (arXiv API, arXiv RSS), behind one polite HTTP helper.

`Http` owns what every source needs and the `arxiv` package does not give us:
a timeout on every request, a minimum gap between requests (arXiv's terms),
retries with exponential backoff on 5xx/429/connection errors that honour
`Retry-After`, and a request count for the run log. Clock and sleep are
injected so the delay logic is tested without sleeping.
"""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, Callable, Mapping

import httpx

from tracker.errors import SourceError
from tracker.logs import log

logger = logging.getLogger("tracker.sources")

USER_AGENT = "tracker/0.1 (literature tracker; +https://github.com)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 600.0


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` is either seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


@dataclass
class Http:
    """One source's HTTP session for one run; `requests` counts every attempt."""

    timeout: float = 30.0
    retries: int = 3
    delay_seconds: float = 0.0
    backoff_seconds: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    transport: httpx.BaseTransport | None = None
    requests: int = 0
    _last: float | None = field(default=None, repr=False)
    _client: httpx.Client | None = field(default=None, repr=False)

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout,
                headers={"user-agent": USER_AGENT},
                follow_redirects=True,
                transport=self.transport,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _wait_turn(self) -> None:
        if self._last is not None and self.delay_seconds > 0:
            gap = self.delay_seconds - (self.clock() - self._last)
            if gap > 0:
                self.sleep(gap)

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """GET with retries; returns a 200 response or raises SourceError naming the URL."""
        attempt = 0
        while True:
            self._wait_turn()
            self.requests += 1
            problem: str
            retry_after: float | None = None
            try:
                response = self.client().get(url, params=params)
            except httpx.TimeoutException:
                problem = f"timed out after {self.timeout:g}s"
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                if response.status_code == 200:
                    self._last = self.clock()
                    return response
                problem = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUSES:
                    self._last = self.clock()
                    raise SourceError(f"GET {_shorten(str(response.request.url))}: {problem}", _hint(response.status_code))
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
            self._last = self.clock()
            if attempt >= self.retries:
                raise SourceError(
                    f"GET {_show(url, params)}: {problem} (gave up after {attempt + 1} tries)",
                    "the service may be down or rate-limiting; the next poll retries the same window",
                )
            wait = self.backoff_seconds * (2**attempt)
            if retry_after is not None:
                wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
            log(logger, logging.WARNING, "http.retry", url=_show(url, params), problem=problem, wait=round(wait, 2))
            self.sleep(wait)
            attempt += 1


def _show(url: str, params: Mapping[str, Any] | None) -> str:
    return _shorten(str(httpx.URL(url, params=params)) if params else url)


def _shorten(url: str, keep: int = 160) -> str:
    """Keep error lines readable: a long API query is cut, the host and path stay."""
    return url if len(url) <= keep else f"{url[:keep]}… ({len(url)} characters)"


def _hint(status: int) -> str:
    if status in (400, 404):
        return "check arxiv.api_url / arxiv.rss_url and arxiv.categories in the config"
    return "check the service URL in the config"
