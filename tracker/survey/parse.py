"""Parse a Markdown reading list into sections and entries, losslessly.

The Survey keeps every original line with its own ending, so `render()` gives
back the exact input and a patch can add lines without touching the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tracker.errors import SurveyError, TrackerError
from tracker.fsutil import read_failure
from tracker.models import Entry, Section, Skipped
from tracker.survey.fields import Item, clean, read_item

HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
HTML_HEADING = re.compile(r"^\s*<h([1-6])\b[^>]*>(.*?)</h\1>\s*$", re.IGNORECASE)
LIST_ITEM = re.compile(r"^(?P<indent>[ \t]*)(?:(?P<num>\d{1,9})[.)]|[-*+])(?P<gap>[ \t]+)(?=\S)")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
THEMATIC = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
CELL_SPLIT = re.compile(r"(?<!\\)\|")  # an escaped \| stays inside its cell
UNESCAPED_STARS = re.compile(r"(?<!\\)\*+")  # a cell's emphasis; an escaped \* is the title's own
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
BOLD_PARAGRAPH = re.compile(r"^ {0,3}\*\*\S")
# A line of tags only (`</details>`, `<span id="x"></span>`) or a lone in-page link
# (`**[back to top](#contents)**`): page furniture that ends an entry, never part of it.
FURNITURE = re.compile(r"^\s*(?:(?:<[^>]*>\s*)+|[*_]*\[[^\]]*\]\(#[^)]*\)[*_]*)\s*$")
TAG = re.compile(r"<[^>]*>")
MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
YEAR_CELL = re.compile(r"^(?:19|20)\d{2}$")


def row_cells(text: str) -> tuple[str, list[str], str]:
    """A table row's opening pipe, cells and closing pipe: GFM makes the outer pipes optional."""
    body = text.strip()
    opening = "|" if body.startswith("|") else ""
    closing = "|" if len(body) > len(opening) and body.endswith("|") and not body.endswith("\\|") else ""
    return opening, CELL_SPLIT.split(body[len(opening) : len(body) - len(closing)]), closing


def split_lines(text: str) -> list[str]:
    """Lines with their endings; only `\\n` (and `\\r\\n`) end a line, unlike str.splitlines."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def heading_text(raw: str) -> str:
    """`<img .../>Title` -> `Title`: drop HTML tags, keep link text, collapse spaces."""
    text = MD_LINK.sub(lambda m: "" if m.group(0).startswith("!") else m.group(1), TAG.sub("", raw))
    return " ".join(text.split())


SLUG_WORD = re.compile(r"非(?=\s*[A-Za-z0-9])|[A-Za-z0-9]+")


def slugify(heading: str, position: int) -> str:
    """Readable ASCII slug from the heading's Latin words, else `section-N` by position.
    The Chinese negation 非 before a Latin word reads "non": "非 Transformer 架构" is
    `non-transformer`, not the opposite section."""
    slug = ""
    for match in SLUG_WORD.findall(heading):
        word = "non" if match == "非" else match
        if slug and len(slug) + len(word) > 48:
            break
        slug = f"{slug}-{word.lower()}" if slug else word.lower()
    return slug if slug else f"section-{position}"


@dataclass(frozen=True)
class Survey:
    path: str
    lines: tuple[str, ...]
    sections: tuple[Section, ...]
    skipped: tuple[Skipped, ...]
    rows: frozenset[int] = frozenset()  # lines of the entries read from table rows

    def render(self) -> str:
        return "".join(self.lines)

    def entries(self) -> Iterator[tuple[Section, Entry]]:
        for section in self.sections:
            for entry in section.entries:
                yield section, entry

    @property
    def newline(self) -> str:
        """The file's own line ending (the more common one; `\\n` for a one-line file)."""
        crlf = sum(1 for line in self.lines if line.endswith("\r\n"))
        lf = sum(1 for line in self.lines if line.endswith("\n")) - crlf
        return "\r\n" if crlf > lf else "\n"

    def entry_text(self, entry: Entry) -> str:
        return "".join(self.lines[entry.line - 1 : entry.end_line])

    def heading_line(self, section: Section) -> int:
        """1-based number of the heading's first line: a setext section's `line` is its underline,
        and its text stands on the line above."""
        setext = section.level > 0 and SETEXT.match(self.lines[section.line - 1].rstrip("\r\n"))
        return section.line - 1 if setext else section.line

    def section_end(self, section: Section) -> int:
        """1-based number of the last line before the next heading (or the file's last line)."""
        later = [self.heading_line(s) for s in self.sections if s.line > section.line and s.level > 0]
        return (min(later) - 1) if later else len(self.lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sections": [s.to_json() for s in self.sections],
            "skipped": [{"line": s.line, "text": s.text} for s in self.skipped],
        }


def _indent_width(text: str) -> int:
    return len(text.expandtabs(4)) - len(text.expandtabs(4).lstrip())


