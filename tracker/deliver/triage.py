"""The triage buttons under each digest message, shared by the sender (which draws
them) and the bot (which reads the presses). Pure functions, no I/O.

Callback data (Telegram allows 64 bytes): `a|ID` accept, `r|ID` reject, `m|ID` open
the section menu, `s|ID|SECTION` move to SECTION (`#N` = the N-th configured section
when the id is too long), `x|ID` close the menu.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Mapping, Sequence

from tracker.config import SectionConfig
from tracker.deliver.telegram_html import STATUS_RESERVE, Part, tg_len

MAX_CALLBACK_BYTES = 64
ACTIONS = {"a": "accept", "r": "reject", "m": "menu", "s": "move", "x": "close"}
Keyboard = list[list[list[str]]]


@dataclass(frozen=True)
class Press:
    action: str
    paper_id: str
    section: str | None = None


def encode(action: str, paper_id: str, section: str | None = None) -> str:
    data = "|".join([action, paper_id] + ([section] if section is not None else []))
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def decode(data: str, sections: Sequence[SectionConfig]) -> Press | None:
    """The press behind callback data, or None for data this bot did not make."""
    parts = (data or "").split("|")
    if len(parts) not in (2, 3) or parts[0] not in ACTIONS or not parts[1]:
        return None
    if parts[0] != "s":
        return Press(ACTIONS[parts[0]], parts[1]) if len(parts) == 2 else None
    if len(parts) != 3:
        return None
    key = parts[2]
    if key.startswith("#") and key[1:].isdigit():
        index = int(key[1:])
        return Press("move", parts[1], sections[index].id) if index < len(sections) else None
    return Press("move", parts[1], key)


def _section_key(paper_id: str, index: int, section: SectionConfig) -> str:
    data = f"s|{paper_id}|{section.id}"
    return section.id if len(data.encode()) <= MAX_CALLBACK_BYTES else f"#{index}"


def entry_keyboard(parts: Sequence[Part], decisions: Mapping[str, str] | None = None) -> Keyboard:
    """One row per entry: Accept / Reject / Move, the chosen one ticked."""
    decisions = decisions or {}
    rows: Keyboard = []
    for p in parts:
        if p.kind != "entry" or not p.paper_id:
            continue
        chosen = decisions.get(p.paper_id)
        labels = [("a", "accept", "✅ Accept"), ("r", "reject", "❌ Reject"), ("m", "move", "↪ Move")]
        rows.append(
            [[f"{label} #{p.number}" + (" ✓" if chosen == name else ""), encode(code, p.paper_id)] for code, name, label in labels]
        )
    return rows


def section_keyboard(paper_id: str, sections: Sequence[SectionConfig], limit: int = 99) -> Keyboard:
    """The second keyboard of a Move: one button per configured section, then Back."""
    rows: Keyboard = []
    for index, s in enumerate(sections[:limit]):
        label = s.heading if len(s.heading) <= 40 else s.heading[:39] + "…"
        rows.append([[label, encode("s", paper_id, _section_key(paper_id, index, s))]])
    rows.append([["« Back", encode("x", paper_id)]])
    return rows


def status_line(decision: str, section: str | None = None) -> str:
    """The HTML line the bot puts under a decided entry; never longer than the reserve."""
    if decision == "accept":
        line = "✅ <i>accepted</i>"
    elif decision == "reject":
        line = "❌ <i>rejected</i>"
    else:
        target = section or "?"
        line = f"↪ <i>moved to {html.escape(target)}</i>"
        if tg_len(line) > STATUS_RESERVE - 1:
            line = "↪ <i>moved</i>"
    return line


def parts_from_payload(raw: Sequence[Sequence[object]]) -> list[Part]:
    return [Part(str(k), str(h), str(p) if p else None, int(n) if n is not None else None) for k, p, n, h in raw]  # type: ignore[arg-type]


def parts_to_payload(parts: Sequence[Part]) -> list[list[object]]:
    return [[p.kind, p.paper_id, p.number, p.html] for p in parts]
