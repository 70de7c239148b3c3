"""Issue 13 point 7: a new entry copies the style most entries of its section share (link
label, venue, year, separators), not the last entry's; a table section skips that one
paper while the others are added."""

from __future__ import annotations

import pytest

from conftest import SURVEYS

from tracker.models import Paper
from tracker.survey.parse import load_survey, parse_survey
from tracker.survey.patch import add_papers, style_key, unified_diff

GUIDE = SURVEYS / "Mooler0410-LLMsPracticalGuide__README.md"


def paper(n: int, section: str, title: str | None = None) -> Paper:
    return Paper(id=f"2501.{n:05d}", title=title or f"A New Paper Number {n}", authors=("Ann Author", "Bob Writer"),
                 published="2025-01-02", section=section)


def added_lines(old: str, new: str) -> list[str]:
    diff = unified_diff(old, new, "README.md")
    return [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]


def test_style_key_masks_values_and_keeps_the_shape():
    a = style_key("- **The Pile: An 800GB Dataset**, Arxiv 2020. [Paper](https://arxiv.org/abs/2101.00027)\n")
    b = style_key("- **Data-centric AI: A survey**, Arxiv 2023. [Paper](https://arxiv.org/abs/2303.10158)\n")
    c = style_key("- **RedPajama**, 2023. [Repo](https://github.com/togethercomputer/RedPajama-Data)\n")
    assert a == b and a != c and "[Paper]" in a and "Pile" not in a and "2101" not in a


def test_llms_practical_guide_entries_follow_the_sections_majority():
    survey = load_survey(GUIDE)
    sections = {
        "Pretraining data": 1,  # last entry is a [Blog] link with no venue: the old writer copied it ([PDF])
        "GPT-style Language Models: Decoder-only": 2,  # only PaLM lists authors; most entries do not
        "Traditional NLU tasks": 3,
        "Abilities with Scaling": 4,
    }
    papers = [paper(n, heading) for heading, n in sections.items()]
    result = add_papers(survey, papers)
    assert [p.id for p, _ in result.added] == [p.id for p in papers] and result.skipped == ()
    lines = {line.split("Number ")[1][:1]: line for line in added_lines(survey.render(), result.text)}
    assert lines["1"] == "- **A New Paper Number 1**, Arxiv 2025. [Paper](https://arxiv.org/abs/2501.00001)"
    assert "*Ann Author" not in lines["2"] and lines["2"].endswith(". 2025. [Paper](https://arxiv.org/abs/2501.00002)")
    assert lines["3"] == "- **A New Paper Number 3** Arxiv 2025 [Paper](https://arxiv.org/abs/2501.00003)"
    assert lines["4"] == "- **A New Paper Number 4**, Arxiv 2025 [Paper](https://arxiv.org/abs/2501.00004)"
    assert not any("[PDF]" in line for line in lines.values())
    reparsed = {e.arxiv_id: s.heading for s, e in parse_survey(result.text, "x").entries() if e.arxiv_id}
    assert all(reparsed[p.id] == p.section for p in papers)


TABLE_SURVEY = """# List

## Tables

| Title | Paper |
|---|---|
| Old one | [Paper](https://arxiv.org/abs/2001.00001) |
| Old two | [Paper](https://arxiv.org/abs/2001.00002) |

## Lists

- **Old three**, Arxiv 2020. [Paper](https://arxiv.org/abs/2001.00003)
"""


def test_a_table_section_gets_a_row_and_an_unwritable_paper_is_skipped_alone(run_cli, tmp_path):
    survey = parse_survey(TABLE_SURVEY, "list.md")
    assert [len(s.entries) for s in survey.sections] == [0, 2, 1]  # the table's rows are entries
    short = paper(3, "Tables", title="T5")  # a title cell needs 3 letters to be told from the others: cannot read back
    result = add_papers(survey, [paper(1, "Tables"), paper(2, "Lists"), short])
    assert [p.id for p, _ in result.added] == ["2501.00001", "2501.00002"]
    [(skipped, reason)] = result.skipped
    assert skipped.id == "2501.00003" and "table" in reason and "Tables" in reason
    assert added_lines(TABLE_SURVEY, result.text) == [
        "| A New Paper Number 1 | [Paper](https://arxiv.org/abs/2501.00001) |",
        "- **A New Paper Number 2**, Arxiv 2025. [Paper](https://arxiv.org/abs/2501.00002)",
    ]
    lines = result.text.splitlines()
    at = lines.index("| A New Paper Number 1 | [Paper](https://arxiv.org/abs/2501.00001) |")
    assert lines[at - 1].startswith("| Old two")  # inside the table, no blank line before it
    reparsed = {e.arxiv_id: s.heading for s, e in parse_survey(result.text, "x").entries()}
    assert reparsed["2501.00001"] == "Tables" and reparsed["2501.00002"] == "Lists"
    survey_file = tmp_path / "list.md"
    survey_file.write_text(TABLE_SURVEY, encoding="utf-8")
    papers = tmp_path / "p.jsonl"
    papers.write_text("".join(p_json(p) for p in (paper(1, "Tables"), paper(2, "Lists"), short)), encoding="utf-8")
    code, out, err = run_cli("patch", str(survey_file), "--input", str(papers))
    assert code == 0 and "+| A New Paper Number 1 |" in out and "+- **A New Paper Number 2**" in out
    assert "skipped 2501.00003" in err and "table" in err


