"""The survey's works as stored facts: which arXiv paper each listed work is, and how we know.

A work the survey links to arxiv.org is "survey-link"; one whose arXiv id the
config gives is "config"; one not looked up yet is "pending". A work the survey links elsewhere (BERT to the ACL
Anthology) is looked up once by its exact title in the arXiv API: exactly one
hit whose title equals the listed title (ignoring case and punctuation) is
stored as "arxiv-title-search"; anything else is stored as "unresolved", so a
near miss is never taken for the paper, and neither is looked up again unless
asked (`refresh`). A failed look-up (network) is not cached: the next run retries.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from sqlite_utils import Database

from tracker.errors import SourceError
from tracker.links.match import Work, merge_works, known_works, norm_title, title_key, with_arxiv_id
from tracker.logs import log
from tracker.models import Paper

logger = logging.getLogger("tracker.links.works")

SURVEY_LINK, TITLE_SEARCH, CONFIG, UNRESOLVED = "survey-link", "arxiv-title-search", "config", "unresolved"
SearchTitle = Callable[[str], Sequence[Paper]]


def _row(work: Work, at: str) -> dict[str, Any]:
    return {
        "id": work.id,
        "title": work.title,
        "arxiv_id": work.arxiv_id,
        "year": work.year,
        "section": work.section,
        "aliases": json.dumps(list(work.aliases), ensure_ascii=False),
        "resolved_by": work.resolved_by,
        "resolved_at": at,
    }


def save_works(db: Database, works: Iterable[Work], now: datetime) -> None:
    """Upsert works; `resolved_at` keeps the time a work was first resolved the way it is now."""
    at = now.isoformat(timespec="seconds")
    with db.atomic():
        for w in works:
            old = db.execute("SELECT resolved_by, resolved_at FROM works WHERE id = ?", [w.id]).fetchone()
            row = _row(w, old[1] if old and old[0] == w.resolved_by and old[1] else at)
            db["works"].upsert(row, pk="id")
            if w.arxiv_id and title_key(w.title) != w.id:
                db.execute("DELETE FROM works WHERE id = ?", [title_key(w.title)])


def load_works(db: Database) -> list[Work]:
    """Stored works (for `describe` and exports), aliases as stored."""
    out = []
    for r in db["works"].rows_where(order_by="section, id"):
        aliases = tuple(json.loads(r["aliases"] or "[]"))
        out.append(Work(r["id"], r["title"], r["arxiv_id"], r["year"], r["section"] or "", aliases, r["resolved_by"] or ""))
    return out


def _cached(db: Database) -> dict[str, dict[str, Any]]:
    rows = db["works"].rows_where("resolved_by IN (?, ?)", [TITLE_SEARCH, UNRESOLVED])
    return {norm_title(r["title"]): r for r in rows}


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
    out: list[Work] = []
    for w in works:
        if w.arxiv_id:
            out.append(w)
            continue
        row = cache.get(norm_title(w.title))
        if row is not None:
            out.append(with_arxiv_id(w, row["arxiv_id"], row["resolved_by"]))
            continue
        if search is None:
            out.append(w)
            continue
        try:
            candidates = list(search(w.title))
        except SourceError as exc:
            log(logger, logging.WARNING, "works.lookup_failed", title=w.title, error=str(exc))
            out.append(w)
            continue
        arxiv_id = exact_match(w.title, candidates)
        if arxiv_id is None:
            log(logger, logging.INFO, "works.unresolved", title=w.title,
                nearest=candidates[0].title if candidates else "", nearest_id=candidates[0].id if candidates else "")
        else:
            log(logger, logging.INFO, "works.resolved", title=w.title, arxiv_id=arxiv_id)
        resolved = with_arxiv_id(w, arxiv_id, TITLE_SEARCH)
        save_works(db, [resolved], now)
        out.append(resolved)
    merged = merge_works(out)
    save_works(db, merged, now)
    return merged


def prepare_works(config: Any, db: Database, now: datetime, online: bool = True,
                  search: SearchTitle | None = None, refresh: bool = False) -> list[Work]:
    """Parse the configured survey, add config aliases, resolve (arXiv title look-up when
    `online`) and store the works: what `mentions_hook` and `poll_citations` need."""
    from tracker.survey.parse import load_survey

    works = known_works(load_survey(config.survey.path), config)
    if search is None and online:
        from tracker.sources import arxiv_api

        def search(title: str) -> list[Paper]:
            return arxiv_api.search_title(config.arxiv, title)

    return resolve_works(db, works, now, search if online else None, refresh)
