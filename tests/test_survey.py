"""The survey parser on the seed survey and the real lists in tests/fixtures/surveys."""

from __future__ import annotations

import json

import pytest

from conftest import SEED, SURVEYS
from tracker.errors import SurveyError
from tracker.survey.parse import load_survey, parse_survey, slugify
from tracker.models import Paper
from tracker.survey.patch import add_papers

ALL_SURVEYS = sorted(SURVEYS.glob("*.md")) + [SEED]


@pytest.fixture(scope="module")
def seed():
    return load_survey(SEED)


def test_seed_sections_and_counts(seed):
    with_entries = [s for s in seed.sections if s.entries]
    assert [len(s.entries) for s in with_entries] == [3, 1, 5, 6, 21, 5]
    assert sum(len(s.entries) for s in seed.sections) == 41
    assert seed.sections[0].level == 1 and seed.sections[0].heading == "大语言模型"
    assert [s.level for s in with_entries] == [2] * 6
    assert seed.skipped == ()


def test_seed_section_ids_are_readable_and_unique(seed):
    ids = [s.id for s in seed.sections]
    assert len(set(ids)) == len(ids)
    by_heading = {s.heading: s.id for s in seed.sections}
    assert by_heading["基于 Encoder-only 架构的大语言模型"] == "encoder-only"
    assert by_heading["大数据+大模型→新智能"] == "section-2"
    assert by_heading["非 Transformer 架构"] == "non-transformer"
    assert all(i.isascii() for i in ids)


def test_heading_decoration_is_stripped(seed):
    assert all("<img" not in s.heading for s in seed.sections)
    assert seed.sections[1].heading == "大数据+大模型→新智能"


def test_seed_first_entry_fields(seed):
    _, entry = next(seed.entries())
    assert entry.number == 1
    assert entry.title == "Scaling laws for neural language models"
    assert entry.authors[0] == "Jared Kaplan" and entry.authors[-1] == "Dario Amodei"
    assert len(entry.authors) == 10
    assert entry.venue == "arXiv"
    assert entry.year == 2020
    assert [(l.label, l.url) for l in entry.links] == [("PDF", "https://arxiv.org/pdf/2001.08361")]
    assert entry.arxiv_id == "2001.08361"
    assert entry.line == 13 and entry.end_line == 14


def test_seed_numbers_may_skip_and_titles_keep_inner_escapes(seed):
    section = next(s for s in seed.sections if s.id == "encoder-only")
    assert [e.number for e in section.entries] == [1, 2, 4, 5, 6]
    decoder = next(s for s in seed.sections if s.id == "decoder-only")
    vicuna = next(e for e in decoder.entries if e.title.startswith("Vicuna"))
    assert vicuna.title == "Vicuna: An Open-Source Chatbot Impressing GPT-4 with 90%* ChatGPT Quality"
    assert [e.number for e in decoder.entries] == list(range(1, 22))


def test_seed_every_entry_has_title_year_and_links(seed):
    for _, entry in seed.entries():
        assert entry.title and not entry.title.endswith(".")
        assert entry.year and 2015 <= entry.year <= 2025
        assert entry.links and entry.authors
    ids = [e.arxiv_id for _, e in seed.entries() if e.arxiv_id]
    assert "1907.11692" in ids and "2312.00752" in ids  # abs/ links
    assert len(ids) == 25 and len(set(ids)) == len(ids)  # 25 arXiv links, no paper listed twice


def test_latex_escapes_in_authors_kept_as_written():
    survey = load_survey(SURVEYS / "ZJU-Foundations-of-LLMs__ch1_language_model_basics.md")
    first = next(e for _, e in survey.entries())
    assert first.authors == ("Chris Manning", 'Hinrich Sch{\\"{u}}tze')
    assert first.venue == "BOOK" and first.year == 1999


