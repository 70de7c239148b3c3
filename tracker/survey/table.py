"""A new row for a survey section written as a Markdown table, in that table's own shape.

The row keeps the copied row's outer pipes, or their absence (`Title | Link`, as GFM allows).

The row copies one of the table's rows cell by cell: the title cell gets the title (as a
link, bold or plain, as the copied cell has it), a cell holding an arXiv link gets the
paper's (label kept), a year cell the year; every other cell (code links, stars, notes
about another paper) is left empty rather than guessed. The row is read back with the
parser before it is used.
"""

from __future__ import annotations

import re

from tracker.models import Entry, Paper
from tracker.survey.fields import arxiv_id, escape
from tracker.survey.parse import YEAR_CELL, Survey, parse_survey, row_cells

LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
LETTERS = re.compile(r"[^\W\d_]")


def table_rows(survey: Survey, entries: tuple[Entry, ...]) -> list[Entry]:
    return [e for e in entries if e.line in survey.rows]


def row_template(survey: Survey, entries: tuple[Entry, ...]) -> Entry | None:
    """The table's latest row that links to arXiv (as the new row will), else its latest row."""
    rows = table_rows(survey, entries)
    with_arxiv = [e for e in rows if e.arxiv_id]
    return (with_arxiv or rows or [None])[-1]


def _title_cell(text: str, paper: Paper) -> str:
    title = escape(" ".join(paper.title.split()))
    bold = re.fullmatch(r"(\*\*|__)(.*)\1", text)
    inner = bold.group(2).strip() if bold else text
    link = LINK.fullmatch(inner)
    value = f"[{title}]({paper.abs_url})" if link else title
    return f"{bold.group(1)}{value}{bold.group(1)}" if bold else value


def render_row(template: str, paper: Paper, label: str = "PDF") -> str:
    """The row for `paper` in the shape of the one-line row `template`; ValueError when that shape cannot carry it."""
    line = template.lstrip("\ufeff").rstrip("\r\n")
    lead = line[: len(line) - len(line.lstrip())]
    opening, cells, closing = row_cells(line)
    title_at = next((i for i, c in enumerate(cells) if len(LETTERS.findall(LINK.sub(r"\1", c))) >= 3), None)  # as the parser reads it
    if title_at is None:
        raise ValueError("no title cell")
    placed = LINK.search(cells[title_at]) is not None
    out: list[str] = []
    for i, cell in enumerate(cells):
        text = cell.strip()
        left = cell[: len(cell) - len(cell.lstrip())] or (" " if opening or i else "")
        right = cell[len(cell.rstrip()):] or (" " if closing or i < len(cells) - 1 else "")
        if i == title_at:
            new = _title_cell(text, paper)
        elif any(arxiv_id(m.group(2)) for m in LINK.finditer(text)):
            m = next(m for m in LINK.finditer(text) if arxiv_id(m.group(2)))
            new = text[: m.start()] + f"[{m.group(1)}]({paper.abs_url})" + text[m.end():]
            new = LINK.sub(lambda x: x.group(0) if x.group(2) == paper.abs_url else "", new).strip()
            placed = True
        elif YEAR_CELL.match(text):
            new = str(paper.year or "")
        else:
            new = ""
        out.append(left + new + right if new else " ")
    if not placed:
        first = next((i for i, c in enumerate(cells) if i != title_at and LINK.search(c)), None)
        if first is None:
            raise ValueError("no cell for the arXiv link")
        out[first] = f" [{label}]({paper.abs_url}) "
    if (not opening and not out[0].strip()) or (not closing and not out[-1].strip()):
        raise ValueError("an empty edge cell in a row without outer pipes would shift its cells")
    return lead + opening + "|".join(out) + closing


def reads_back(row: str, paper: Paper, title: str) -> bool:
    """The row parses, under a header of its width, as one entry with the paper's title and arXiv id."""
    opening, cells, closing = row_cells(row)
    header, rule = (opening + "|".join(cell for _ in cells) + closing for cell in (" h ", "---"))
    text = f"## check\n\n{header}\n{rule}\n{row}\n"
    entries = [e for _, e in parse_survey(text, "check").entries()]
    return len(entries) == 1 and entries[0].arxiv_id == paper.id and entries[0].title == title