class _Parser:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.plain = [line.rstrip("\r\n") for line in lines]
        if self.plain and self.plain[0].startswith("\ufeff"):
            self.plain[0] = self.plain[0][1:]
        self.sections: list[dict[str, Any]] = []
        self.skipped: list[Skipped] = []
        self.rows: set[int] = set()
        self.entry_indent: int | None = None  # indent of the list item that made the latest entry
        self.structural = self._structural_lines()
        self.table = self._table_lines()

    def _structural_lines(self) -> list[bool]:
        """False for lines inside fenced code or HTML comments: nothing there is read."""
        out, fence, comment = [], None, False
        for text in self.plain:
            if comment:
                out.append(False)
                comment = "-->" not in text
                continue
            if fence:
                out.append(False)
                if text.strip().startswith(fence):
                    fence = None
                continue
            m = FENCE.match(text)
            if m:
                fence = m.group(1)[0] * 3
                out.append(False)
                continue
            if text.lstrip().startswith("<!--") and "-->" not in text:
                comment = True
                out.append(False)
                continue
            out.append(True)
        return out

    def _table_lines(self) -> set[int]:
        """Indexes of the lines of GFM tables, header and delimiter row included. The outer pipes
        are optional there (`Title | Link` over `---|---`), so a table is known by a delimiter row
        under a header of as many cells, and its rows run while lines hold a `|`: a stray `a | b`
        in a list or a paragraph is not a row."""
        lines: set[int] = set()
        for i in range(1, len(self.plain)):
            header, rule = self.plain[i - 1], self.plain[i]
            if not (self.structural[i - 1] and self.structural[i] and "|" in rule and TABLE_RULE.match(rule)):
                continue
            width = len(row_cells(header)[1])
            if width < 2 or width != len(row_cells(rule)[1]) or LIST_ITEM.match(header) or self.heading(i - 1):
                continue
            j = i + 1
            while j < len(self.plain) and self.structural[j] and CELL_SPLIT.search(self.plain[j]) and not (
                    LIST_ITEM.match(self.plain[j]) or self.heading(j) or FENCE.match(self.plain[j])):
                j += 1
            lines.update(range(i - 1, j))
        return lines

    def is_row(self, i: int) -> bool:
        return bool(TABLE_ROW.match(self.plain[i])) or i in self.table

    def heading(self, i: int) -> tuple[int, str] | None:
        if not self.structural[i]:
            return None
        m = HEADING.match(self.plain[i])
        if m:
            return len(m.group(1)), heading_text(m.group(2) or "")
        m = HTML_HEADING.match(self.plain[i])
        if m:
            return int(m.group(1)), heading_text(m.group(2))
        return None

    def starts_block(self, i: int) -> bool:
        text = self.plain[i]
        return (
            not self.structural[i]
            or self.heading(i) is not None
            or bool(LIST_ITEM.match(text))
            or bool(THEMATIC.match(text))
            or bool(FENCE.match(text))
            or self.is_row(i)
            or bool(FURNITURE.match(text))
        )

    def item_end(self, i: int, content_col: int) -> int:
        """Index of the item's last non-blank line: lazy continuation, or indented after blanks."""
        end, blank, j = i, False, i + 1
        while j < len(self.plain):
            text = self.plain[j]
            if not text.strip():
                blank = True
            elif self.starts_block(j) or (blank and _indent_width(text) < min(content_col, 2)):
                break
            else:
                end = j
            j += 1
        return end

    def paragraph_end(self, i: int) -> int:
        j = i
        while j + 1 < len(self.plain) and self.plain[j + 1].strip() and not self.starts_block(j + 1):
            j += 1
        return j

    def add_section(self, level: int, heading: str, line: int) -> None:
        self.sections.append({"level": level, "heading": heading, "line": line, "entries": []})

    def add_entry(self, i: int, end: int, start: int, number: int | None, list_like: bool, nested: bool = False) -> bool:
        """Read the item as an entry; True when it is one. An item `nested` under an entry that
        links no arXiv paper (`- Code: [repo](...)`) is that entry's note: neither an entry nor skipped."""
        raw = "".join(self.lines[i : end + 1])
        offset = 1 if i == 0 and raw.startswith("\ufeff") else 0
        item = read_item(raw[offset:], start)
        if item.navigation or (nested and item.arxiv_id is None):
            return False
        if not item.is_entry:
            if list_like:
                self.skipped.append(Skipped(line=i + 1, text=self.plain[i].strip()))
            return False
        if not self.sections:
            self.add_section(0, "", 1)
        self.sections[-1]["entries"].append(_entry(item, number, i + 1, end + 1))
        return True

    def table_row(self, i: int) -> None:
        prev_rule = i + 1 < len(self.plain) and TABLE_RULE.match(self.plain[i + 1])
        if TABLE_RULE.match(self.plain[i]) or prev_rule:
            return
        cells = row_cells(self.plain[i])[1]
        item = Item()
        raw = self.plain[i]
        titled = next((c for c in cells if len(re.findall(r"[^\W\d_]", MD_LINK.sub(r"\1", c))) >= 3), None)
        probe = read_item(raw, 0)
        if titled is None or not probe.links:
            self.skipped.append(Skipped(line=i + 1, text=raw.strip()))
            return
        item.title = clean(UNESCAPED_STARS.sub("", MD_LINK.sub(r"\1", titled)))
        column = next((int(c.strip()) for c in cells if YEAR_CELL.match(c.strip())), None)
        year = column if column is not None else probe.year  # a Year column says it best, wherever it stands
        item.links, item.year, item.shape, item.quoted_id = probe.links, year, "table", probe.quoted_id
        if not self.sections:
            self.add_section(0, "", 1)
        self.sections[-1]["entries"].append(_entry(item, None, i + 1, i + 1))
        self.rows.add(i + 1)

    def setext(self, i: int) -> tuple[int, str] | None:
        """`Title` over a line of `=` (level 1) or `-` (level 2): a heading of two lines."""
        text = self.plain[i]
        if (i + 1 >= len(self.plain) or not self.structural[i] or not self.structural[i + 1] or not text.strip()
                or text[:4] == "    " or self.heading(i) is not None or LIST_ITEM.match(text) or self.is_row(i)
                or FENCE.match(text) or THEMATIC.match(text) or (i > 0 and self.plain[i - 1].strip() and self.heading(i - 1) is None)):
            return None
        m = SETEXT.match(self.plain[i + 1])
        return (1 if m.group(1)[0] == "=" else 2, heading_text(text)) if m else None

    def run(self) -> None:
        i = 0
        while i < len(self.plain):
            text = self.plain[i]
            m = LIST_ITEM.match(text)
            if text.strip() and not m:
                self.entry_indent = None  # a heading, a paragraph, a table: nothing after it is nested in an entry
            found = self.heading(i)
            if found:
                self.add_section(found[0], found[1], i + 1)
                i += 1
                continue
            underlined = self.setext(i)
            if underlined:  # the section's line is the underline: what is added goes after it
                self.add_section(underlined[0], underlined[1], i + 2)
                i += 2
                continue
            if not self.structural[i] or THEMATIC.match(text):
                i += 1
                continue
            if m:
                content_col = len(m.group(0).expandtabs(4))
                end = self.item_end(i, content_col)
                indent = _indent_width(m.group("indent"))
                nested = self.entry_indent is not None and indent > self.entry_indent
                if self.add_entry(i, end, m.end(), int(m.group("num")) if m.group("num") else None, True, nested):
                    self.entry_indent = indent
                elif not nested:
                    self.entry_indent = None
                i = end + 1
                continue
            if self.is_row(i):
                self.table_row(i)
            elif BOLD_PARAGRAPH.match(text):
                end = self.paragraph_end(i)
                self.add_entry(i, end, 0, None, False)
                i = end + 1
                continue
            i += 1