def test_zju_chapters_parse_fully():
    ch1 = load_survey(SURVEYS / "ZJU-Foundations-of-LLMs__ch1_language_model_basics.md")
    ch3 = load_survey(SURVEYS / "ZJU-Foundations-of-LLMs__ch3_prompt_engineering.md")
    assert [len(s.entries) for s in ch1.sections if s.entries] == [2, 5, 4, 2, 7]
    assert [len(s.entries) for s in ch3.sections if s.entries] == [10, 18, 6, 4, 7]
    for survey in (ch1, ch3):
        assert survey.skipped == ()
        for _, entry in survey.entries():
            assert entry.title and entry.authors and entry.venue and entry.links and entry.year
    # ch3 puts a blank line between the title line and the authors line
    lingua = next(e for _, e in ch3.entries() if e.title.startswith("LLMLingua"))
    assert lingua.authors[0] == "Huiqiang Jiang" and lingua.end_line == lingua.line + 2
    assert lingua.arxiv_id == "2310.05736"
    # unindented authors line right after the title (lazy continuation)
    t5 = next(e for _, e in ch1.entries() if e.title.startswith("Exploring the Limits"))
    assert t5.authors[0] == "Colin Raffel" and t5.year == 2019


@pytest.mark.parametrize("path", ALL_SURVEYS, ids=lambda p: p.name)
def test_every_fixture_parses_and_round_trips(path):
    data = path.read_bytes()
    survey = load_survey(path)
    assert survey.render().encode("utf-8") == data
    assert sum(1 for _ in survey.entries()) > 0
    ids = [s.id for s in survey.sections]
    assert len(ids) == len(set(ids))
    json.dumps(survey.to_json(), ensure_ascii=False)
    lines = data.decode("utf-8").split("\n")
    for section, entry in survey.entries():
        assert section.line < entry.line <= entry.end_line
        assert entry.title
    for skipped in survey.skipped:
        assert lines[skipped.line - 1].strip() == skipped.text


def test_bullet_bold_shape():
    survey = load_survey(SURVEYS / "Mooler0410-LLMsPracticalGuide__README.md")
    entries = {e.title: e for _, e in survey.entries()}
    t5 = entries["Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer"]
    assert t5.authors == ("Colin Raffel et al.",) and t5.year == 2019 and t5.arxiv_id == "1910.10683"
    assert entries["RoBERTa: A Robustly Optimized BERT Pretraining Approach"].year == 2019
    assert entries["The Pile: An 800GB Dataset of Diverse Text for Language Modeling"].venue == "Arxiv"
    # "Latest News" bullets and "1. Cost" labels are reported, not read as entries
    skipped = {s.line for s in survey.skipped}
    assert {30, 31, 191} <= skipped
    # the "Catalog" table of contents is neither entries nor skipped
    catalog = next(s for s in survey.sections if s.heading == "Catalog")
    assert catalog.entries == () and not skipped & set(range(47, 71))


def test_mamba_bullets_with_dates_and_leading_venue():
    survey = load_survey(SURVEYS / "XiudingCai-Awesome-Mamba-Collection__README.md")
    entries = [e for _, e in survey.entries()]
    mamba = entries[0]
    assert mamba.title == "Mamba: Linear-Time Sequence Modeling with Selective State Spaces"
    assert mamba.year == 2023 and mamba.arxiv_id == "2312.00752"
    assert [l.label for l in mamba.links] == ["paper", "code"]
    icml = next(e for e in entries if e.title.startswith("Transformers are SSMs"))
    assert icml.venue == "ICML" and icml.year == 2024
    # an entry whose link sits on an indented line after a blank line
    ptm = next(e for e in entries if e.title.startswith("A PTM-Aware Protein Language Model"))
    assert ptm.end_line == ptm.line + 2 and ptm.links[0].label == "Paper"
    assert len(entries) > 600
    assert any(s.text.startswith("1. **Fork the Repo:**") for s in survey.skipped)


