"""Reading one feed record at a time: a record that cannot be read is skipped and
reported, never fatal for the source (its window would then never advance).

XML 1.0 forbids most control characters (NUL, vertical tab, ...), raw or as a
character reference, and one such character makes the whole page unparseable. Before
parsing, each `<entry>`/`<item>` holding one is cut out of the body and named in
`Batch.skipped`; the rest of the page is read as usual.
"""

from __future__ import annotations

import re
from typing import Iterable

from tracker.models import Paper

_RAW = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_REF = re.compile(rb"&#(x[0-9a-fA-F]+|[0-9]+);")
_ID = re.compile(rb"<(?:id|guid)\b[^>]*>(.*?)</(?:id|guid)>", re.S)


class Batch(list):
    """A page of papers, plus the records of that page that were skipped (id: reason)."""

    def __init__(self, papers: Iterable[Paper] = (), skipped: Iterable[str] = ()) -> None:
        super().__init__(papers)
        self.skipped = list(skipped)


def _bad_ref(match: re.Match[bytes]) -> bool:
    text = match.group(1)
    value = int(text[1:], 16) if text[:1] in (b"x", b"X") else int(text)
    return value < 0x20 and value not in (0x9, 0xA, 0xD)


def has_forbidden(chunk: bytes) -> bool:
    return bool(_RAW.search(chunk)) or any(_bad_ref(m) for m in _REF.finditer(chunk))


def cut_unreadable(body: bytes, tag: str) -> tuple[bytes, list[str]]:
    """`body` without the `<tag>` records holding characters XML forbids; the cut ones'
    ids (or their position) with the reason."""
    if not has_forbidden(body):
        return body, []
    skipped: list[str] = []
    record = re.compile(rb"<" + tag.encode() + rb"\b.*?</" + tag.encode() + rb">", re.S)

    def drop(m: re.Match[bytes]) -> bytes:
        if not has_forbidden(m.group(0)):
            return m.group(0)
        found = _ID.search(m.group(0))
        name = found.group(1).decode("utf-8", "replace").strip()[:120] if found else f"record at byte {m.start()}"
        skipped.append(f"{name}: a control character XML does not allow")
        return b""

    return record.sub(drop, body), skipped
