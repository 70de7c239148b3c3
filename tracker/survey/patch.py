"""Add papers to a survey in each section's own style, touching only the added lines.

A new entry is written by copying an entry of its section and swapping its
values (number, title, venue, authors, links, year) in place, so spacing,
indentation, trailing spaces and blank lines stay exactly as the maintainer
writes them. The entry copied is one of the style most of the section's entries
share (link labels, venue, year, separators; see `style_key`), not merely the
last one; the arXiv link's label and the arXiv venue are spelled as the list
spells them. Every new entry is read back with the parser before it is used. A
table section gets a row in the table's own shape (`tracker.survey.table`); a
paper no form can carry is skipped with its reason while the others are added.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from tracker.errors import SurveyError
from tracker.models import Entry, Paper, Section, split_arxiv_id
from tracker.survey.parse import FURNITURE, LIST_ITEM, Survey, parse_survey, split_lines
from tracker.survey import table
from tracker.survey.headings import survey_section
from tracker.survey.fields import Item, add_period, escape, read_item, split_names, strip_period

SEED_TEMPLATE = "1.  **Title.** `arXiv`  \n    *Authors.* [[PDF](https://arxiv.org/abs/0000.00000)], 2000.\n"


@dataclass(frozen=True)
class PatchResult:
    """The patched text; `listed` names the skipped papers the survey already held (not those
    that only repeat a paper added by this same patch)."""

    text: str
    added: tuple[tuple[Paper, str], ...]
    skipped: tuple[tuple[Paper, str], ...]
    listed: tuple[str, ...] = ()


def fold_title(title: str) -> str:
    """Case and punctuation folded, so `BERT: Pre-training...` == `Bert pre training...`."""
    return re.sub(r"[\W_]+", "", title.casefold())


def venue_of(paper: Paper) -> str:
    """`arXiv`, unless the journal reference names a venue (its text before the year/volume)."""
    ref = " ".join((paper.journal_ref or "").split())
    venue = re.split(r",|;|\s\(?(?:19|20)\d{2}\b|\s\d", ref)[0].strip(" .:-") if ref else ""
    return venue.replace("`", "'") or "arXiv"


def _title_text(paper: Paper) -> str:
    return " ".join(paper.title.split())


def _with_period(value: str, old: str) -> str:
    """Escaped `value`, closed with a period when the template's value had one (or it must)."""
    return escape(add_period(value) if old.endswith(".") and not value.endswith(".") else value)


def render_entry(template: str, paper: Paper, number: int | None, style: tuple[str, str, str] = ("PDF", "arXiv", "abs")) -> str:
    """The template entry's raw text with every value swapped for `paper`'s; `style` is the
    list's (link label, arXiv venue spelling, link form), see `house_style`."""
    template = template.lstrip("\ufeff")
    marker = LIST_ITEM.match(template)
    start = marker.end() if marker else 0
    item = read_item(template, start)
    if item.title_span is None:
        raise ValueError("template entry has no title")
    edits: list[tuple[int, int, str]] = []
    if marker and marker.group("num") and number is not None:
        edits.append((*marker.span("num"), str(number)))
    venue = venue_of(paper)
    venue = style[1] if venue == "arXiv" else venue
    if item.prefix_span:
        keep = item.shape == "plain" and item.venue and venue.casefold() != "arxiv"
        edits.append((*item.prefix_span, f"({escape(venue)}) " if keep else ""))
    a, b = item.title_span
    old_title = template[a:b]
    quote = '"' if len(old_title) > 1 and old_title[0] == old_title[-1] == '"' else ""
    edits.append((a, b, quote + _with_period(_title_text(paper), old_title.strip(quote)) + quote))
    if item.authors_span:
        a, b = item.authors_span
        names = ", ".join(" ".join(n.split()) for n in paper.authors)
        edits.append((a, b, _with_period(names, template[a:b])) if names else _drop_field(template, a, b))
    if item.venue_span:
        edits.append((*item.venue_span, venue.replace("`", "'") if item.venue_is_code else escape(venue)))
    edits.extend(_link_edits(template, item, paper, style[0], style[2]))
    year = paper.year
    if item.date_span:
        a, b = item.date_span
        sep = template[a + 4]
        edits.append((a, b, sep.join(paper.published[:10].split("-"))) if year else _drop_field(template, a, b))
    elif item.year_span:
        a, b = item.year_span
        edits.append((a, b, str(year)) if year else _drop_field(template, a, b))
    if item.tail_span:
        edits.append((*item.tail_span, ""))
    edits.extend(_note_edit(template, a, b) for a, b in item.note_spans)
    out = template
    for a, b, text in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:a] + text + out[b:]
    return out


