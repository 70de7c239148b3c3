"""Where papers come from (arXiv API, arXiv RSS, citations), behind one polite HTTP helper.

`Http` owns what every source needs and the `arxiv` package does not give us:
- bounds: an idle timeout per wait, a total deadline per request (connect + every
  read, so a trickling server cannot hang a poll), and a size cap on the body,
  read as a stream (the error names the URL and the cap);
- the one retry policy (tracker.net.retry) for 5xx/429/dropped connections,
  honouring `Retry-After` up to a cap, sleeping on the stop event;
- fail fast: a refused connection, a timeout or a host that kept failing marks the
  host down in a `HostGate` shared by the whole poll, so later requests to it are
  skipped at once (one warning line for the host, not one per request);
- a minimum gap between requests (arXiv's terms) and a request count for the run log.
Clock, sleep and transport are injected so tests never sleep.
"""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, Callable, Mapping

import httpx

from tracker.errors import NotTried, SourceError
from tracker.logs import log
from tracker.net.http import bounded_transport, deadline
from tracker.net.retry import DEFAULT_MAX_WAIT, RetryPolicy, Transient, interruptible_sleep, over_cap_hint

logger = logging.getLogger("tracker.sources")

USER_AGENT = "tracker/0.1 (literature tracker; +https://github.com)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 10
ERROR_BODY = 4096
DEFAULT_MAX_BYTES = 32 * 1024 * 1024


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


def host_of(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.host}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"


@dataclass
class HostGate:
    """Hosts found unreachable during one poll, with the reason; shared by its requests."""

    down: dict[str, str] = field(default_factory=dict)

    def check(self, url: str) -> None:
        reason = self.down.get(host_of(url))
        if reason is not None:
            raise NotTried(f"GET {_shorten(url)}: not tried, {host_of(url)} failed earlier in this poll ({reason})",
                           "the next poll tries again")

    def trip(self, url: str, reason: str) -> None:
        host = host_of(url)
        if host not in self.down:
            self.down[host] = f"{reason}, on GET {_shorten(url)}"  # the request that failed, which may be another source's
            log(logger, logging.WARNING, "http.host_down", host=host, reason=reason,
                hint="no more requests to this host in this poll")


class _Final(Exception):
    """An attempt that must not be retried; `host_down` when the host itself failed."""

    def __init__(self, error: SourceError, down: str | None = None) -> None:
        super().__init__(str(error))
        self.error, self.down = error, down


