"""Poll orchestration: sources -> store -> classify, one recorded run per source.

Why it is shaped this way:
- The window of a source starts at the end of its last *successful* run minus
  `arxiv.overlap_days`, so a machine that was off catches up, and a killed run
  (left "running") or a failed one never moves the window forward.
- Each batch is stored, classified and handed to the `after_store` hooks in one
  transaction: a SIGKILL loses at most the batch in flight, and a paper is never
  stored without its classification (the next poll would see it as unchanged).
- One failing source is recorded with its reason and a hint; the others still run.
- The whole poll holds `poll.lock` in the data directory, so two polls never
  interleave; the second waits `lock_wait` seconds, then fails with a clear message.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

import httpx

from tracker.config import Config
from tracker.errors import ConfigError, InputError, SourceError, SurveyError, TrackerError
from tracker.locking import exclusive
from tracker.links.works import mentions_hook
from tracker.logs import log
from tracker.models import Paper, SectionScore, capped
from tracker.net.retry import Interrupted, interruptible_sleep
from tracker.sources import HostGate, Http, arxiv_api, arxiv_rss
from tracker.store import Database, runs
from tracker.store.classifications import save_classifications
from tracker.store.papers import upsert_papers
from tracker.survey.headings import require_headings
from tracker.timeutil import iso, utc

logger = logging.getLogger("tracker.run.pipeline")

STORE_BATCH = 500
AfterStore = Callable[[Database, list[Paper]], None]
Progress = Callable[[str, int], None]


class Classifier(Protocol):
    fingerprint: str

    def classify(self, paper: Paper) -> list[SectionScore]: ...


SourceFn = Callable[[Config, Http, datetime, datetime], Iterable[list[Paper]]]


def api_clauses(config: Config) -> tuple[list[str], str]:
    """The API query's term clauses and why. By default (`arxiv.query = "categories"`)
    none: the categories are listed and classification stays local, so the API sees
    the same papers as the feed. With `"terms"`, every section's `any` and `all`
    terms, translated from the term model; when one cannot be said to arXiv (a
    `regex`, a leading `*`), the whole categories are listed instead, so a narrowed
    query never misses a paper the classifier would take."""
    if config.arxiv.query != "terms":
        return [], "arxiv.query is \"categories\""
    clauses: list[str] = []
    for s in config.sections:
        if s.rule.regex:
            return [], f"section {s.id!r} has regex rules, which arXiv cannot search"
        for term in s.rule.positive_terms:
            found = arxiv_api.term_clauses(term)
            if found is None:
                return [], f"term {term.render()!r} of section {s.id!r} has a wildcard arXiv cannot search"
            clauses += found
    return clauses, "arxiv.query is \"terms\""


def _api(config: Config, http: Http, start: datetime, end: datetime) -> Iterable[list[Paper]]:
    clauses, why = api_clauses(config)
    if config.arxiv.query == "terms" and not clauses:
        log(logger, logging.WARNING, "poll.api.listing_categories", reason=why,
            hint="the API lists the whole categories this poll; see docs/sources.md")
    return arxiv_api.fetch(config.arxiv, http, clauses, start, end)


def _rss(config: Config, http: Http, start: datetime, end: datetime) -> Iterable[list[Paper]]:
    yield arxiv_rss.fetch(config.arxiv, http)


SOURCES: dict[str, SourceFn] = {"api": _api, "rss": _rss}
CITATIONS = "citations"
KNOWN_SOURCES = (*SOURCES, CITATIONS)
HINTS = {
    "api": "check arxiv.api_url and your network; the next poll retries the same window",
    "rss": "check arxiv.rss_url and arxiv.categories; the api source catches up what the feed missed",
    CITATIONS: "check citations.api_url and the key named by citations.api_key_env; the next poll retries",
}


def _citations(config: Config, db: Database, http: Http, start: datetime, consume: Callable[[list[Paper]], None],
               ctx: "PollContext") -> None:
    """Citing papers of every listed work: fetched through the arXiv API when not yet
    stored, stored like any page, then linked with kind "cites"."""
    from tracker.sources.citations import http_for, poll_citations

    s2 = http_for(config, **ctx.http_inject())
    try:
        poll_citations(config, db, ctx.works, start.date(), http=s2,
                       fetch_papers=lambda ids: arxiv_api.fetch_ids(config.arxiv, ids, http=http), store_papers=consume)
    finally:
        http.requests += s2.requests
        s2.close()


@dataclass(frozen=True)
class SourceReport:
    source: str
    window_start: str
    window_end: str
    fetched: int
    new: int
    updated: int
    requests: int
    outcome: str
    error: str | None = None
    seconds: float = 0.0
    skipped: int = 0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PollReport:
    sources: tuple[SourceReport, ...]

    @property
    def ok(self) -> bool:
        return all(s.outcome == runs.OK for s in self.sources)

    @property
    def changed(self) -> int:
        return sum(s.new + s.updated for s in self.sources)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "sources": [s.to_json() for s in self.sources]}


def default_classifier(config: Config) -> Classifier:
    try:
        from tracker.classify.matcher import Classifier as RuleClassifier
    except ImportError:
        raise TrackerError("poll needs the classifier (tracker.classify.matcher), which is not installed") from None
    return RuleClassifier.from_config(config)


def window(db: Database, source: str, config: Config, now: datetime, since: date | None = None) -> tuple[datetime, datetime]:
    """[start, end] of this poll for `source`: --since, else last success minus overlap,
    else `arxiv.first_poll_days` back."""
    end = utc(now)
    if since is not None:
        return datetime(since.year, since.month, since.day, tzinfo=timezone.utc), end
    last = runs.LEDGER.last_success(db, source)
    if last is not None:
        start = utc(datetime.fromisoformat(last.window_end)) - timedelta(days=config.arxiv.overlap_days)
    else:
        start = end - timedelta(days=config.arxiv.first_poll_days)
    return min(start, end), end


def _newest(papers: Iterable[Paper]) -> list[Paper]:
    kept: dict[str, Paper] = {}
    for p in papers:
        old = kept.get(p.id)
        if old is None or (p.version or 0) > (old.version or 0):
            kept[p.id] = p
    return list(kept.values())


def store_batch(
    db: Database, papers: list[Paper], source: str, seen: str, classifier: Classifier | None, after_store: Sequence[AfterStore]
) -> tuple[int, int]:
    """Store, classify and link one batch atomically; returns (new, updated). Text
    fields are capped first (models.capped)."""
    papers = [capped(p) for p in _newest(papers)]
    with db.atomic():
        counts = upsert_papers(db, papers, source, seen)
        changed_ids = set(counts.changed_ids)
        changed = [p for p in papers if p.id in changed_ids]
        if changed and classifier is not None:
            save_classifications(db, [(p.id, classifier.classify(p)) for p in changed], classifier.fingerprint, at=seen)
        if changed:
            for hook in after_store:
                hook(db, changed)
    return counts.new, counts.updated


def store_each(
    db: Database, papers: list[Paper], source: str, seen: str, classifier: Classifier | None,
    after_store: Sequence[AfterStore], skip: Callable[[str], None],
) -> tuple[int, int]:
    """`store_batch`, and when the batch cannot be stored, paper by paper: a paper that
    still fails is skipped and reported; if every one fails the fault is not the
    papers' (a full disk, a locked file) and the first error is raised."""
    try:
        return store_batch(db, papers, source, seen, classifier, after_store)
    except Interrupted:
        raise
    except Exception as first:
        if len(papers) < 2:
            if papers:
                skip(f"{papers[0].id}: cannot be stored ({type(first).__name__}: {str(first)[:100]})")
                return 0, 0
            raise
        new = updated = failed = 0
        for paper in papers:
            try:
                n, u = store_batch(db, [paper], source, seen, classifier, after_store)
            except Exception as exc:
                failed += 1
                skip(f"{paper.id}: cannot be stored ({type(exc).__name__}: {str(exc)[:100]})")
                continue
            new, updated = new + n, updated + u
        if failed == len(papers):
            raise first
        return new, updated