WRAPPERS = {("*", "*"), ("_", "_"), ("(", ")"), ("[", "]")}
SEPARATOR = " \t.,;:-–—|/"


def _drop_field(template: str, a: int, b: int) -> tuple[int, int, str]:
    """Removes an empty field (authors, year, date) with its wrapper (`*..*`, `(..)`) and the separator
    before it, so nothing dangles: `- *B*. 2021.` -> `.`, `], 2020.` -> `].`. A field opening its line
    goes with the blanks after it instead (the whole line when nothing else is on it): the line break
    before it is the entry's own layout."""
    while 0 < a and b < len(template) and (template[a - 1], template[b]) in WRAPPERS:
        a, b = a - 1, b + 1
    before = a
    while before > 0 and template[before - 1] in SEPARATOR:
        before -= 1
    if before > 0 and template[before - 1] not in "\r\n":
        return (before, b, "")
    after = b + len(template[b:]) - len(template[b:].lstrip(" \t"))
    return _note_edit(template, a, after)


def _note_edit(template: str, a: int, b: int) -> tuple[int, int, str]:
    """Removes a description that `item.note_spans` found: its whole line when nothing else is on it."""
    line_start = template.rfind("\n", 0, a) + 1
    line_end = template.find("\n", b)
    line_end = len(template) if line_end < 0 else line_end
    if template[line_start:a].strip() or template[b:line_end].strip():
        return (a, b, "")
    return (line_start, line_end + 1, "")


def _url_in(form: str, paper: Paper) -> str:
    """The paper's arXiv link in a list's form (`house_style`): a list that links PDF files
    (`arxiv.org/pdf/ID.pdf`, thunlp's) gets one; any other the abstract page, which every
    arXiv link form leads to (the seed mixes `abs/ID` and `pdf/ID`)."""
    return f"https://arxiv.org/pdf/{paper.id}.pdf" if form == "pdf.pdf" else paper.abs_url


def _link_edits(template: str, item: Item, paper: Paper, label: str = "PDF", form: str = "abs") -> list[tuple[int, int, str]]:
    if not item.links:
        return []
    url = _url_in(form, paper)
    if item.shape == "link-title":
        first, (a, b), _ = item.links[0]
        url_at = template.index("(", item.title_span[1]) + 1
        edits = [(url_at, b - 1, url)]
        if len(item.links) > 1:
            edits.append((_after_title(template, item), item.links[-1][2][1], ""))
        return edits
    first, span, wrapped = item.links[0]
    label = first.label if re.fullmatch(r"(?i)pdf|paper|arxiv", first.label) else label
    link = f"[{label}]({url})"
    return [(wrapped[0], item.links[-1][2][1], f"[{link}]" if wrapped != span else link)]


def _after_title(template: str, item: Item) -> int:
    """Where the links after a title link start to be dropped: right after the title (and the `**`
    closing `**[Title](url)**`), or, when authors, venue or year stand between, after the blanks
    before the second link, so those fields and their punctuation stay."""
    _, (a, b), _ = item.links[0]
    if template[a - 1 : a] in ("*", "_"):
        b += len(template[b:]) - len(template[b:].lstrip(template[a - 1]))
    cut = item.links[1][2][0]
    fields = (item.authors_span, item.venue_span, item.year_span, item.date_span)
    return len(template[:cut].rstrip()) if any(s and b <= s[0] < cut for s in fields) else b