def test_thunlp_shape():
    survey = load_survey(SURVEYS / "thunlp-PLMpapers__README.md")
    entries = {e.title: e for _, e in survey.entries()}
    bert = entries["BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"]
    assert bert.number == 7 and bert.venue == "NAACL" and bert.year == 2019
    assert bert.authors == ("Jacob Devlin", "Ming-Wei Chang", "Kenton Lee", "Kristina Toutanova")
    assert bert.arxiv_id == "1810.04805"  # pdf/ link with a .pdf suffix
    survey_entry = entries["Pre-Trained Models: Past, Present and Future"]  # a **Title** paragraph
    assert survey_entry.number is None and survey_entry.authors[0] == "Xu Han"
    ernie2 = entries["ERNIE 2.0: A Continual Pre-training Framework for Language Understanding"]
    assert ernie2.arxiv_id == "1907.12412"  # pdf/ID v1.pdf


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://arxiv.org/abs/2001.08361", "2001.08361"),
        ("https://arxiv.org/pdf/2001.08361v3", "2001.08361"),
        ("https://arxiv.org/pdf/2001.08361v3.pdf", "2001.08361"),
        ("http://arxiv.org/abs/2112.11446v2", "2112.11446"),
        ("https://arxiv.org/abs/hep-th/9901001", "hep-th/9901001"),
        ("https://arxiv.org/pdf/hep-th/9901001v2.pdf", "hep-th/9901001"),
        ("https://arxiv.org/abs/math.GT/0309136", "math.GT/0309136"),
        ("https://aclanthology.org/N19-1423.pdf", None),
        ("https://arxiv.org/html/2401.00001v2", "2401.00001"),
        ("https://huggingface.co/papers/2401.00002", "2401.00002"),
        ("https://doi.org/10.48550/arXiv.2401.00005", "2401.00005"),
        ("https://github.com/org/repo-2401.00006", None),
    ],
)
def test_arxiv_ids_from_links(url, expected):
    text = f"## S\n1. **T.** `arXiv`  \n   *A B.* [[PDF]({url})], 2020.\n"
    entry = next(e for _, e in parse_survey(text, "x.md").entries())
    assert entry.arxiv_id == expected


def test_other_shapes_and_skips():
    text = (
        "# Title\n\n"
        "## Links\n"
        "- [A Paper About Things](https://example.org/a)\n"
        "- [Other](#other)\n"
        "- just a note without links\n"
        "| Title | Link |\n|---|---|\n| Table Paper Title | [paper](https://arxiv.org/abs/2401.00001) |\n"
        "| No link row here | none |\n"
        "```\n- [In Code](https://example.org/c)\n## not a heading\n```\n"
        "<!--\n- [In Comment](https://example.org/c)\n-->\n"
    )
    survey = parse_survey(text, "t.md")
    assert [s.heading for s in survey.sections] == ["Title", "Links"]
    titles = [e.title for _, e in survey.entries()]
    assert titles == ["A Paper About Things", "Table Paper Title"]
    table_entry = list(survey.entries())[1][1]
    assert table_entry.arxiv_id == "2401.00001"
    assert [s.line for s in survey.skipped] == [6, 10]


def test_entries_before_any_heading_get_a_preamble_section():
    survey = parse_survey("1. **T.** `arXiv`\n   *A.* [[PDF](https://arxiv.org/abs/2401.00001)], 2024.\n", "p.md")
    assert [(s.id, s.level, len(s.entries)) for s in survey.sections] == [("preamble", 0, 1)]


def test_duplicate_and_cjk_slugs():
    survey = parse_survey("# 综述\n## Prompt 技巧\n## Prompt 工程\n## 相关应用\n", "s.md")
    assert [s.id for s in survey.sections] == ["section-1", "prompt", "prompt-2", "section-4"]
    assert slugify("BERT-style Language Models: Encoder-Decoder or Encoder-only", 1).startswith("bert-style-language-models")


def test_bom_crlf_tabs_and_no_final_newline():
    text = "\ufeff# T\r\n## Sec\r\n1.\t**Paper One.** `ICML`\r\n\t*A, B and C.* [[PDF](https://arxiv.org/abs/2401.00001)], 2024."
    survey = parse_survey(text, "b.md")
    assert survey.render() == text
    entry = next(e for _, e in survey.entries())
    assert (entry.title, entry.authors, entry.venue, entry.year) == ("Paper One", ("A", "B", "C"), "ICML", 2024)
    assert survey.newline == "\r\n"
    assert survey.sections[0].heading == "T"


def test_bad_files(tmp_path):
    with pytest.raises(SurveyError, match="not found") as exc:
        load_survey(tmp_path / "missing.md")
    assert "missing.md" in str(exc.value)
    with pytest.raises(SurveyError, match="is a directory"):
        load_survey(tmp_path)
    bad = tmp_path / "bad.md"
    bad.write_bytes("# ok\n".encode() + b"\xff\xfe broken")
    with pytest.raises(SurveyError, match=r"bad\.md: not valid UTF-8 \(byte offset 5\)"):
        load_survey(bad)


