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
from itertools import islice
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

import httpx

from tracker.classify.matcher import Classifier as RuleClassifier
from tracker.config import Config
from tracker.errors import ConfigError, InputError, SourceError, SurveyError, TrackerError
from tracker.locking import exclusive
from tracker.links.works import mentions_hook, prepare_works
from tracker.logs import log
from tracker.models import Paper, SectionScore, capped
from tracker.net.retry import Interrupted, interruptible_sleep
from tracker.sources import HostGate, Http, arxiv_api, arxiv_rss, citations
from tracker.store import Database, runs, store_failure
from tracker.store.classifications import classified_with, save_classifications, set_classified_with
from tracker.store.papers import iter_papers, upsert_papers
from tracker.survey.headings import require_headings
from tracker.timeutil import iso, utc

logger = logging.getLogger("tracker.run.pipeline")

STORE_BATCH = 500
AfterStore = Callable[[Database, list[Paper]], None]
Progress = Callable[[str, int], None]


class Classifier(Protocol):
    fingerprint: str

    def classify(self, paper: Paper) -> list[SectionScore]: ...


@dataclass(frozen=True)
class SourceCall:
    """What every source gets: its window, an Http for arXiv, the store callback for each
    page it fetches, and the poll's context (the listed works, the injected sleep/clock)."""

    config: Config
    db: Database
    http: Http
    start: datetime
    end: datetime
    store: Callable[[list[Paper]], None]
    ctx: "PollContext"


# A source fetches pages and hands each to `call.store`; it returns its own counts
# (beyond fetched/new/updated/requests, which the poll keeps for every source).
SourceFn = Callable[[SourceCall], dict[str, int]]


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


def _api(call: SourceCall) -> dict[str, int]:
    clauses, why = api_clauses(call.config)
    if call.config.arxiv.query == "terms" and not clauses:
        log(logger, logging.WARNING, "poll.api.listing_categories", reason=why,
            hint="the API lists the whole categories this poll; see docs/sources.md")
    for page in arxiv_api.fetch(call.config.arxiv, call.http, clauses, call.start, call.end):
        call.store(page)
    return {}


def _rss(call: SourceCall) -> dict[str, int]:
    call.store(arxiv_rss.fetch(call.config.arxiv, call.http))
    return {}


def _citations(call: SourceCall) -> dict[str, int]:
    """Citing papers of every listed work: fetched through the arXiv API when not yet
    stored, stored like any page, then linked with kind "cites"."""
    config = call.config
    s2 = citations.http_for(config, **call.ctx.http_inject())
    try:
        report = citations.poll_citations(
            config, call.db, call.ctx.works, call.start.date(), http=s2,
            fetch_papers=lambda ids: arxiv_api.fetch_ids(config.arxiv, ids, http=call.http), store_papers=call.store,
        )
    finally:
        call.http.requests += s2.requests
        s2.close()
    return report.counts()


CITATIONS = "citations"
SOURCES: dict[str, SourceFn] = {"api": _api, "rss": _rss, CITATIONS: _citations}
KNOWN_SOURCES = tuple(SOURCES)
HINTS = {
    "api": "check arxiv.api_url and your network; the next poll retries the same window",
    "rss": "check arxiv.rss_url and arxiv.categories; the api source catches up what the feed missed",
    CITATIONS: "check citations.api_url and the key named by citations.api_key_env; the next poll retries",
}


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
    detail: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"fetched": self.fetched, "new": self.new, "updated": self.updated, "requests": self.requests,
                "skipped": self.skipped, **self.detail}

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PollReport:
    sources: tuple[SourceReport, ...]
    reclassified: int = 0  # stored papers classified again because the rules changed

    @property
    def ok(self) -> bool:
        return all(s.outcome == runs.OK for s in self.sources)

    @property
    def changed(self) -> int:
        return sum(s.new + s.updated for s in self.sources)

    def counts(self) -> dict[str, int]:
        """Each count summed over the sources."""
        out: dict[str, int] = {}
        for s in self.sources:
            for key, value in s.counts().items():
                out[key] = out.get(key, 0) + value
        return out

    def errors(self) -> list[str]:
        return [f"{s.source}: {s.error}" for s in self.sources if s.outcome != runs.OK and s.error]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "sources": [s.to_json() for s in self.sources], "reclassified": self.reclassified}


def default_classifier(config: Config) -> Classifier:
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


RECLASSIFY_BATCH = 2000