def expected_fields(paper: Paper) -> tuple[str, tuple[str, ...]]:
    """The title and authors a new entry for `paper` reads back as (the parser drops one closing period)."""
    authors = split_names(", ".join(paper.authors))
    return strip_period(_title_text(paper)).rstrip(), authors


def _reads_back(text: str, paper: Paper, with_authors: bool) -> bool:
    """The new entry parses as exactly one entry with the paper's title, authors (if the style lists them) and id."""
    entries = [e for _, e in parse_survey("## check\n" + text, "check").entries()]
    if len(entries) != 1:
        return False
    title, authors = expected_fields(paper)
    entry = entries[0]
    return entry.title == title and entry.authors == (authors if with_authors else ()) and entry.arxiv_id == paper.id


def _usable(survey: Survey, entry: Entry) -> bool:
    return bool(entry.links) and entry.line not in survey.rows


def _is_table(survey: Survey, section: Section) -> bool:
    return bool(table.table_rows(survey, section.entries))


def _table_row(survey: Survey, section: Section, paper: Paper) -> tuple[int, list[str]] | None:
    """Where a new table row goes (right after the table's last row: no blank line may split
    a table) and the row, or None when the table's shape cannot carry the paper."""
    template = table.row_template(survey, section.entries)
    if template is None:
        return None
    try:
        row = table.render_row(survey.entry_text(template), paper, house_style(survey, section)[0])
    except ValueError:
        return None
    if not table.reads_back(row, paper, expected_fields(paper)[0]):
        return None
    last = table.table_rows(survey, section.entries)[-1]
    return last.end_line, [row]


def style_key(raw: str) -> str:
    """An entry's shape with its values masked (title, authors, venue, year, urls, number):
    what is left is the style, e.g. `- **T**, V Y. [Paper](U)`."""
    raw = raw.lstrip("\ufeff")
    marker = LIST_ITEM.match(raw)
    item = read_item(raw, marker.end() if marker else 0)
    spans: list[tuple[int, int, str]] = []
    if marker and marker.group("num"):
        spans.append((*marker.span("num"), "N"))
    for span, mark in ((item.title_span, "T"), (item.authors_span, "A"), (item.venue_span, "V"), (item.year_span, "Y"),
                       (item.date_span, "D"), (item.prefix_span, "P"), (item.tail_span, ""), *((n, "") for n in item.note_spans)):
        if span is not None:
            spans.append((*span, mark))
    for link, (a, b), _ in item.links:
        url_at = raw.find(link.url, a, b)
        if url_at >= 0:
            spans.append((url_at, url_at + len(link.url), "U"))
    out = raw
    for a, b, mark in sorted(spans, key=lambda t: t[0], reverse=True):
        out = out[:a] + mark + out[b:]
    return " ".join(out.split())


def _template(survey: Survey, section: Section) -> Entry | None:
    """The entry whose style most of the section's entries share (the latest of them); on a
    tie, the style the whole list uses more, then the one more of whose entries link to
    arXiv, as the new entry will."""
    everywhere = [e for _, e in survey.entries() if _usable(survey, e)]
    candidates = [e for e in section.entries if _usable(survey, e)]
    if not candidates and not section.entries:
        candidates = everywhere
    if not candidates:
        return None
    keys = {e.line: style_key(survey.entry_text(e)) for e in everywhere}
    overall = Counter(keys.values())
    groups: dict[str, list[Entry]] = {}
    for e in candidates:
        groups.setdefault(keys[e.line], []).append(e)
    best = max(groups.items(), key=lambda kv: (len(kv[1]), overall[kv[0]], sum(bool(e.arxiv_id) for e in kv[1]), kv[1][-1].line))
    return best[1][-1]


