"""Who cites the surveyed works: a citation provider behind one small interface.

`CitationProvider.fetch_citing(arxiv_id, since)` yields the citing papers that
have an arXiv id; `poll_citations` fetches the ones not yet stored through the
arXiv source, stores them (the pipeline classifies them) and links them with
kind "cites". Semantic Scholar is the one provider today; adding another
(OpenAlex) is one class with the same method plus a branch in `provider_for`
(see docs/links.md).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterator, Protocol, Sequence

from tracker.config import Config
from tracker.errors import ConfigError, SourceError
from tracker.logs import log, register_secret
from tracker.models import Paper, Work, WorkLink, split_arxiv_id
from tracker.sources import Http
from tracker.sources.arxiv_api import http_for as arxiv_http
from tracker.store import Database
from tracker.store.links import save_links
from tracker.store.papers import stored_ids

logger = logging.getLogger("tracker.citations")

S2_FIELDS = "title,externalIds,publicationDate,authors"
S2_MAX_OFFSET = 10_000


@dataclass(frozen=True)
class CitingPaper:
    arxiv_id: str
    title: str
    published: str


class CitationProvider(Protocol):
    name: str

    def fetch_citing(self, work_arxiv_id: str, since: date | None) -> Iterator[CitingPaper]:
        """Papers citing the work that have an arXiv id and were published on or after `since`."""
        ...


class NotFound(SourceError):
    """The provider does not know the work; the other works still run."""


def _keep(arxiv_raw: Any, published: Any, since: date | None) -> str | None:
    """The citing paper's arXiv id when it passes the filters, else None."""
    split = split_arxiv_id(str(arxiv_raw)) if arxiv_raw else None
    if split is None:
        return None
    if since is not None and not (isinstance(published, str) and published[:10] >= since.isoformat()):
        return None
    return split[0]


@dataclass
class SemanticScholar:
    """GET {api_url}/graph/v1/paper/ARXIV:{id}/citations, paged by `offset`/`next`.

    The key (optional for S2) goes in the `x-api-key` header only, never in a URL,
    so no log line or error message can carry it."""

    api_url: str
    http: Http
    page_size: int = 100
    api_key: str | None = None
    name: str = "semantic_scholar"

    def __post_init__(self) -> None:
        if self.api_key:
            register_secret(self.api_key)
            self.http.client().headers["x-api-key"] = self.api_key

    def _page(self, work_arxiv_id: str, offset: int) -> dict[str, Any]:
        url = f"{self.api_url.rstrip('/')}/graph/v1/paper/ARXIV:{work_arxiv_id}/citations"
        params = {"fields": S2_FIELDS, "limit": self.page_size, "offset": offset}
        try:
            response = self.http.get(url, params)
        except SourceError as exc:
            if "HTTP 404" in exc.message:
                raise NotFound(f"{self.name}: no paper ARXIV:{work_arxiv_id}",
                               "Semantic Scholar does not know this listed work; its citations are skipped") from None
            raise
        try:
            body = response.json()
        except ValueError:
            raise SourceError(f"GET {response.request.url}: not JSON ({response.text[:80]!r})") from None
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise SourceError(f"GET {response.request.url}: no 'data' list in the response")
        return body

    def fetch_citing(self, work_arxiv_id: str, since: date | None) -> Iterator[CitingPaper]:
        offset = 0
        while True:
            body = self._page(work_arxiv_id, offset)
            for item in body["data"]:
                paper = (item or {}).get("citingPaper") or {}
                ids = paper.get("externalIds") or {}
                arxiv_id = _keep(ids.get("ArXiv"), paper.get("publicationDate"), since)
                if arxiv_id:
                    yield CitingPaper(arxiv_id, paper.get("title") or "", paper.get("publicationDate") or "")
            nxt = body.get("next")
            if not isinstance(nxt, int) or nxt <= offset or not body["data"]:
                return
            if nxt + self.page_size > S2_MAX_OFFSET:
                log(logger, logging.WARNING, "citations.truncated", work=work_arxiv_id, offset=nxt,
                    hint="the provider pages at most 10,000 citations per work")
                return
            offset = nxt


def provider_for(config: Config, http: Http) -> CitationProvider:
    """The configured provider; the API key is read from `citations.api_key_env` when set."""
    cfg = config.citations
    if cfg.provider == "semantic_scholar":
        key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        return SemanticScholar(cfg.api_url, http, cfg.page_size, key or None)
    raise ConfigError(
        f"{config.file}: key 'citations.provider' is {cfg.provider!r}: the citations source is off",
        'set provider = "semantic_scholar" in [citations]',
    )


def http_for(config: Config, **inject: Any) -> Http:
    """The provider's session: its own timeout, retries and delay; the arXiv deadline and caps."""
    cfg = config.citations
    return arxiv_http(config.arxiv, timeout=cfg.timeout_seconds, retries=cfg.retries, delay_seconds=cfg.delay_seconds,
                      **inject)


@dataclass
class CitationsReport:
    works: int = 0
    missing: list[str] = field(default_factory=list)
    citing: int = 0
    fetched: int = 0
    linked: int = 0
    requests: int = 0

    def counts(self) -> dict[str, int]:
        """What the citations source adds to its poll run (fetched and requests are the run's own)."""
        return {"works": self.works, "works_missing": len(self.missing), "citing": self.citing, "linked": self.linked}

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def poll_citations(
    config: Config,
    db: Database,
    works: Sequence[Work],
    since: date | None,
    fetch_papers: Callable[[Sequence[str]], list[Paper]],
    store_papers: Callable[[list[Paper]], Any],
    provider: CitationProvider | None = None,
    http: Http | None = None,
) -> CitationsReport:
    """For every work with an arXiv id: its new citing papers, fetched and stored when
    unknown, each linked with kind "cites". Work by work, so a run killed half-way keeps
    the links it made; a work the provider does not know is skipped and reported."""
    own = http is None
    http = http or http_for(config)
    provider = provider or provider_for(config, http)
    report = CitationsReport()
    started = time.perf_counter()
    try:
        for work in works:
            if not work.arxiv_id:
                continue
            report.works += 1
            try:
                citing = {c.arxiv_id: c for c in provider.fetch_citing(work.arxiv_id, since) if c.arxiv_id != work.arxiv_id}
            except NotFound as exc:
                report.missing.append(work.arxiv_id)
                log(logger, logging.WARNING, "citations.unknown_work", work=work.arxiv_id, error=str(exc))
                continue
            report.citing += len(citing)
            ids = list(citing)
            stored = stored_ids(db, ids)
            missing = [i for i in ids if i not in stored]
            if missing:
                papers = fetch_papers(missing)
                report.fetched += len(papers)
                if papers:
                    store_papers(papers)
            linked = stored_ids(db, ids)
            links = [WorkLink(i, work.id, "cites", provider.name, work.title) for i in ids if i in linked]
            save_links(db, links)
            report.linked += len(links)
            log(logger, logging.INFO, "citations.work", work=work.arxiv_id, citing=len(citing),
                fetched=len(missing), linked=len(links))
    finally:
        report.requests = http.requests
        if own:
            http.close()
    log(logger, logging.INFO, "citations.done", works=report.works, citing=report.citing, linked=report.linked,
        requests=report.requests, seconds=round(time.perf_counter() - started, 2))
    return report