def _entry(item: Item, number: int | None, line: int, end_line: int) -> Entry:
    return Entry(
        number=number,
        title=item.title,
        authors=item.authors,
        venue=item.venue,
        year=item.year,
        links=tuple(link for link, _, _ in item.links),
        arxiv_id=item.arxiv_id,
        line=line,
        end_line=end_line,
    )


def parse_survey(text: str, path: str) -> Survey:
    """Parse Markdown text; never raises on content, lines it cannot read go to `skipped`."""
    lines = split_lines(text)
    parser = _Parser(lines)
    parser.run()
    sections: list[Section] = []
    used: set[str] = set()
    for position, s in enumerate(parser.sections, 1):
        base = "preamble" if s["level"] == 0 else slugify(s["heading"], position)
        sid, n = base, 2
        while sid in used:
            sid, n = f"{base}-{n}", n + 1
        used.add(sid)
        sections.append(Section(id=sid, heading=s["heading"], level=s["level"], line=s["line"], entries=tuple(s["entries"])))
    return Survey(path=str(path), lines=tuple(lines), sections=tuple(sections), skipped=tuple(parser.skipped),
                  rows=frozenset(parser.rows))


def read_utf8(path: str | Path, error: type[TrackerError], kind: str) -> str:
    """A whole UTF-8 file; every failure is `error` naming the path (and the byte offset of bad UTF-8)."""
    p = Path(path)
    try:
        return p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise error(read_failure(p, kind, exc)) from None
    except UnicodeDecodeError as exc:
        raise error(f"{p}: not valid UTF-8 (byte offset {exc.start})") from None


def load_survey(path: str | Path) -> Survey:
    """Read a survey file; a missing file, a folder or bad UTF-8 is a SurveyError naming it."""
    return parse_survey(read_utf8(path, SurveyError, "survey"), str(path))