def reclassify_stale(db: Database, classifier: Classifier, at: str) -> int:
    """Classify every stored paper again when the rules changed since the store was last
    classified (a `tune --write`, a hand edit, new weights): a removed section's papers leave
    it, and papers the old rules left out are looked at again. Returns how many were
    classified (0 when nothing changed). The digest's window keeps old papers out of it."""
    if classified_with(db) == classifier.fingerprint:
        return 0
    count = 0
    with db.atomic():
        for batch in chunks(iter_papers(db), RECLASSIFY_BATCH):
            save_classifications(db, [(p.id, classifier.classify(p)) for p in batch], classifier.fingerprint, at=at)
            count += len(batch)
        set_classified_with(db, classifier.fingerprint, at)
    return count


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
    papers' and the first error is raised. A full disk or an unwritable file is known
    at once (`store_failure`) and stops the source without trying each paper."""
    try:
        return store_batch(db, papers, source, seen, classifier, after_store)
    except Interrupted:
        raise
    except Exception as exc:
        if (failure := store_failure(exc)) is not None:
            raise failure from None
        first = exc
    if len(papers) < 2:
        if not papers:
            raise first
        skip(f"{papers[0].id}: cannot be stored ({type(first).__name__}: {str(first)[:100]})")
        return 0, 0
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


def chunks(papers: Iterable[Paper], size: int) -> Iterator[list[Paper]]:
    """Lists of `size` papers, read from `papers` as they are needed (a store can be large)."""
    it = iter(papers)
    while batch := list(islice(it, size)):
        yield batch


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
        for chunk in chunks(page, STORE_BATCH):
            new, updated = store_each(db, chunk, source, ctx.seen, ctx.classifier, ctx.after_store, skip)
            t.new, t.updated = t.new + new, t.updated + updated
        runs.update_counts(db, run_id, t.fetched, t.new, t.updated, http.requests)
        if ctx.progress:
            ctx.progress(source, t.fetched)

    detail: dict[str, int] = {}
    try:
        detail = SOURCES[source](SourceCall(config, db, http, start, end, consume, ctx))
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
    runs.finish_run(db, run_id, outcome, t.fetched, t.new, t.updated, http.requests, error, detail=detail)
    seconds = time.perf_counter() - began
    failed = {"error": error.removesuffix(f" ({hint})") if hint else error, "hint": hint} if error else {}
    log(logger, logging.ERROR if error else logging.INFO, "poll.source.failed" if error else "poll.source.done",
        source=source, outcome=outcome, fetched=t.fetched, new=t.new, updated=t.updated, skipped=t.skipped,
        requests=http.requests, seconds=round(seconds, 2), **failed)
    return SourceReport(source, iso(start), iso(end), t.fetched,
                        t.new, t.updated, http.requests, outcome, error, seconds, t.skipped, detail)


def _works(config: Config, db: Database, now: datetime, online: bool, ctx: PollContext) -> Sequence[Any]:
    """The survey's listed works. Linking is secondary to storing: an unreadable survey
    means no links this poll, and a failed arXiv title look-up only leaves those works
    unresolved (looked up again at a later poll); nothing here fails the poll or keeps
    its runs from being recorded. Look-ups share the poll's host gate, so a dead arXiv
    costs one failed request here, not one per work."""
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
    sleep: Callable[[float], None] = interruptible_sleep,
    clock: Callable[[], float] = time.monotonic,
    transport: httpx.BaseTransport | None = None,
) -> PollReport:
    """Poll each source in turn; tests pass `sleep`, `clock` and `transport` (never the network).
    With `link_works`, every stored paper is also linked to the listed works it names."""
    names = parse_sources(sources)
    require_headings(config)
    if CITATIONS in names and config.citations.provider == "none":
        raise ConfigError(f"{config.file}: key 'citations.provider' is \"none\"; set it to \"semantic_scholar\" to poll citations")
    classifier = classifier if classifier is not None else default_classifier(config)
    ctx = PollContext(classifier=classifier, after_store=after_store, progress=progress, sleep=sleep, clock=clock,
                      transport=transport, seen=iso(now))
    with exclusive(config.data_dir / "poll.lock", "poll", lock_wait):
        stale = runs.LEDGER.mark_interrupted(db, now)
        if stale:
            log(logger, logging.WARNING, "poll.interrupted_runs", count=stale)
        reclassified = reclassify_stale(db, classifier, ctx.seen)
        if reclassified:
            log(logger, logging.INFO, "poll.reclassified", papers=reclassified, rules=classifier.fingerprint)
        if link_works:
            ctx.works = _works(config, db, now, online=any(n != "rss" for n in names), ctx=ctx)
            if ctx.works:
                ctx.after_store = (*ctx.after_store, mentions_hook(ctx.works, config.links.extends_phrases))
        reports = tuple(poll_source(config, db, name, now, since, ctx) for name in names)
    return PollReport(reports, reclassified)
