"""The survey's works as stored facts: which arXiv paper each listed work is, and how we know.

A work the survey links to arxiv.org is "survey-link"; one whose arXiv id the
config gives is "config"; one not looked up yet is "pending". A work the survey links elsewhere (BERT to the ACL
Anthology) is looked up once by its exact title in the arXiv API: exactly one
hit whose title equals the listed title (ignoring case and punctuation) is
stored as "arxiv-title-search"; anything else is stored as "unresolved", so a
near miss is never taken for the paper, and neither is looked up again unless
asked (`refresh`). A failed look-up (network) is remembered with a back-off
(tracker.store.lookups): it is tried again at a later poll, not at every poll, and a
look-up skipped because arXiv already failed in this poll is simply left for later.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable, Sequence

from tracker.config.types import EXTENDS_PHRASES
from tracker.errors import NotTried, SourceError
from tracker.links.match import Matcher, merge_works, known_works, norm_title, title_key, with_arxiv_id
from tracker.logs import log
from tracker.models import TITLE_SEARCH, Paper, Work
from tracker.sources import arxiv_api
from tracker.store import Database
from tracker.store import works as stored
from tracker.store.links import save_links
from tracker.store.lookups import clear_lookup_failure, lookups_waiting, record_lookup_failure
from tracker.survey.parse import load_survey
from tracker.timeutil import iso

logger = logging.getLogger("tracker.links.works")

SearchTitle = Callable[[str], Sequence[Paper]]


def save_works(db: Database, works: Sequence[Work], now: datetime) -> None:
    """Store works; a work now known by its arXiv id replaces its stored title-keyed row."""
    stale = {w.id: title_key(w.title) for w in works if w.arxiv_id}
    stored.save_works(db, works, iso(now), stale)


def _cached(db: Database) -> dict[str, tuple[str | None, str]]:
    return {norm_title(title): (arxiv_id, by) for title, arxiv_id, by in stored.looked_up_works(db)}


def exact_match(title: str, candidates: Sequence[Paper]) -> str | None:
    """The one arXiv id whose title equals `title`; None when there is none or several."""
    ids = {p.id for p in candidates if norm_title(p.title) == norm_title(title)}
    return ids.pop() if len(ids) == 1 else None


def resolve_works(
    db: Database, works: Sequence[Work], now: datetime, search: SearchTitle | None = None, refresh: bool = False
) -> list[Work]:
    """Give each work without an arXiv id its cached resolution, looking up (once) the
    ones never tried when `search` is given; stores every work and returns them."""
    cache = {} if refresh else _cached(db)
    waiting = {} if refresh or search is None else lookups_waiting(db, [norm_title(w.title) for w in works if not w.arxiv_id], now)
    out: list[Work] = []
    skipped = 0
    failed: list[tuple[str, str]] = []
    looked_up = found = 0
    for w in works:
        if w.arxiv_id:
            out.append(w)
            continue
        row = cache.get(norm_title(w.title))
        if row is not None:
            out.append(with_arxiv_id(w, *row))
            continue
        if search is None or norm_title(w.title) in waiting:
            out.append(w)
            continue
        try:
            candidates = list(search(w.title))
        except NotTried:
            skipped += 1
            out.append(w)
            continue
        except SourceError as exc:
            retry = record_lookup_failure(db, norm_title(w.title), w.title, str(exc), now)
            waiting[norm_title(w.title)] = retry.isoformat()  # the same title in another case is not tried again
            log(logger, logging.DEBUG, "works.lookup_failed", title=w.title, error=str(exc), retry_after=retry.isoformat())
            failed.append((str(exc), retry.isoformat(timespec="seconds")))
            out.append(w)
            continue
        clear_lookup_failure(db, norm_title(w.title))
        arxiv_id = exact_match(w.title, candidates)
        looked_up, found = looked_up + 1, found + (arxiv_id is not None)
        if arxiv_id is None:
            log(logger, logging.DEBUG, "works.unresolved", title=w.title,
                nearest=candidates[0].title if candidates else "", nearest_id=candidates[0].id if candidates else "")
        else:
            log(logger, logging.DEBUG, "works.resolved", title=w.title, arxiv_id=arxiv_id)
        resolved = with_arxiv_id(w, arxiv_id, TITLE_SEARCH)
        cache[norm_title(w.title)] = (arxiv_id, resolved.resolved_by)  # one look-up per title, whatever its case
        save_works(db, [resolved], now)
        out.append(resolved)
    if looked_up:  # one line for the poll; each title at DEBUG
        log(logger, logging.INFO, "works.looked_up", titles=looked_up, resolved=found, unresolved=looked_up - found)
    if failed or skipped:  # one line for the poll, not one per work
        log(logger, logging.WARNING, "works.lookups_failed", failed=len(failed), not_tried=skipped,
            error=failed[0][0] if failed else "arXiv failed earlier in this poll",
            retry_after=failed[0][1] if failed else "next poll")
    merged = merge_works(out)
    save_works(db, merged, now)
    return merged


def prepare_works(config: Any, db: Database, now: datetime, online: bool = True,
                  search: SearchTitle | None = None, refresh: bool = False) -> list[Work]:
    """Parse the configured survey, add config aliases, resolve (arXiv title look-up when
    `online`) and store the works: what `mentions_hook` and `poll_citations` need."""
    works = known_works(load_survey(config.survey.path), config)
    if search is None and online:

        def search(title: str) -> list[Paper]:
            return arxiv_api.search_title(config.arxiv, title)

    return resolve_works(db, works, now, search if online else None, refresh)


def mentions_hook(works: Sequence[Work], extends_phrases: Sequence[str] = EXTENDS_PHRASES) -> Callable[[Database, list[Paper]], None]:
    """An `after_store` hook for `pipeline.poll`: link each stored paper to the works it names
    ("extends" when the words around the name say it builds on the work)."""
    matcher = Matcher(works, extends_phrases)

    def hook(db: Database, papers: list[Paper]) -> None:
        save_links(db, [link for p in papers for link in matcher.find(p)])

    return hook