def test_a_title_with_a_pipe_is_escaped_in_a_table_row_and_reads_back():
    piped = paper(4, "Tables", title="Pipes | in a title")
    result = add_papers(parse_survey(TABLE_SURVEY, "list.md"), [piped])
    assert added_lines(TABLE_SURVEY, result.text) == ["| Pipes \\| in a title | [Paper](https://arxiv.org/abs/2501.00004) |"]
    (entry,) = [e for _, e in parse_survey(result.text, "x").entries() if e.arxiv_id == "2501.00004"]
    assert entry.title == "Pipes | in a title"


@pytest.mark.parametrize("title", ["Omega *Star* Model", "Omega [Br] Model", "Omega `tick` Model",
                                   "Omega_under_score Model", "Omega <b> Model"])
def test_a_title_with_markdown_specials_gets_a_table_row_that_reads_back(title):
    """Cells kept the escapes (`Omega \\Star\\ Model`), so every such row failed its read-back and was skipped."""
    bold = "## Models\n\n| Title | Year | Paper |\n|---|---|---|\n| **Alpha Model** | 2024 | [arXiv](https://arxiv.org/abs/2401.11111) |\n"
    result = add_papers(parse_survey(bold, "list.md"), [paper(5, "Models", title=title)])
    assert [p.id for p, _ in result.added] == ["2501.00005"] and not result.skipped
    (entry,) = [e for _, e in parse_survey(result.text, "x").entries() if e.arxiv_id == "2501.00005"]
    assert entry.title == title
    again = add_papers(parse_survey(result.text, "list.md"), [paper(6, "Models", title=title)])
    assert not again.added and "same title" in again.skipped[0][1]


@pytest.mark.parametrize("url, written", [
    ("https://arxiv.org/pdf/1511.01432.pdf", "https://arxiv.org/pdf/2501.00007.pdf"),
    ("https://arxiv.org/pdf/1511.01432", "https://arxiv.org/abs/2501.00007"),
    ("https://arxiv.org/abs/1511.01432", "https://arxiv.org/abs/2501.00007"),
])
def test_a_list_that_links_pdf_files_gets_a_pdf_file_link(url, written):
    """thunlp's list links PDF files; new entries linked the abstract page whatever the list wrote."""
    text = f"## Papers\n\n1. **Semi-supervised Sequence Learning**. *Andrew M. Dai, Quoc V. Le*. NIPS 2015. [[pdf]({url})]\n"
    result = add_papers(parse_survey(text, "list.md"), [paper(7, "Papers")])
    (line,) = [l for l in added_lines(text, result.text) if l.strip()]
    assert line.endswith(f"[[pdf]({written})]"), line
    (entry,) = [e for _, e in parse_survey(result.text, "x").entries() if e.title == "A New Paper Number 7"]
    assert entry.arxiv_id == "2501.00007"


def test_table_row_keeps_the_tables_cells_and_leaves_unknown_ones_empty():
    from tracker.survey.table import render_row

    row = render_row("| **Old Title** | 2021 | [Code](https://github.com/x/y) | [arXiv](https://arxiv.org/abs/2101.00001) |\n",
                     paper(7, "T"))
    assert row == "| **A New Paper Number 7** | 2025 | | [arXiv](https://arxiv.org/abs/2501.00007) |"
    linked = render_row("|[Old Title](https://arxiv.org/abs/2101.00001)| ⭐ 120 |", paper(8, "T"))
    assert linked == "| [A New Paper Number 8](https://arxiv.org/abs/2501.00008) | |"


def p_json(p: Paper) -> str:
    import json

    return json.dumps(p.to_json()) + "\n"


BARE_TABLE = """## Tables

Title | Year | Paper
---|---|---
Old one | 2020 | [Paper](https://arxiv.org/abs/2001.00001)
Old two | 2021 | [Paper](https://arxiv.org/abs/2001.00002)

After the table.
"""


def test_a_table_without_outer_pipes_gets_a_row_without_them():
    result = add_papers(parse_survey(BARE_TABLE, "list.md"), [paper(1, "Tables")])
    assert result.skipped == ()
    assert added_lines(BARE_TABLE, result.text) == ["A New Paper Number 1 | 2025 | [Paper](https://arxiv.org/abs/2501.00001)"]
    lines = result.text.splitlines()
    assert lines[lines.index(added_lines(BARE_TABLE, result.text)[0]) - 1].startswith("Old two")
    (entry,) = [e for _, e in parse_survey(result.text, "x").entries() if e.arxiv_id == "2501.00001"]
    assert entry.title == "A New Paper Number 1"


def test_a_row_without_outer_pipes_keeps_its_cells_and_never_leaves_an_edge_cell_empty():
    """An empty first cell (a number column is left empty) would read as the row's outer pipe
    (`| x | y`) and shift the cells."""
    from tracker.survey.table import render_row

    row = render_row("Old Title | [Code](https://github.com/x/y) | [arXiv](https://arxiv.org/abs/2101.00001)\n", paper(9, "T"))
    assert row == "A New Paper Number 9 | | [arXiv](https://arxiv.org/abs/2501.00009)"
    with pytest.raises(ValueError, match="edge"):
        render_row("12 | Old Title | [arXiv](https://arxiv.org/abs/2101.00001)", paper(9, "T"))
