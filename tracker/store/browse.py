"""Short lists of stored papers for the bot: newest, full-text search, newest of a section."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

TOP_SECTION = "(SELECT c.section FROM classifications c WHERE c.paper_id = p.id ORDER BY c.rank LIMIT 1)"


def latest_classified(db: Database, limit: int) -> list[dict[str, Any]]:
    """The newest papers that landed in a section: id, title, top section."""
    return list(db.query(
        f"SELECT p.id, p.title, {TOP_SECTION} AS section FROM papers p "
        "WHERE EXISTS (SELECT 1 FROM classifications c WHERE c.paper_id = p.id) "
        "ORDER BY p.first_seen DESC, p.id DESC LIMIT ?",
        [limit],
    ))


def search_papers(db: Database, words: list[str], limit: int) -> list[dict[str, Any]]:
    """Full-text search over titles and abstracts, each word a quoted phrase (no FTS syntax)."""
    query = " ".join('"' + w.replace('"', "") + '"' for w in words)
    return list(db.query(
        f"SELECT p.id, p.title, {TOP_SECTION} AS section FROM papers_fts f JOIN papers p ON p.rowid = f.rowid "
        "WHERE papers_fts MATCH ? ORDER BY f.rank LIMIT ?",
        [query, limit],
    ))


def newest_in_section(db: Database, section: str, limit: int) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT p.id, p.title, c.section FROM classifications c JOIN papers p ON p.id = c.paper_id "
        "WHERE c.section = ? ORDER BY p.first_seen DESC, c.score DESC LIMIT ?",
        [section, limit],
    ))