def house_style(survey: Survey, section: Section) -> tuple[str, str, str]:
    """How this list writes an arXiv link's label, the arXiv venue and the link (`Paper`, `Arxiv`,
    `pdf.pdf` for arxiv.org/pdf/ID.pdf, else `abs`): the section's most common choice, else the
    survey's, else `PDF`, `arXiv` and the abstract page."""
    labels: Counter[str] = Counter()
    venues: Counter[str] = Counter()
    forms: Counter[str] = Counter()
    for scope in (section.entries, [e for _, e in survey.entries()]):
        for e in scope:
            arxiv = [link for link in e.links if split_arxiv_id(_arxiv_part(link.url) or "") is not None]
            labels.update(link.label for link in arxiv)
            forms.update(_url_form(link.url) for link in arxiv)
            if e.venue and e.venue.casefold() == "arxiv":
                venues[e.venue] += 1
        if labels and venues:
            break
    label = labels.most_common(1)[0][0] if labels else "PDF"
    return ((label if re.fullmatch(r"[\w .\-]{1,20}", label) else "PDF"), (venues.most_common(1)[0][0] if venues else "arXiv"),
            forms.most_common(1)[0][0] if forms else "abs")


def _url_form(url: str) -> str:
    return "pdf.pdf" if re.search(r"arxiv\.org/pdf/\S+\.pdf/?$", url, re.IGNORECASE) else "abs"


def _arxiv_part(url: str) -> str | None:
    m = re.search(r"arxiv\.org/(?:abs|pdf)/([^?#\s]+?)(?:\.pdf)?/?$", url)
    return m.group(1) if m else None


def _gap(survey: Survey, section: Section) -> list[str]:
    """The blank lines between the section's last two entries (or the survey's most common such gap)."""
    def gap_of(prev: Entry, nxt: Entry) -> tuple[str, ...] | None:
        lines = tuple(line.rstrip("\r\n") for line in survey.lines[_item_end(survey, prev.end_line, nxt.line - 1) : nxt.line - 1])
        return None if any(line.strip() for line in lines) else lines

    entries = section.entries
    own = gap_of(entries[-2], entries[-1]) if len(entries) >= 2 else None
    if own is not None:
        return list(own)
    gaps: Counter[tuple[str, ...]] = Counter()
    for s in survey.sections:
        for prev, nxt in zip(s.entries, s.entries[1:]):
            found = gap_of(prev, nxt)
            if found is not None:
                gaps[found] += 1
    return list(gaps.most_common(1)[0][0]) if gaps else [""]


def _target(section: Section) -> bool:
    """A section a paper can be added to by its survey id: a heading's, or the entries before the
    first heading (`preamble`) when there are some (a list without headings has nothing else)."""
    return section.level > 0 or bool(section.entries)


class _Resolver:
    def __init__(self, survey: Survey, section_headings: Mapping[str, str]) -> None:
        self.survey, self.config = survey, dict(section_headings)

    def __call__(self, paper: Paper) -> Section:
        key = paper.section
        if not key:
            raise SurveyError(f"paper {paper.id}: field 'section' is missing; it names the survey section to add the paper to")
        if key in self.config:
            heading = self.config[key]
            found = survey_section(self.survey, key, heading)
            if found is None:
                raise SurveyError(f"{self.survey.path}: section {key!r} has heading {heading!r} in the config, but the survey has no such heading")
            return found
        found = survey_section(self.survey, key, key) or next((s for s in self.survey.sections if s.id == key and _target(s)), None)
        if found is not None:
            return found
        valid = list(self.config) or [s.id for s in self.survey.sections if _target(s)]
        raise SurveyError(f"{self.survey.path}: unknown section {key!r} for paper {paper.id} (valid sections: {', '.join(valid)})")


