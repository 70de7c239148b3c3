"""Change rule terms in the config file in place, keeping everything else as written.

tomlkit keeps comments, key order and formatting of the parts not touched; the
file is written atomically, and only when it still has the bytes it had when
it was read (a maintainer editing it meanwhile is never overwritten).
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import tomlkit
from tomlkit.items import Array, Table

from tracker.errors import ConfigError, TrackerError
from tracker.fsutil import atomic_write, read_failure


@dataclass
class EditableConfig:
    """The parsed document and the hash of the bytes it came from."""

    path: Path
    text: str
    sha256: str
    doc: tomlkit.TOMLDocument
    bom: bool = False  # the file began with a UTF-8 BOM, written back as it was

    def section(self, section_id: str) -> Table:
        for table in self.doc.get("sections", []):
            if table.get("id") == section_id:
                return table
        raise ConfigError(f"{self.path}: no [[sections]] table with id = {section_id!r}")

    def add_terms(self, section_id: str, key: str, terms: Iterable[str], case_sensitive: Iterable[str] = ()) -> list[str]:
        """Append terms not already listed under `key` (any / not); returns those added."""
        return _add(self.section(section_id), key, terms, case_sensitive)

    def add_scope_terms(self, terms: Iterable[str], case_sensitive: Iterable[str] = ()) -> list[str]:
        table = self.doc.get("scope")
        return [] if table is None else _add(table, "any", terms, case_sensitive)

    def remove_terms(self, section_id: str, key: str, terms: Iterable[str]) -> list[str]:
        """Drop terms from `key` (and from case_sensitive); a list is never left empty by this."""
        table = self.section(section_id)
        values = table.get(key)
        gone = set(terms)
        if not isinstance(values, Array):
            return []
        keep = [v for v in values if str(v) not in gone]
        if not keep:
            return []
        removed = [str(v) for v in values if str(v) in gone]
        for index in reversed([i for i, v in enumerate(values) if str(v) in gone]):
            del values[index]
        exact = table.get("case_sensitive")
        if isinstance(exact, Array):
            for index in reversed([i for i, v in enumerate(exact) if str(v) in gone]):
                del exact[index]
            if not len(exact):
                del table["case_sensitive"]
        return removed

    def set_relevance(self, model: str, with_rules: float, alone: float, fallbacks: Sequence[str] = (),
                      fallback_bar: float = 0.0) -> None:
        """Point `[relevance]` at a weights file with these bars (the table is added when missing),
        and set each fallback section's own `min_relevance`."""
        table = self.doc.get("relevance")
        if table is None:
            table = tomlkit.table()
            self.doc.add(tomlkit.nl())
            self.doc["relevance"] = table
        table["model"] = model
        table["with_rules"] = with_rules
        table["alone"] = alone
        for section in fallbacks:
            self.section(section)["min_relevance"] = fallback_bar

    def render(self) -> str:
        return tomlkit.dumps(self.doc)


RULE_KEYS = ("any", "all", "not", "regex", "case_sensitive")


def _add(table: Table, key: str, terms: Iterable[str], case_sensitive: Iterable[str]) -> list[str]:
    """Append the new terms under `key`, and those of them matched as written to case_sensitive."""
    added = _append(table, key, terms)
    exact = [t for t in case_sensitive if t in added]
    if exact:
        _append(table, "case_sensitive", exact)
    return added


def _append(table: Table, key: str, terms: Iterable[str]) -> list[str]:
    values = table.get(key)
    if values is None:
        values = tomlkit.array()
        anchor = [k for k in table if k in RULE_KEYS]
        try:  # next to the rule's other keys, not after the comments that open the next table
            table.value._insert_after(anchor[-1], key, values) if anchor else table.append(key, values)
        except (AttributeError, KeyError):
            table[key] = values
        values = table[key]
    present = {str(v) for v in values}
    added = []
    for term in terms:
        if term not in present:
            values.append(term)
            present.add(term)
            added.append(term)
    return added


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_config_for_edit(path: Path) -> EditableConfig:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(read_failure(path, "config", exc)) from None
    text = raw.decode("utf-8-sig")
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return EditableConfig(path, text, sha256(raw), doc, raw.startswith(codecs.BOM_UTF8))


def write_if_unchanged(edit: EditableConfig, text: str | None = None) -> None:
    """Write the edited document atomically, unless the file changed since it was read."""
    try:
        now = sha256(edit.path.read_bytes())
    except OSError as exc:
        raise TrackerError(f"{edit.path}: cannot read the config again ({exc.strerror or exc})") from None
    if now != edit.sha256:
        raise TrackerError(f"{edit.path}: the file changed since it was read; nothing written",
                           "run the command again to see proposals against the current file")
    atomic_write(edit.path, edit.render() if text is None else text, encoding="utf-8-sig" if edit.bom else "utf-8")


def edited_text(edit: EditableConfig, changes: Iterable[Any]) -> str:
    """The text after `changes` (objects with section, key, action, terms, case_sensitive)."""
    for change in changes:
        if change.action == "add":
            edit.add_terms(change.section, change.key, change.terms, change.case_sensitive)
            if getattr(change, "scope", False):
                edit.add_scope_terms(change.terms, change.case_sensitive)
        else:
            edit.remove_terms(change.section, change.key, change.terms)
    return edit.render()