def _chunks(papers: list[Paper], size: int) -> Iterator[list[Paper]]:
    for i in range(0, len(papers), size):
        yield papers[i : i + size]


@dataclass
class _Tally:
    fetched: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0


@dataclass
class PollContext:
    """What a run needs besides the config; tests inject sleep/clock/transport."""

    classifier: Classifier | None
    after_store: Sequence[AfterStore] = ()
    progress: Progress | None = None
    sleep: Callable[[float], None] = interruptible_sleep
    clock: Callable[[], float] = time.monotonic
    transport: httpx.BaseTransport | None = None
    seen: str = ""
    works: Sequence[Any] = ()
    gate: HostGate = field(default_factory=HostGate)
    works_requests: int = 0

    def http_inject(self) -> dict[str, Any]:
        """What every Http of this poll shares: the injected sleep/clock/transport and the host gate."""
        return {"sleep": self.sleep, "clock": self.clock, "transport": self.transport, "gate": self.gate}


def poll_source(config: Config, db: Database, source: str, now: datetime, since: date | None, ctx: PollContext) -> SourceReport:
    start, end = window(db, source, config, now, since)
    run_id = runs.start_run(db, source, start, end, at=ctx.seen)
    http = arxiv_api.http_for(config.arxiv, **ctx.http_inject())
    t = _Tally()
    began = time.perf_counter()
    outcome, error = runs.OK, None
    log(logger, logging.DEBUG, "poll.source.start", source=source, window_start=start.isoformat(), window_end=end.isoformat())
    hint = None

    def skip(reason: str) -> None:
        t.skipped += 1
        log(logger, logging.WARNING, "poll.record_skipped", source=source, record=reason)

    def consume(page: list[Paper]) -> None:
        for reason in getattr(page, "skipped", ()):
            skip(reason)
        t.fetched += len(page)
        for chunk in _chunks(page, STORE_BATCH):
            new, updated = store_each(db, chunk, source, ctx.seen, ctx.classifier, ctx.after_store, skip)
            t.new, t.updated = t.new + new, t.updated + updated
        runs.update_counts(db, run_id, t.fetched, t.new, t.updated, http.requests)
        if ctx.progress:
            ctx.progress(source, t.fetched)

    try:
        if source == CITATIONS:
            _citations(config, db, http, start, consume, ctx)
        else:
            for page in SOURCES[source](config, http, start, end):
                consume(page)
    except TrackerError as exc:
        outcome, error, hint = runs.FAILED, str(exc), exc.hint or HINTS[source]
    except Exception as exc:  # a bug or an unexpected library error: record it, keep the other sources going
        outcome, error = runs.FAILED, f"{type(exc).__name__}: {exc}"
        logger.exception("poll.source.crashed", extra={"fields": {"source": source}})
    except BaseException:
        runs.finish_run(db, run_id, runs.FAILED, t.fetched, t.new, t.updated, http.requests, "interrupted (Ctrl-C)")
        raise
    finally:
        http.close()
    runs.finish_run(db, run_id, outcome, t.fetched, t.new, t.updated, http.requests, error)
    seconds = time.perf_counter() - began
    failed = {"error": error.removesuffix(f" ({hint})") if hint else error, "hint": hint} if error else {}
    log(logger, logging.ERROR if error else logging.INFO, "poll.source.failed" if error else "poll.source.done",
        source=source, outcome=outcome, fetched=t.fetched, new=t.new, updated=t.updated, skipped=t.skipped,
        requests=http.requests, seconds=round(seconds, 2), **failed)
    return SourceReport(source, iso(start), iso(end), t.fetched,
                        t.new, t.updated, http.requests, outcome, error, seconds, t.skipped)