def add_papers(survey: Survey, papers: Sequence[Paper], section_headings: Mapping[str, str] = {}) -> PatchResult:
    """Add each paper to its section (after its last entry, or on top of a newest-first one); skip
    ones already listed (same arXiv id or folded title), and ones without a section when others
    have one (`tracker export` writes both kinds)."""
    resolve = _Resolver(survey, section_headings)
    sectioned = [paper for paper in papers if paper.section]
    if papers and not sectioned:
        resolve(papers[0])  # none says where it goes: an input error, not a list of skips
    targets = [(paper, resolve(paper)) for paper in sectioned]
    by_id = {e.arxiv_id: e.line for _, e in survey.entries() if e.arxiv_id}
    by_title = {fold_title(e.title): e.line for _, e in survey.entries()}
    inserts: dict[int, list[str]] = {}
    closes: set[int] = set()
    numbers: dict[int, int] = {}
    shapes: dict[int, tuple[Entry | None, tuple[str, str, str], bool]] = {}
    added: list[tuple[Paper, str]] = []
    skipped: list[tuple[Paper, str]] = [(paper, "no 'section' (in `tracker export`: unclassified or rejected), so not added")
                                        for paper in papers if not paper.section]
    listed: list[str] = []
    for paper, section in targets:
        folded = fold_title(paper.title)
        line, why = (by_id[paper.id], "same arXiv id") if paper.id in by_id else (by_title.get(folded), "same title")
        if line is not None:
            skipped.append((paper, _listed(line, why)))
            listed += [paper.id] if line else []
            continue
        if split_arxiv_id(paper.id) is None:
            raise SurveyError(f"paper {paper.id!r}: field 'id' is not an arXiv id (like 2401.01234 or hep-th/9901001), "
                              "so there is no arXiv link to write for it")
        if _is_table(survey, section):
            row = _table_row(survey, section, paper)
            if row is None:
                skipped.append((paper, f"section {section.heading!r} (line {section.line}) is a table tracker cannot "
                                       "write a row for; add this paper by hand"))
                continue
            at, block = row
            inserts.setdefault(at, []).extend(block)
            by_id[paper.id] = by_title[folded] = 0
            added.append((paper, section.heading))
            continue
        if section.line not in shapes:  # the section's style, read once however many papers it takes
            shapes[section.line] = (_template(survey, section), house_style(survey, section), _newest_first(section))
        template, style, top = shapes[section.line]
        if (section.entries and template is None) or (not section.entries and _unread_items(survey, section)):
            skipped.append((paper, f"section {section.heading!r} (line {section.line}) lists its entries in a form "
                                   "tracker cannot extend; add this paper by hand"))
            continue
        known = [e.number for e in section.entries if e.number is not None]
        number = numbers.get(section.line, max(known, default=0)) + 1
        try:
            text = _entry_text(survey, template, paper, number, style)
        except SurveyError as exc:
            skipped.append((paper, str(exc)))
            continue
        first = section.line not in numbers
        numbers[section.line] = number
        at, block = _placement(survey, section, text, first, top)
        queued = inserts.setdefault(at, [])
        where = 0 if top else len(queued)
        queued[where:where] = block
        if not section.entries and at < len(survey.lines) and survey.lines[at].strip():
            closes.add(at)
        by_id[paper.id] = by_title[folded] = 0
        added.append((paper, section.heading))
    for at in closes:  # the line after (an anchor, the next heading) must not join the new entries
        inserts[at].append("")
    text = _apply(survey, inserts, survey.newline)
    found = {e.arxiv_id: s.heading for s, e in parse_survey(text, survey.path).entries()}
    for paper, heading in added:
        if found.get(paper.id) != heading:
            raise SurveyError(f"{survey.path}: the entry for {paper.id} would not read back under {heading!r} (an unclosed code block or comment?)")
    return PatchResult(text=text, added=tuple(added), skipped=tuple(skipped), listed=tuple(listed))


def _unread_items(survey: Survey, section: Section) -> bool:
    """Whether the section's own lines hold list items the parser could not read as entries: it
    has a list, in a form tracker does not know, so an entry in another form would not fit."""
    end = survey.section_end(section)
    return any(section.line < s.line <= end for s in survey.skipped)


def _listed(line: int, why: str) -> str:
    return f"already listed ({why})" if line == 0 else f"already listed at line {line} ({why})"


def _entry_text(survey: Survey, template: Entry | None, paper: Paper, number: int, style: tuple[str, str, str]) -> str:
    sources = [survey.entry_text(template)] if template else []
    sources.append(SEED_TEMPLATE)
    for source in sources:
        marker = LIST_ITEM.match(source.lstrip("\ufeff"))
        numbered = bool(marker and marker.group("num"))
        try:
            text = render_entry(source, paper, number if numbered else None, style)
        except ValueError:
            continue
        start = marker.end() if marker else 0
        if _reads_back(text, paper, read_item(source.lstrip("\ufeff"), start).authors_span is not None):
            return text
    raise SurveyError(f"paper {paper.id}: cannot write an entry that reads back as the same title and authors")