@dataclass
class Http:
    """One source's HTTP session for one run; `requests` counts every attempt."""

    timeout: float = 30.0
    retries: int = 3
    delay_seconds: float = 0.0
    backoff_seconds: float = 1.0
    deadline_seconds: float = 120.0
    max_bytes: int = DEFAULT_MAX_BYTES
    max_wait: float = DEFAULT_MAX_WAIT
    sleep: Callable[[float], None] = interruptible_sleep
    clock: Callable[[], float] = time.monotonic
    transport: httpx.BaseTransport | None = None
    gate: HostGate = field(default_factory=HostGate)
    requests: int = 0
    _last: float | None = field(default=None, repr=False)
    _client: httpx.Client | None = field(default=None, repr=False)

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout,
                headers={"user-agent": USER_AGENT},
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                transport=self.transport or bounded_transport(),
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def policy(self, shown: str = "") -> RetryPolicy:
        return RetryPolicy(retries=self.retries, backoff=self.backoff_seconds, max_wait=self.max_wait, sleep=self.sleep,
                           on_retry=lambda exc, n, wait: log(logger, logging.WARNING, "http.retry", url=shown,
                                                             problem=exc.problem, wait=round(wait, 2)))

    def _wait_turn(self) -> None:
        if self._last is not None and self.delay_seconds > 0:
            gap = self.delay_seconds - (self.clock() - self._last)
            if gap > 0:
                self.sleep(gap)

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """GET under the retry policy and the bounds; returns a 200 response whose body
        was read in full, or raises SourceError naming the URL."""
        shown = _show(url, params)
        self.gate.check(url)
        try:
            return self.policy(shown).call(lambda: self._attempt(url, params, shown))
        except _Final as exc:
            if exc.down:
                self.gate.trip(url, exc.down)
            raise exc.error from None
        except Transient as exc:
            self.gate.trip(url, exc.problem)
            if exc.over_cap:
                raise SourceError(f"GET {shown}: {exc.problem}, asked to wait {exc.retry_after:g}s",
                                  over_cap_hint(exc, self.max_wait)) from None
            raise SourceError(
                f"GET {shown}: {exc.problem} (gave up after {exc.attempts} tries)",
                "the service may be down or rate-limiting; the next poll retries the same window",
            ) from None

    def _attempt(self, url: str, params: Mapping[str, Any] | None, shown: str) -> httpx.Response:
        self._wait_turn()
        self.requests += 1
        try:
            with deadline(self.deadline_seconds) as limit:
                try:
                    return self._fetch(url, params, shown)
                except httpx.TimeoutException:
                    problem = (f"no complete answer within the {self.deadline_seconds:g}s deadline" if limit.passed
                               else f"timed out after {self.timeout:g}s")
                    raise _Final(SourceError(f"GET {shown}: {problem}", "the next poll retries"), problem) from None
        except httpx.ConnectError as exc:
            problem = f"connection failed: {exc or type(exc).__name__}"
            raise _Final(SourceError(f"GET {shown}: {problem}", "check the URL in the config and the network"),
                         problem) from None
        except httpx.TooManyRedirects:
            raise _Final(SourceError(f"GET {shown}: redirect loop (more than {MAX_REDIRECTS} redirects)",
                                     "check the URL in the config")) from None
        except httpx.DecodingError as exc:
            raise _Final(SourceError(f"GET {shown}: the body could not be decoded ({exc})",
                                     "the server sent a corrupt (e.g. gzip) body; the next poll retries")) from None
        except httpx.TransportError as exc:
            raise Transient(f"connection failed ({type(exc).__name__}: {exc})") from None
        finally:
            self._last = self.clock()

    def _too_big(self, shown: str, seen: str) -> _Final:
        problem = f"response larger than the {_size(self.max_bytes)} cap ({seen})"
        return _Final(SourceError(f"GET {shown}: {problem}",
                                  "raise arxiv.max_response_mb if this is a real answer; nothing of it was stored"), problem)

    def _fetch(self, url: str, params: Mapping[str, Any] | None, shown: str) -> httpx.Response:
        with self.client().stream("GET", url, params=params) as response:
            status = response.status_code
            cap = self.max_bytes if status == 200 else ERROR_BODY
            declared = response.headers.get("content-length", "")
            if status == 200 and declared.isdigit() and int(declared) > cap:
                raise self._too_big(shown, f"{int(declared):,} bytes announced")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > cap:
                    if status != 200:
                        break
                    raise self._too_big(shown, f"more than {cap:,} bytes read")
            done = httpx.Response(status, headers=response.headers, content=b"".join(chunks), request=response.request)
        if status == 200:
            return done
        problem = f"HTTP {status}"
        if status in RETRY_STATUSES:
            raise Transient(problem, retry_after_seconds(done.headers.get("retry-after")))
        raise _Final(SourceError(f"GET {_shorten(str(done.request.url))}: {problem}", _hint(status)))


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _show(url: str, params: Mapping[str, Any] | None) -> str:
    return _shorten(str(httpx.URL(url, params=params)) if params else url)


def _shorten(url: str, keep: int = 160) -> str:
    """Keep error lines readable: a long API query is cut, the host and path stay."""
    return url if len(url) <= keep else f"{url[:keep]}… ({len(url)} characters)"


def _hint(status: int) -> str:
    if status in (400, 404):
        return "check arxiv.api_url / arxiv.rss_url and arxiv.categories in the config"
    return "check the service URL in the config"
