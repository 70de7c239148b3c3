"""Telegram-sized HTML: a digest cut into messages of at most 4,096 characters on
entry boundaries, with the triage keyboard of the entries each message carries.

Lengths are counted in UTF-16 code units, the way Telegram counts them, on the
HTML source (which is never shorter than the text Telegram displays).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from jinja2 import Environment

from tracker.deliver.digest import Digest

LIMIT = 4096
SEPARATOR = "\n\n"
MAX_ENTRIES = 30  # 3 buttons each stays under Telegram's 100 buttons per keyboard
STATUS_RESERVE = 64  # room kept per entry for the decision line the bot adds later
ELLIPSIS = "…"
TOKEN = re.compile(r"<[^>]*>|&#?\w+;|[^<&]+|[<&]")
TAG = re.compile(r"<(/?)([a-zA-Z0-9-]+)")


@dataclass(frozen=True)
class Part:
    """One block of a message: the digest header, a section heading, or one paper."""

    kind: str
    html: str
    paper_id: str | None = None
    number: int | None = None


def tg_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def truncate_html(html: str, limit: int) -> str:
    """Cut `html` to at most `limit` units without splitting a tag or an entity, closing
    every tag left open and marking the cut with an ellipsis."""
    if tg_len(html) <= limit:
        return html
    out: list[str] = []
    stack: list[str] = []
    used = 0

    def closers(extra: Sequence[str] = ()) -> int:
        return sum(len(f"</{t}>") for t in list(stack) + list(extra))

    budget = limit - tg_len(ELLIPSIS)
    for token in TOKEN.findall(html):
        m = TAG.match(token)
        if m and m.group(1):
            if stack and stack[-1] == m.group(2).lower():
                stack.pop()
                out.append(token)
                used += len(token)
            continue
        if m:
            name = m.group(2).lower()
            if used + len(token) + closers([name]) > budget:
                break
            out.append(token)
            used += len(token)
            stack.append(name)
            continue
        size = tg_len(token)
        if used + size + closers() <= budget:
            out.append(token)
            used += size
            continue
        if token.startswith("&"):
            break
        room = budget - used - closers()
        piece = ""
        for ch in token:
            if tg_len(piece + ch) > room:
                break
            piece += ch
        out.append(piece)
        used += tg_len(piece)
        break
    return "".join(out).rstrip() + ELLIPSIS + "".join(f"</{t}>" for t in reversed(stack))


def render_parts(digest: Digest, env: Environment) -> tuple[Part, list[tuple[Part, list[Part]]]]:
    """The header and, per section, its heading and entries, each rendered by telegram.html.j2."""
    module = env.get_template("telegram.html.j2").module
    header = Part("header", str(module.header(digest)).strip())
    sections = []
    for s in digest.sections:
        heading = Part("section", str(module.section(s)).strip())
        entries = [Part("entry", str(module.entry(e)).strip(), e.id, e.number) for e in s.entries]
        sections.append((heading, entries))
    return header, sections


def render_empty(digest: Digest, env: Environment) -> str:
    return str(env.get_template("telegram.html.j2").module.empty(digest)).strip()


def pack(
    header: Part,
    sections: Sequence[tuple[Part, Sequence[Part]]],
    limit: int = LIMIT,
    reserve: int = 0,
    max_entries: int = MAX_ENTRIES,
    continued: str = " (continued)",
) -> list[list[Part]]:
    """Greedy packing: a message ends before the entry that would push it past `limit`
    (counting `reserve` per entry); a section split across messages repeats its heading."""

    def entries(parts: Sequence[Part]) -> int:
        return sum(1 for p in parts if p.kind == "entry")

    def size(parts: Sequence[Part]) -> int:
        return sum(tg_len(p.html) for p in parts) + len(SEPARATOR) * (len(parts) - 1) + reserve * entries(parts)

    messages: list[list[Part]] = []
    current: list[Part] = [header]
    current_heading: Part | None = None
    for heading, section_entries in sections:
        shown = False
        again = Part("section", heading.html + continued)
        budget = limit - tg_len(header.html) - tg_len(again.html) - 2 * len(SEPARATOR) - reserve
        for entry in section_entries:
            if tg_len(entry.html) > budget:
                entry = Part(entry.kind, truncate_html(entry.html, budget), entry.paper_id, entry.number)
            add = [entry] if current_heading is heading else [again if shown else heading, entry]
            if entries(current) and (size(current + add) > limit or entries(current) >= max_entries):
                messages.append(current)
                current = []
                add = [again if shown else heading, entry]
            current.extend(add)
            current_heading, shown = heading, True
    if entries(current):
        messages.append(current)
    return messages


def compose(parts: Sequence[Part], status: Mapping[str, str] | None = None) -> str:
    """The message text; `status` maps paper id -> an HTML decision line put under its entry."""
    status = status or {}
    blocks = []
    for p in parts:
        line = status.get(p.paper_id or "")
        blocks.append(p.html + ("\n" + line if line else ""))
    return SEPARATOR.join(blocks)