def test_survey_command_json_and_text(run_cli):
    code, out, err = run_cli("survey", str(SEED), "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["path"] == str(SEED) and data["skipped"] == []
    counts = [len(s["entries"]) for s in data["sections"] if s["entries"]]
    assert counts == [3, 1, 5, 6, 21, 5]
    first = data["sections"][1]["entries"][0]
    assert set(first) == {"number", "title", "authors", "venue", "year", "links", "arxiv_id", "line"}
    assert first["links"] == [{"label": "PDF", "url": "https://arxiv.org/pdf/2001.08361"}]
    code, out, err = run_cli("survey", str(SEED))
    assert code == 0
    assert "7 sections, 41 entries, 0 skipped" in out
    assert "[encoder-only]" in out and "5 entries" in out and "2001.08361" in out


@pytest.mark.parametrize("case", ["missing", "directory", "bad-utf8"])
def test_survey_command_bad_input(run_cli, tmp_path, case):
    path = {"missing": tmp_path / "nope.md", "directory": tmp_path, "bad-utf8": tmp_path / "bad.md"}[case]
    if case == "bad-utf8":
        path.write_bytes(b"# T\n\xc3\x28\n")
    for args in (("survey", str(path)), ("survey", str(path), "--json")):
        code, out, err = run_cli(*args)
        assert code == 1 and out == ""
        assert err.startswith("error: ") and str(path) in err and err.count("\n") == 1


def test_page_furniture_right_under_an_entry_is_not_part_of_it():
    """`</details>` or a lone `**[back to top](#contents)**` after the last item would otherwise
    read as its venue, and a patch would insert after it, outside the block."""
    text = ("## Papers\n\n<details><summary>2023</summary>\n\n- [Paper Title One](https://arxiv.org/abs/2001.00003)\n"
            "- [Paper Title Two](https://arxiv.org/abs/2001.00004)\n</details>\n\n## B\n\n"
            "- [Other Paper Title](https://arxiv.org/abs/2001.00005)\n**[back to top](#contents)**\n")
    entries = [e for _, e in parse_survey(text, "x.md").entries()]
    assert [(e.title, e.venue, e.line, e.end_line) for e in entries] == [
        ("Paper Title One", None, 5, 5), ("Paper Title Two", None, 6, 6), ("Other Paper Title", None, 11, 11)]


@pytest.mark.parametrize(
    "line, authors, venue",
    [
        ("* **Scaling Laws for Neural Language Models** - Jared Kaplan, Sam McCandlish [paper](https://arxiv.org/abs/2001.08361)",
         ["Jared Kaplan", "Sam McCandlish"], None),
        ("- **Attention Is All You Need**. Ashish Vaswani, Noam Shazeer. NeurIPS 2017. [[paper](https://arxiv.org/abs/1706.03762)]",
         ["Ashish Vaswani", "Noam Shazeer"], "NeurIPS"),
        ("- **A Model**. J. Kaplan and S. McCandlish. [[paper](https://arxiv.org/abs/2001.08362)]", ["J. Kaplan", "S. McCandlish"], None),
        ("- **A Model**. Neural Information Processing Systems 2017. [[paper](https://arxiv.org/abs/2001.08363)]",
         [], "Neural Information Processing Systems"),
    ],
)
def test_authors_written_without_italics_are_read_as_authors_not_as_the_venue(line, authors, venue):
    (entry,) = [e for _, e in parse_survey(f"## S\n\n{line}\n", "x.md").entries()]
    assert (list(entry.authors), entry.venue) == (authors, venue)


def test_setext_headings_are_sections_and_a_patch_goes_below_their_underline():
    text = ("My List\n=======\n\nSetext Section\n--------------\n\n"
            "1. **A study.** *Ann Lee.* [[PDF](https://arxiv.org/abs/2001.00001)], 2020.\n\nEmpty One\n---------\n\n"
            "Two lines of\nparagraph text\n---\n")
    survey = parse_survey(text, "x.md")
    assert [(s.heading, s.level, len(s.entries)) for s in survey.sections] == [
        ("My List", 1, 0), ("Setext Section", 2, 1), ("Empty One", 2, 0)]
    new = Paper(id="2501.00008", title="New Two", authors=("Alice Smith",), published="2025-01-01", section="Empty One")
    result = add_papers(survey, [new])
    lines = result.text.splitlines()
    assert lines[lines.index("Empty One") + 1] == "---------" and "2501.00008" in lines[-1]
    again = parse_survey(result.text, "x.md")
    assert [e.arxiv_id for e in again.sections[-1].entries] == ["2501.00008"] and again.sections[-1].heading == "Empty One"


def test_an_arxiv_id_written_out_in_the_entry_counts_when_no_link_gives_one():
    text = ("## S\n\n- **A Paper Title**. Ann Lee, Bob Ray. arXiv:2401.00004v2. [[code](https://github.com/x/y)]\n"
            "- **Another Paper Title**. Ann Lee, Bob Ray. [[paper](https://arxiv.org/abs/2401.00005)] (see arXiv:2401.00009)\n")
    assert [e.arxiv_id for _, e in parse_survey(text, "x.md").entries()] == ["2401.00004", "2401.00005"]


def test_a_table_without_outer_pipes_is_read_like_a_piped_one():
    """GFM lets a table drop its outer pipes (`Title | Link` over `---|---`); only a header and a
    delimiter row make the lines a table, so a lone `a | b` line in a list stays what it was."""
    rows = ["Title | Venue | Link", "---|:---:|---", "Old paper one | ICML 2020 | [Paper](https://arxiv.org/abs/2001.00001)",
            "**Old paper two** | NeurIPS 2021 | [Paper](https://arxiv.org/abs/2001.00002)", "A row without any link | ACL | none"]
    tail = "\nText with a | pipe [link](https://example.org/x)\n"
    bare = parse_survey("## Tables\n\n" + "\n".join(rows) + "\n" + tail, "bare.md")
    piped = parse_survey("## Tables\n\n" + "\n".join(f"| {r} |" for r in rows) + "\n" + tail, "piped.md")
    assert [e.title for _, e in bare.entries()] == ["Old paper one", "Old paper two"]
    assert [e.to_json() for _, e in bare.entries()] == [e.to_json() for _, e in piped.entries()]
    assert [s.line for s in bare.skipped] == [s.line for s in piped.skipped] == [7]


@pytest.mark.parametrize(
    "item, venue",
    [
        ("1. **Title One.** *Ann Lee.* [[PDF](https://arxiv.org/abs/2001.00001)], 2020.\n   A short summary of the paper.\n", None),
        ("1. **Title One**\n   A short summary of the paper. [[PDF](https://arxiv.org/abs/2001.00001)]\n", None),
        ("1. **Title One**. *Ann Lee*.  \n   A short summary of the paper.  \n   [[pdf](https://arxiv.org/abs/2001.00001)]\n", None),
        ("- [Title One](https://arxiv.org/abs/2001.00001)\n  A short summary of the paper.\n", None),
        ("1. **Title One**  \n   *Ann Lee*  \n   NeurIPS 2020 [[paper](https://arxiv.org/abs/2001.00001)]\n", "NeurIPS"),
        ("1. **Title One**  \n   IEEE Transactions on Geoscience and Remote Sensing, 2020  \n"
         "   [[paper](https://arxiv.org/abs/2001.00001)]\n", "IEEE Transactions on Geoscience and Remote Sensing"),
        ("1. **Title One**. *Ann Lee*. The 18th BioNLP workshop 2020. [[pdf](https://arxiv.org/abs/2001.00001)]\n",
         "The 18th BioNLP workshop"),
    ],
)
def test_a_description_line_under_an_entry_is_not_its_venue(item, venue):
    """On a line of its own under the entry, only a name written as venues are (`NeurIPS 2020`, capitalised
    words) is the venue; a sentence there is a description. On the title's line a venue is read as before."""
    (entry,) = [e for _, e in parse_survey(f"## S\n\n{item}", "x.md").entries()]
    assert (entry.title, entry.venue, entry.arxiv_id) == ("Title One", venue, "2001.00001")


def test_a_year_column_before_the_links_is_the_entrys_year():
    """`| 2023 | **Title** | [arXiv](...) |`: the year was read only after the title, so a Year
    column first gave every entry year None. A Year column wins over a year in the title."""
    text = ("# L\n\n## S\n\n| Year | Title | Paper |\n|---|---|---|\n"
            "| 2023 | **Mamba Things** | [arXiv](https://arxiv.org/abs/2312.00752) |\n"
            "| 2024 | Other Work Here, 2022 revision | [arXiv](https://arxiv.org/abs/2401.00001) |\n")
    entries = [e for _, e in parse_survey(text, "t.md").entries()]
    assert [(e.title, e.year) for e in entries] == [("Mamba Things", 2023), ("Other Work Here, 2022 revision", 2024)]


@pytest.mark.parametrize(
    "line, title, arxiv_id",
    [
        ("- **[Attention Is All You Need](https://papers.nips.cc/paper/7181)**. *Vaswani et al.* NeurIPS 2017.",
         "Attention Is All You Need", None),
        ("- [**Bold Inside Link One**](https://arxiv.org/abs/2103.00001) - *B*. 2021.", "Bold Inside Link One", "2103.00001"),
        ("- **[Title Two Here](https://arxiv.org/abs/2103.00002)**. *Ann Lee*. ICML 2021. [[code](https://github.com/x/y)]",
         "Title Two Here", "2103.00002"),
    ],
)
def test_a_title_wrapped_in_a_link_is_read_as_its_text_and_the_link_as_the_entrys(line, title, arxiv_id):
    """`**[T](url)**` was read as a bold title `[T](url)`, `[**T**](url)` as the title `**T**`."""
    (entry,) = [e for _, e in parse_survey(f"## S\n\n{line}\n", "x.md").entries()]
    assert (entry.title, entry.arxiv_id, entry.links[0].url.startswith("https://")) == (title, arxiv_id, True)


def test_an_item_nested_under_an_entry_without_an_arxiv_link_is_its_note():
    """`- Code: [repo](...)` under an entry became a listed work named "Code", which init and the
    link matcher then used; a nested paper with an arXiv link stays an entry of its own."""
    text = ("## Nested\n\n1. **Parent One**. *A*. 2020. [pdf](https://arxiv.org/abs/2001.00011)\n"
            "2. **Parent Two**. *B*. 2021. [pdf](https://arxiv.org/abs/2101.00022)\n"
            "   - Code: [repo](https://github.com/x/y)\n"
            "   - **Follow Up Paper**. *C*. 2022. [pdf](https://arxiv.org/abs/2201.00033)\n"
            "3. **Parent Three**. *C*. 2022. [pdf](https://arxiv.org/abs/2201.00044)\n\n"
            "- Topic without link\n  - [Nested Paper Title Here](https://aclanthology.org/x)\n")
    survey = parse_survey(text, "list.md")
    assert [(e.title, e.line) for e in survey.sections[0].entries] == [
        ("Parent One", 3), ("Parent Two", 4), ("Follow Up Paper", 6), ("Parent Three", 7), ("Nested Paper Title Here", 10)]
    assert [s.line for s in survey.skipped] == [9]


def test_a_name_suffix_stays_with_its_name():
    """ZJU's lists write `*Ann O'Brien, Jr., Jane Doe.*`: `Jr.` was read as an author of its own,
    so an entry written for such a paper did not read back as its authors."""
    text = "## S\n\n1.  **Some Title.** `arXiv`  \n    *Ann O'Brien, Jr., Jane Doe and Bob Ray III.* [[PDF](https://arxiv.org/abs/2001.00001)], 2020.\n"
    (entry,) = parse_survey(text, "list.md").sections[0].entries
    assert entry.authors == ("Ann O'Brien, Jr.", "Jane Doe", "Bob Ray III")
    new = Paper(id="2501.00002", title="Another Title", authors=("Cy O'Brien, Jr.", "Dee Lee"), published="2025-01-01", section="s")
    result = add_papers(parse_survey(text, "list.md"), [new])
    added = [e for _, e in parse_survey(result.text, "list.md").entries() if e.arxiv_id == "2501.00002"]
    assert [e.authors for e in added] == [("Cy O'Brien, Jr.", "Dee Lee")]