def _newest_first(section: Section) -> bool:
    """Whether the section's numbers count down (`3.`, `2.`, `1.`: newest first), by most of its
    neighbouring entries; where numbers do not tell (a bullet list), whether its years do
    (2025, 2024, ...). Its new entries then go on top, numbered max+1 as anywhere else: the
    numbers keep counting down the page and no old entry is renumbered (a patch touches only the
    lines it adds), where at the bottom a new entry would need a number below the last one's,
    often 1."""
    for values in ([e.number for e in section.entries if e.number is not None],
                   [e.year for e in section.entries if e.year is not None]):
        pairs = list(zip(values, values[1:]))
        down, up = sum(b < a for a, b in pairs), sum(b > a for a, b in pairs)
        if down != up:
            return down > up
    return False


def _placement(survey: Survey, section: Section, text: str, first: bool, top: bool) -> tuple[int, list[str]]:
    """Where the entry goes (0-based index to insert before) and its lines, with the gap that
    separates it from the entry before it (or, on top of a newest-first section, after it)."""
    entry_lines = [line.rstrip("\r\n") for line in split_lines(text)]
    gap = _gap(survey, section)
    if not LIST_ITEM.match(text) and not any(not line.strip() for line in gap):
        gap.append("")  # a **Title** paragraph needs a blank line, or it joins the one before
    if section.entries and top:
        return section.entries[0].line - 1, entry_lines + gap
    if section.entries:
        return _item_end(survey, section.entries[-1].end_line), gap + entry_lines
    end = survey.section_end(section)
    # page furniture closing the section (`<span id="head3"></span>`) belongs to the heading after it
    while end > section.line and (not survey.lines[end - 1].strip() or FURNITURE.match(survey.lines[end - 1])):
        end -= 1
    anchor = max((i for i in range(section.line, end + 1) if survey.lines[i - 1].strip()), default=section.line)
    if not first:
        return anchor, gap + entry_lines
    return anchor, ([""] if anchor != section.line or _blank_after_headings(survey) else []) + entry_lines


def _item_end(survey: Survey, end: int, stop: int | None = None) -> int:
    """The end of an entry's item: its own lines (to `end`) plus the indented lines after them,
    nested notes or sub-items, which belong to it and must stay with it; scanned up to `stop`
    (the next entry's line), else to the end of the file."""
    last, j = end, end
    while j < (len(survey.lines) if stop is None else stop):
        line = survey.lines[j]
        if line.strip() and line[:1] in " \t":
            last = j + 1
        elif line.strip():
            break
        j += 1
    return last


def _blank_after_headings(survey: Survey) -> bool:
    """Whether this list mostly leaves a blank line between a heading and its first entry."""
    votes = Counter(not survey.lines[s.line].strip() for s in survey.sections if s.entries and s.line < len(survey.lines))
    return votes[True] > votes[False]


def _apply(survey: Survey, inserts: dict[int, list[str]], nl: str) -> str:
    lines = list(survey.lines)
    for at in sorted(inserts, reverse=True):
        block = [line + nl for line in inserts[at]]
        if at == len(lines) and lines and not lines[-1].endswith("\n"):
            lines[-1] += nl
            block[-1] = block[-1][: -len(nl)]
        lines[at:at] = block
    return "".join(lines)


def unified_diff(old: str, new: str, path: str) -> str:
    """A git-style unified diff (a/ and b/ prefixes) that `git apply` and `patch -p1` accept."""
    path = path.lstrip("/")
    out: list[str] = []
    for line in difflib.unified_diff(split_lines(old), split_lines(new), f"a/{path}", f"b/{path}", n=3):
        if line.startswith(("---", "+++", "@@")):
            out.append(line if line.endswith("\n") else line + "\n")
        elif line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)