def _works(config: Config, db: Database, now: datetime, online: bool, ctx: PollContext) -> Sequence[Any]:
    """The survey's listed works. Linking is secondary to storing: an unreadable survey
    means no links this poll, and a failed arXiv title look-up only leaves those works
    unresolved (looked up again at a later poll); nothing here fails the poll or keeps
    its runs from being recorded. Look-ups share the poll's host gate, so a dead arXiv
    costs one failed request here, not one per work."""
    from tracker.links.works import prepare_works

    http = arxiv_api.http_for(config.arxiv, **ctx.http_inject())

    def search(title: str) -> list[Paper]:
        return arxiv_api.search_title(config.arxiv, title, http=http)

    try:
        try:
            return prepare_works(config, db, now, online=online, search=search)
        except Interrupted:
            raise
        except TrackerError as exc:
            if isinstance(exc, SurveyError):
                raise
            log(logger, logging.WARNING, "poll.works_unresolved", error=str(exc), hint="titles are looked up again later")
        except Exception as exc:  # a library surprise in a look-up must not cost the poll its runs
            log(logger, logging.WARNING, "poll.works_unresolved", error=f"{type(exc).__name__}: {exc}",
                hint="titles are looked up again later")
        return prepare_works(config, db, now, online=False)
    except SurveyError as exc:
        log(logger, logging.WARNING, "poll.works_unavailable", error=str(exc), hint="fix survey.path to link papers to listed works")
        return ()
    finally:
        ctx.works_requests = http.requests
        http.close()


def parse_sources(text: str | Sequence[str]) -> list[str]:
    names = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    unknown = [n for n in names if n not in KNOWN_SOURCES]
    if unknown or not names:
        raise InputError(f"unknown source {unknown[0] if unknown else '(none)'!r} (known: {', '.join(KNOWN_SOURCES)})")
    return list(dict.fromkeys(names))


def poll(
    config: Config,
    db: Database,
    sources: Sequence[str],
    now: datetime,
    since: date | None = None,
    classifier: Classifier | None = None,
    after_store: Sequence[AfterStore] = (),
    progress: Progress | None = None,
    lock_wait: float = 10.0,
    link_works: bool = True,
    **inject: Any,
) -> PollReport:
    """Poll each source in turn; `inject` may carry sleep, clock and transport for tests.
    With `link_works`, every stored paper is also linked to the listed works it names."""
    names = parse_sources(sources)
    require_headings(config)
    if CITATIONS in names and config.citations.provider == "none":
        raise ConfigError(f"{config.file}: key 'citations.provider' is \"none\"; set it to \"semantic_scholar\" to poll citations")
    classifier = classifier if classifier is not None else default_classifier(config)
    ctx = PollContext(classifier=classifier, after_store=after_store, progress=progress,
                      seen=iso(now), **inject)
    with exclusive(config.data_dir / "poll.lock", "poll", lock_wait):
        stale = runs.LEDGER.mark_interrupted(db, now)
        if stale:
            log(logger, logging.WARNING, "poll.interrupted_runs", count=stale)
        if link_works:
            ctx.works = _works(config, db, now, online=any(n != "rss" for n in names), ctx=ctx)
            if ctx.works:
                ctx.after_store = (*ctx.after_store, mentions_hook(ctx.works, config.links.extends_phrases))
        reports = tuple(poll_source(config, db, name, now, since, ctx) for name in names)
    return PollReport(reports)
