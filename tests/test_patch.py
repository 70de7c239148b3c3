"""The patch writer: new entries in each section's own style, old lines untouched, diffs that apply."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DEFAULT_CONFIG, REPEATED_HEADINGS, SEED, SURVEYS
from tracker.config import load_config
from tracker.errors import SurveyError
from tracker.models import Paper
from tracker.survey.patch import add_papers, expected_fields, fold_title, unified_diff, venue_of
from tracker.survey.parse import load_survey, parse_survey


def paper(n: int, section: str, title: str | None = None, **kw) -> Paper:
    return Paper(
        id=f"2409.{10000 + n}",
        title=title or f"Sparse State Machines {n}: A Study",
        authors=kw.pop("authors", ("Ann Lee", "Bob Ray")),
        published=kw.pop("published", "2024-09-05"),
        section=section,
        **kw,
    )


def check_old_entries_kept(old, new, added_ids):
    """Every old entry parses back with the same fields and raw lines, only shifted down."""
    fresh = [(s.heading, e) for s, e in new.entries() if e.arxiv_id not in added_ids]
    before = [(s.heading, e) for s, e in old.entries()]
    assert len(fresh) == len(before)
    last_shift = 0
    for (h_old, e_old), (h_new, e_new) in zip(before, fresh):
        assert h_old == h_new
        assert replace(e_new, line=e_old.line, end_line=e_old.end_line) == e_old
        shift = e_new.line - e_old.line
        assert shift >= last_shift and e_new.end_line - e_old.end_line == shift
        raw_new = [l.rstrip("\r\n") for l in new.lines[e_new.line - 1 : e_new.end_line]]
        assert raw_new == [l.rstrip("\r\n") for l in old.lines[e_old.line - 1 : e_old.end_line]]
        last_shift = shift


@pytest.fixture(scope="module")
def seed():
    return load_survey(SEED)


@pytest.fixture(scope="module")
def headings():
    return {s.id: s.heading for s in load_config(DEFAULT_CONFIG).sections}


def test_seed_patch_in_each_sections_style(seed, headings):
    papers = [
        paper(1, "encoder_only"),  # config id
        paper(2, "非 Transformer 架构", journal_ref="Advances in NeurIPS 37, 2024"),  # exact heading
        paper(3, "decoder-only"),  # the survey's own slug
        paper(4, "encoder_only", published="2023-01-01"),
    ]
    result = add_papers(seed, papers, headings)
    new = parse_survey(result.text, "seed")
    check_old_entries_kept(seed, new, {p.id for p in papers})
    assert [(p.id, h) for p, h in result.added] == [
        ("2409.10001", "基于 Encoder-only 架构的大语言模型"),
        ("2409.10002", "非 Transformer 架构"),
        ("2409.10003", "基于 Decoder-only 架构的大语言模型"),
        ("2409.10004", "基于 Encoder-only 架构的大语言模型"),
    ]
    sections = {s.heading: s for s in new.sections}
    enc = sections["基于 Encoder-only 架构的大语言模型"].entries
    assert [e.number for e in enc] == [1, 2, 4, 5, 6, 7, 8]
    assert [e.arxiv_id for e in enc[-2:]] == ["2409.10001", "2409.10004"]
    assert enc[-1].year == 2023 and enc[-2].venue == "arXiv"
    assert enc[-2].title == "Sparse State Machines 1: A Study" and enc[-2].authors == ("Ann Lee", "Bob Ray")
    assert [(l.label, l.url) for l in enc[-2].links] == [("PDF", "https://arxiv.org/abs/2409.10001")]
    non = sections["非 Transformer 架构"].entries[-1]
    assert (non.number, non.venue, non.year) == (6, "Advances in NeurIPS", 2024)
    dec = sections["基于 Decoder-only 架构的大语言模型"].entries[-1]
    assert dec.number == 22
    lines = result.text.split("\n")
    # encoder-only: "N.  " numbers, 4-space second line, a 4-space line between entries, no trailing spaces
    i = enc[-2].line - 1
    assert lines[i - 1] == "    " and lines[i].startswith("7.  **Sparse State Machines 1: A Study.** `arXiv`")
    assert lines[i + 1].startswith("    *Ann Lee, Bob Ray.* [[PDF](https://arxiv.org/abs/2409.10001)], 2024.")
    # non-Transformer: "N. " numbers, 3-space indent, two trailing spaces after the venue
    j = non.line - 1
    assert lines[j] == "6. **Sparse State Machines 2: A Study.** `Advances in NeurIPS`  "
    assert lines[j + 1].startswith("   *Ann Lee, Bob Ray.* [[PDF]")
    assert lines[dec.line - 1].startswith("22.  **") and lines[dec.line - 1].endswith("`arXiv`  ")


def test_patch_touches_only_added_lines(seed):
    result = add_papers(seed, [paper(1, "encoder-only"), paper(2, "non-transformer")])
    diff = unified_diff(seed.render(), result.text, "config/llm-survey.md")
    body = [l for l in diff.splitlines() if l[:1] in "+-" and not l.startswith(("+++", "---"))]
    assert body and all(l.startswith("+") for l in body)
    assert diff.startswith("--- a/config/llm-survey.md\n+++ b/config/llm-survey.md\n")


@pytest.mark.parametrize("path", sorted(SURVEYS.glob("*.md")) + [SEED], ids=lambda p: p.name)
def test_every_fixture_keeps_old_entries(path):
    survey = load_survey(path)
    targets = [s for s in survey.sections if s.entries]
    papers = [paper(i, s.id) for i, s in enumerate(targets)] + [paper(900, targets[0].id)]
    result = add_papers(survey, papers)
    new = parse_survey(result.text, path.name)
    check_old_entries_kept(survey, new, {p.id for p in papers})
    got = {e.arxiv_id: (s.id, e) for s, e in new.entries() if e.arxiv_id in {p.id for p in papers}}
    assert len(got) == len(papers) == len(result.added)
    for p in papers:
        sid, entry = got[p.id]
        assert sid == p.section
        title, authors = expected_fields(p)
        assert entry.title == title
        if entry.authors:
            assert entry.authors == authors
        section = next(s for s in survey.sections if s.id == p.section)
        numbers = [e.number for e in section.entries if e.number is not None]
        if numbers and entry.number is not None:
            assert entry.number > max(numbers)
    first, second = got[papers[0].id][1], got["2409.10900"][1]
    assert second.line > first.line  # same section: input order


def test_same_format_chapters_use_their_own_layout():
    ch3 = load_survey(SURVEYS / "ZJU-Foundations-of-LLMs__ch3_prompt_engineering.md")
    section = next(s for s in ch3.sections if s.entries)
    result = add_papers(ch3, [paper(1, section.id)])
    new_lines = result.text.split("\n")
    entry = next(e for s, e in parse_survey(result.text, "ch3").entries() if e.arxiv_id == "2409.10001")
    # ch3 puts a blank line between the title line and the indented authors line
    assert new_lines[entry.line - 1] == "11. **Sparse State Machines 1: A Study.** `arXiv`"
    assert new_lines[entry.line] == ""
    assert new_lines[entry.line + 1].startswith("    *Ann Lee, Bob Ray.*[[PDF](https://arxiv.org/abs/2409.10001)]")
    mamba = load_survey(SURVEYS / "XiudingCai-Awesome-Mamba-Collection__README.md")
    result = add_papers(mamba, [paper(2, "architecture", published="2024-09-05")])
    assert "* Sparse State Machines 2: A Study [[paper](https://arxiv.org/abs/2409.10002)] (2024.09.05)\n" in result.text


def test_skips_already_listed_papers(seed):
    papers = [
        paper(1, "encoder-only", title="RoBERTa: A robustly optimized BERT pretraining approach!"),
        Paper(id="1907.11692", title="Something else", section="encoder-only"),
        paper(3, "encoder-only"),
        paper(3, "non-transformer"),
    ]
    result = add_papers(seed, papers)
    assert [p.id for p, _ in result.added] == ["2409.10003"]
    reasons = [r for _, r in result.skipped]
    assert reasons[0] == "already listed at line 35 (same title)"
    assert reasons[1] == "already listed at line 35 (same arXiv id)"
    assert reasons[2].startswith("already listed")
    assert result.listed == (papers[0].id, papers[1].id)  # not the repeat of a paper this patch adds
    assert fold_title("BERT: Pre-training!") == fold_title("bert pre training")


def test_nothing_to_add_leaves_text_identical(seed):
    result = add_papers(seed, [Paper(id="2312.00752", title="x", section="non-transformer")])
    assert result.text == seed.render() and not result.added
    assert unified_diff(seed.render(), result.text, "s.md") == ""


def test_unknown_or_missing_section_is_an_error(seed, headings):
    with pytest.raises(SurveyError) as exc:
        add_papers(seed, [paper(1, "vision")], headings)
    message = str(exc.value)
    assert "'vision'" in message and "encoder_only" in message and "non_transformer" in message
    with pytest.raises(SurveyError, match="field 'section' is missing"):
        add_papers(seed, [replace(paper(1, "x"), section=None)])
    with pytest.raises(SurveyError, match="no such heading"):
        add_papers(seed, [paper(1, "gone")], {"gone": "Not A Heading"})


def test_papers_without_a_section_are_skipped_when_others_have_one(seed, headings):
    """`tracker export` writes every stored paper, `section` only on those to add: patch refused
    the whole file for its first unclassified paper."""
    result = add_papers(seed, [replace(paper(1, "x"), section=None), paper(2, "encoder_only")], headings)
    assert [p.id for p, _ in result.added] == ["2409.10002"]
    assert [(p.id, "no 'section'" in why) for p, why in result.skipped] == [("2409.10001", True)]


def test_empty_section_gets_an_entry_in_the_survey_style():
    text = "# List\n\n## Old\n\n1.  **Known Paper.** `arXiv`  \n    *A B.* [[PDF](https://arxiv.org/abs/2001.00001)], 2020.\n\n## New Section\n\nSome intro text.\n\n## Last\n"
    survey = parse_survey(text, "s.md")
    result = add_papers(survey, [paper(1, "new-section"), paper(2, "new-section")])
    new = parse_survey(result.text, "s.md")
    entries = next(s for s in new.sections if s.id == "new-section").entries
    assert [e.number for e in entries] == [1, 2]
    assert "Some intro text.\n\n1.  **Sparse State Machines 1: A Study.** `arXiv`  \n    *Ann Lee, Bob Ray.*" in result.text
    seedless = parse_survey("# T\n\n## Empty\n", "e.md")
    out = add_papers(seedless, [paper(3, "empty")]).text
    assert out == "# T\n\n## Empty\n1.  **Sparse State Machines 3: A Study.** `arXiv`  \n    *Ann Lee, Bob Ray.* [[PDF](https://arxiv.org/abs/2409.10003)], 2024.\n"


def test_crlf_and_missing_final_newline_are_kept():
    text = SEED.read_text(encoding="utf-8").replace("\n", "\r\n").rstrip("\r\n")
    survey = parse_survey(text, "crlf.md")
    result = add_papers(survey, [paper(1, "non-transformer")])
    assert "\r\n" in result.text and "\n" not in result.text.replace("\r\n", "")
    assert not result.text.endswith("\n") and result.text.endswith("2024.")
    assert result.text.startswith(text[: text.rindex("\r\n")])
    new = parse_survey(result.text, "crlf.md")
    check_old_entries_kept(survey, new, {"2409.10001"})


def test_venue_from_journal_ref():
    base = paper(1, "x")
    assert venue_of(base) == "arXiv"
    assert venue_of(replace(base, journal_ref="NeurIPS 2024")) == "NeurIPS"
    assert venue_of(replace(base, journal_ref="Phys. Rev. D 75, 123 (2007)")) == "Phys. Rev. D"
    assert venue_of(replace(base, journal_ref="Transactions on Machine Learning Research (TMLR), 2024")) == (
        "Transactions on Machine Learning Research (TMLR)"
    )


hard_text = st.text(alphabet=st.sampled_from("abcXYZ *_`[]|<>\\\n.,:-'\"(){}é语"), min_size=1, max_size=40).filter(
    lambda t: any(c.isalpha() for c in t)
)
names = st.lists(
    st.text(alphabet=st.sampled_from("abcXYZ *_`[]|<\\.-'é"), min_size=1, max_size=15).filter(lambda t: any(c.isalpha() for c in t) and "," not in t),
    min_size=1,
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(title=hard_text, authors=names, section=st.sampled_from(["encoder-only", "non-transformer", "section-2", "decoder-only"]))
def test_markdown_specials_read_back(seed, title, authors, section):
    p = Paper(id="2409.12345", title=title, authors=tuple(authors), published="2024-09-05", section=section)
    title_folded = fold_title(title)
    if any(fold_title(e.title) == title_folded for _, e in seed.entries()):
        return
    result = add_papers(seed, [p])
    new = parse_survey(result.text, "seed")
    entry = next(e for _, e in new.entries() if e.arxiv_id == "2409.12345")
    assert (entry.title, entry.authors) == expected_fields(p)
    check_old_entries_kept(seed, new, {"2409.12345"})


def _apply_with(tool: list[str], tmp_path, name: str, old: str, diff: str) -> str:
    work = tmp_path / name
    (work / "config").mkdir(parents=True)
    (work / "config" / "llm-survey.md").write_bytes(old.encode("utf-8"))
    (work / "change.diff").write_bytes(diff.encode("utf-8"))
    subprocess.run(tool + ["change.diff"], cwd=work, check=True, capture_output=True)
    return (work / "config" / "llm-survey.md").read_bytes().decode("utf-8")


@pytest.mark.skipif(not (shutil.which("git") and shutil.which("patch")), reason="git and patch are needed")
@pytest.mark.parametrize("variant", ["lf", "crlf-no-final-newline"])
def test_diff_applies_with_git_apply_and_patch(seed, tmp_path, variant):
    old = seed.render()
    if variant != "lf":
        old = old.replace("\n", "\r\n").rstrip("\r\n")
    survey = parse_survey(old, "config/llm-survey.md")
    result = add_papers(survey, [paper(1, "encoder-only"), paper(2, "non-transformer"), paper(3, "section-2")])
    diff = unified_diff(old, result.text, "config/llm-survey.md")
    assert _apply_with(["git", "apply"], tmp_path, "git", old, diff) == result.text
    assert _apply_with(["patch", "-p1", "-i"], tmp_path, "patch", old, diff) == result.text


def _jsonl(*papers: Paper) -> str:
    from tracker.models import dump_papers

    return dump_papers(papers)


def test_patch_command(run_cli, tmp_path, monkeypatch):
    survey = tmp_path / "survey.md"
    survey.write_bytes(SEED.read_bytes())
    papers = tmp_path / "papers.jsonl"
    papers.write_text(_jsonl(paper(1, "encoder_only"), Paper(id="2312.00752", title="Mamba", section="non_transformer")), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)
    code, out, err = run_cli("--config", str(DEFAULT_CONFIG), "patch", "survey.md", "--input", str(papers))
    assert code == 0
    assert out.startswith("--- a/survey.md\n+++ b/survey.md\n@@ ")
    assert "+7.  **Sparse State Machines 1: A Study.** `arXiv`" in out
    assert err == "skipped 2312.00752: already listed at line 139 (same arXiv id)\n"
    assert survey.read_bytes() == SEED.read_bytes()  # stateless: the file is not changed
    # without any config file the survey's own slugs and headings are used
    code, out2, err = run_cli("patch", "survey.md", "--input", str(papers))
    assert code == 1 and out2 == "" and "'encoder_only'" in err and "encoder-only" in err
    papers.write_text(_jsonl(paper(1, "encoder-only")), encoding="utf-8")
    code, out3, _ = run_cli("patch", "survey.md", "--input", str(papers))
    assert code == 0 and out3 == out


def test_patch_command_reads_stdin(run_cli, monkeypatch, tmp_path):
    import io

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.md").write_bytes(SEED.read_bytes())
    stdin = io.TextIOWrapper(io.BytesIO(_jsonl(paper(5, "non-transformer")).encode("utf-8")), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", stdin)
    code, out, err = run_cli("patch", "s.md", "--input", "-")
    assert code == 0 and "+6. **Sparse State Machines 5: A Study.** `arXiv`  " in out


@pytest.mark.parametrize(
    "content,expect",
    [
        (b'{"id": "2409.1", "title": "T", "section": "nowhere"}\n', "unknown section 'nowhere'"),
        (b'{"id": "2409.1", "title": "T"}\n', "field 'section' is missing"),
        (b"not json\n", "papers.jsonl:1: not valid JSON"),
        (b'{"id": "2409.1", "title": "T"\n', "papers.jsonl:1: not valid JSON at column 30 (Expecting ',' delimiter)"),
        (b'{"id": "2409.1", "title": "T\n', "papers.jsonl:1: not valid JSON at column 27 (Unterminated string starting)"),
        (b'{"id": "2409.1"}\n', "field 'title'"),
        (b'{"id": "2409.1", "title": "\xff"}\n', "not valid UTF-8"),
    ],
)
def test_patch_command_errors_print_nothing(run_cli, tmp_path, monkeypatch, content, expect):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.md").write_bytes(SEED.read_bytes())
    (tmp_path / "papers.jsonl").write_bytes(content)
    code, out, err = run_cli("patch", "s.md", "--input", "papers.jsonl")
    assert code == 1 and out == "" and expect in err and err.startswith("error: ")


def test_patch_command_missing_files(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.jsonl").write_text(_jsonl(paper(1, "non-transformer")), encoding="utf-8")
    code, out, err = run_cli("patch", "missing.md", "--input", "p.jsonl")
    assert (code, out) == (1, "") and "missing.md: survey file not found" in err
    (tmp_path / "s.md").write_bytes(SEED.read_bytes())
    code, out, err = run_cli("patch", "s.md", "--input", "nope.jsonl")
    assert (code, out) == (1, "") and "nope.jsonl: input file not found" in err
    code, out, err = run_cli("--config", "missing.toml", "patch", "s.md", "--input", "p.jsonl")
    assert (code, out) == (1, "") and "missing.toml: config file not found" in err


@settings(max_examples=150, deadline=None)
@given(text=__import__("test_roundtrip").markdown())
def test_generated_surveys_keep_old_entries_when_patched(text):
    survey = parse_survey(text, "g.md")
    sections = [s for s in survey.sections if s.level > 0]
    papers = [paper(i, s.id, title=f"Zeta Paper {i}") for i, s in enumerate(sections)]
    try:
        result = add_papers(survey, papers)
    except SurveyError as exc:  # tables and unclosed code blocks are refused, never broken
        assert "cannot extend" in str(exc) or "unclosed" in str(exc)
        return
    new = parse_survey(result.text, "g.md")
    check_old_entries_kept(survey, new, {p.id for p in papers})
    assert all("table" in why or "cannot" in why for _, why in result.skipped)  # a table skips its paper only
    assert {e.arxiv_id for _, e in new.entries()} >= {p.id for p, _ in result.added}
    assert len(result.added) + len(result.skipped) == len(papers)


def test_an_empty_parent_section_gets_its_entries_before_the_next_headings_anchor():
    """`## Papers` holds no entry of its own; the `<span id=...>` after it is the next heading's
    anchor. New entries go right under the heading, and a blank line keeps the anchor out of
    the last entry (it would read as part of it)."""
    text = ("# L\n\n## Papers\n<span id=\"head3\"></span>\n### Architecture\n"
            "* Mamba: Linear-Time Sequence Modeling [[paper](https://arxiv.org/abs/2312.00752)] (2023.12.01)\n")
    survey = parse_survey(text, "list.md")
    result = add_papers(survey, [paper(1, "Papers"), paper(2, "Papers")])
    assert [p.id for p, _ in result.added] == ["2409.10001", "2409.10002"]
    lines = result.text.splitlines()
    at, anchor = lines.index("## Papers"), lines.index('<span id="head3"></span>')
    assert "2409.10001" in lines[at + 1] and any("2409.10002" in line for line in lines[at + 2 : anchor])
    assert lines[anchor - 1] == "" and lines[anchor + 1] == "### Architecture"
    again = parse_survey(result.text, "list.md")
    papers = next(s for s in again.sections if s.heading == "Papers")
    assert [e.arxiv_id for e in papers.entries] == ["2409.10001", "2409.10002"]
    assert len(next(s for s in again.sections if s.heading == "Architecture").entries) == 1


def test_a_section_whose_items_cannot_be_read_is_not_given_entries_in_another_form():
    """Its list exists but in a form the parser does not know (`[[paper]](url)`): a seed-style
    numbered entry under it would not fit, and the paper may already be there unseen."""
    text = ("## Papers\n\n- **Scaling Laws for Neural Language Models** [[paper]](https://arxiv.org/abs/2001.08361)\n\n"
            "## Other\n\n1. **A study.** `arXiv`  \n   *Ann Lee.* [[PDF](https://arxiv.org/abs/2001.00001)], 2020.\n")
    survey = parse_survey(text, "list.md")
    assert not next(s for s in survey.sections if s.heading == "Papers").entries and survey.skipped
    result = add_papers(survey, [paper(1, "Papers"), paper(2, "Other")])
    assert [p.id for p, _ in result.added] == ["2409.10002"]
    assert [(p.id, "form tracker cannot extend" in why) for p, why in result.skipped] == [("2409.10001", True)]


@pytest.mark.parametrize("spacing", ["\n", ""])
def test_an_empty_section_follows_how_the_list_spaces_a_heading_and_its_first_entry(spacing):
    entry = "1. **A study.** `arXiv`  \n   *Ann Lee.* [[PDF](https://arxiv.org/abs/2001.0000{n})], 2020.\n"
    text = "".join(f"## S{n}\n{spacing}{entry.format(n=n)}\n" for n in (1, 2)) + "## Empty\n\n## Last\n" + spacing + entry.format(n=3)
    result = add_papers(parse_survey(text, "list.md"), [paper(1, "Empty")])
    lines = result.text.splitlines()
    at = lines.index("## Empty")
    assert (lines[at + 1] == "") == bool(spacing) and "2409.10001" in "\n".join(lines[at + 1 : at + 4])


def test_a_new_entry_goes_after_the_last_entrys_nested_notes_in_the_lists_own_spacing():
    text = ("## Papers\n\n1. **Paper One.** *Ann Lee.* [[PDF](https://arxiv.org/abs/2001.00001)], 2020.\n"
            "   - Note: introduces the first idea.\n2. **Paper Two.** *Bob Ray.* [[PDF](https://arxiv.org/abs/2001.00002)], 2020.\n"
            "   - Note: follow-up work.\n\n## Next\n\n1. **X.** *Y Z.* [[PDF](https://arxiv.org/abs/2001.00003)], 2020.\n")
    result = add_papers(parse_survey(text, "list.md"), [paper(1, "Papers")])
    lines = result.text.splitlines()
    note = lines.index("   - Note: follow-up work.")
    assert lines[note + 1].startswith("3. **Sparse State Machines 1") and lines[note + 2 : note + 4] == ["", "## Next"]


def test_a_list_that_writes_authors_without_italics_gets_the_new_papers_authors():
    text = ("## Papers\n\n* **Scaling Laws for Neural Language Models** - Jared Kaplan, Sam McCandlish "
            "[paper](https://arxiv.org/abs/2001.08361)\n* **Training Compute-Optimal Large Language Models** - "
            "Jordan Hoffmann, Sebastian Borgeaud [paper](https://arxiv.org/abs/2203.15556)\n")
    result = add_papers(parse_survey(text, "list.md"), [paper(1, "Papers")])
    assert result.text.splitlines()[-1] == ("* **Sparse State Machines 1: A Study** - Ann Lee, Bob Ray "
                                            "[paper](https://arxiv.org/abs/2409.10001)")


@pytest.mark.parametrize(
    "old, new",
    [
        ("1. **Paper One.** *Ann Lee.* [[PDF](https://arxiv.org/abs/2001.00001)], 2020.\n   A short summary of the paper.\n",
         "2. **Sparse State Machines 1: A Study.** *Ann Lee, Bob Ray.* [[PDF](https://arxiv.org/abs/2409.10001)], 2024.\n"),
        ("1. **Paper One.**  \n   A short summary of the paper.\n   *Ann Lee.* [[PDF](https://arxiv.org/abs/2001.00001)], 2020.\n",
         "2. **Sparse State Machines 1: A Study.**  \n   *Ann Lee, Bob Ray.* [[PDF](https://arxiv.org/abs/2409.10001)], 2024.\n"),
        ("1. **Paper One**. *Ann Lee*.  \n   A short summary of the paper.  \n   [[pdf](https://arxiv.org/abs/2001.00001)]\n",
         "2. **Sparse State Machines 1: A Study**. *Ann Lee, Bob Ray*.  \n   [[pdf](https://arxiv.org/abs/2409.10001)]\n"),
        ("1. **Paper One**\n   A short summary of the paper. [[PDF](https://arxiv.org/abs/2001.00001)]\n",
         "2. **Sparse State Machines 1: A Study**\n   [[PDF](https://arxiv.org/abs/2409.10001)]\n"),
    ],
)
def test_a_new_entry_copies_neither_a_description_line_nor_puts_a_venue_in_its_place(old, new):
    text = "## Papers\n\n" + old
    result = add_papers(parse_survey(text, "list.md"), [paper(1, "Papers")])
    assert result.text == text + "\n" + new  # a one-entry list: a blank line between entries, the default


def test_a_bullet_list_whose_years_count_down_gets_its_new_entries_on_top():
    """Unnumbered lists kept newest first (most awesome-lists) used to get new papers at the bottom."""
    entry = "- **Old {y}.** *Ann Lee.* [[PDF](https://arxiv.org/abs/{y2}01.0000{n})], {y}.\n"
    text = ("## Newest first\n\n" + "".join(entry.format(y=y, y2=y - 2000, n=n) for n, y in ((1, 2024), (2, 2024), (3, 2023)))
            + "\n## Oldest first\n\n" + "".join(entry.format(y=y, y2=y - 2000, n=n) for n, y in ((4, 2023), (5, 2024))))
    survey = parse_survey(text, "list.md")
    result = add_papers(survey, [paper(1, "Newest first"), paper(2, "Oldest first"), paper(3, "Newest first")])
    new = parse_survey(result.text, "list.md")
    check_old_entries_kept(survey, new, {"2409.10001", "2409.10002", "2409.10003"})
    down, up = (s.entries for s in new.sections)
    assert [e.arxiv_id for e in down] == ["2409.10003", "2409.10001", "2401.00001", "2401.00002", "2301.00003"]
    assert [e.arxiv_id for e in up] == ["2301.00004", "2401.00005", "2409.10002"]
    assert all(e.number is None for e in down + up)


def test_a_section_numbered_newest_first_gets_its_new_entries_on_top():
    entry = "{n}. **Old {n}.** *Ann Lee.* [[PDF](https://arxiv.org/abs/2001.0000{n})], 2020.\n"
    text = ("## Newest first\n\n" + "\n".join(entry.format(n=n) for n in (3, 2, 1))
            + "\n## Oldest first\n\n" + "".join(entry.format(n=n) for n in (4, 5)))
    survey = parse_survey(text, "list.md")
    result = add_papers(survey, [paper(1, "Newest first"), paper(2, "Oldest first"), paper(3, "Newest first")])
    new = parse_survey(result.text, "list.md")
    check_old_entries_kept(survey, new, {"2409.10001", "2409.10002", "2409.10003"})
    down, up = (s.entries for s in new.sections)
    assert [(e.number, e.arxiv_id) for e in down] == [
        (5, "2409.10003"), (4, "2409.10001"), (3, "2001.00003"), (2, "2001.00002"), (1, "2001.00001")]
    assert [(e.number, e.arxiv_id) for e in up] == [(4, "2001.00004"), (5, "2001.00005"), (6, "2409.10002")]
    lines = result.text.splitlines()
    assert lines[1:7:2] == ["", "", ""] and lines[2].startswith("5. **Sparse") and lines[4].startswith("4. **Sparse")
    assert lines[6] == entry.format(n=3).rstrip("\n")


def test_an_empty_setext_section_gets_its_entry_above_the_next_setext_headings_text():
    """A setext section's `line` is its underline; the empty section before it ended there, so
    the entry went between `Next` and its `----` and broke that heading."""
    text = ("Title\n=====\n\nEmpty Setext\n------------\n\nNext\n----\n\n"
            "* Lang One [[paper](https://arxiv.org/abs/2403.00001)] (2024.03.01)\n")
    result = add_papers(parse_survey(text, "st.md"), [paper(1, "empty-setext")])
    lines = result.text.splitlines()
    at = lines.index("Next")
    assert lines[at + 1] == "----" and "2409.10001" in lines[at - 2] and lines[at - 1] == ""
    again = parse_survey(result.text, "st.md")
    assert [(s.heading, [e.arxiv_id for e in s.entries]) for s in again.sections] == [
        ("Title", []), ("Empty Setext", ["2409.10001"]), ("Next", ["2403.00001"])]


def test_a_heading_repeated_under_several_topics_is_the_one_whose_survey_id_is_the_config_id():
    """Both `### Papers` sections were found as the first, so `papers-2` (Speech) got Vision's entries."""
    survey = parse_survey(REPEATED_HEADINGS, "rep.md")
    result = add_papers(survey, [paper(1, "papers-2"), paper(2, "papers")], {"papers": "Papers", "papers-2": "Papers"})
    again = parse_survey(result.text, "rep.md")
    assert [(s.id, [e.arxiv_id for e in s.entries][-1]) for s in again.sections if s.heading == "Papers"] == [
        ("papers", "2409.10002"), ("papers-2", "2409.10001")]
    for config in ({"speech": "Papers"}, {}):  # a config id the survey does not have, or the bare heading
        with pytest.raises(SurveyError, match=r"heading 'Papers' is in rep\.md 2 times: line 5 \(id 'papers'\), "
                                              r"line 12 \(id 'papers-2'\); set the section id"):
            add_papers(survey, [paper(3, "speech" if config else "Papers")], config)


@pytest.mark.parametrize(
    "old, new",
    [
        ("- **[Attention Is All You Need](https://papers.nips.cc/paper/7181)**. *Vaswani et al.* NeurIPS 2017.\n"
         "- **[Title Two Here](https://arxiv.org/abs/2103.00002)**. *Ann Lee*. ICML 2021. [[code](https://github.com/x/y)]\n",
         "- **[Sparse State Machines 1: A Study](https://arxiv.org/abs/2409.10001)**. *Ann Lee, Bob Ray*. arXiv 2024."),
        ("- [**Attention Is All You Need**](https://arxiv.org/abs/1706.03762) - *C*. 2017.\n"
         "- [**Bold Inside Link One**](https://arxiv.org/abs/2103.00001) - *B*. 2021.\n",
         "- [**Sparse State Machines 1: A Study**](https://arxiv.org/abs/2409.10001) - *Ann Lee, Bob Ray*. 2024."),
    ],
)
def test_a_list_of_link_wrapped_titles_gets_new_entries_in_its_form_and_knows_its_titles(old, new):
    """Read with the Markdown in the title, such a list got seed-style entries and no title ever matched."""
    result = add_papers(parse_survey(f"## S\n\n{old}", "x.md"),
                        [paper(1, "S"), paper(2, "S", title="Attention is all you need", authors=())])
    assert result.text == f"## S\n\n{old}{new}\n"
    assert [(p.id, why) for p, why in result.skipped] == [("2409.10002", "already listed at line 3 (same title)")]


@pytest.mark.parametrize(
    "old, new",
    [
        ("- [**Bold Inside Link One**](https://arxiv.org/abs/2103.00001) - *B*. 2021.",
         "- [**Sparse State Machines 1: A Study**](https://arxiv.org/abs/2409.10001)."),
        ("- **[Title Two Here](https://arxiv.org/abs/2103.00002)**. *Ann Lee*. ICML 2021.",
         "- **[Sparse State Machines 1: A Study](https://arxiv.org/abs/2409.10001)**. arXiv."),
        ("1. **Title One**. *Ann Lee*. NeurIPS 2019. [[pdf](https://arxiv.org/abs/2001.00001)]",
         "2. **Sparse State Machines 1: A Study**. arXiv. [[pdf](https://arxiv.org/abs/2409.10001)]"),
        ("* Lang One [[paper](https://arxiv.org/abs/2403.00001)] (2024.03.01)",
         "* Sparse State Machines 1: A Study [[paper](https://arxiv.org/abs/2409.10001)]"),
        ("- [Title One](https://arxiv.org/abs/2103.00001) (2021)", "- [Sparse State Machines 1: A Study](https://arxiv.org/abs/2409.10001)"),
    ],
)
def test_a_paper_without_authors_or_date_leaves_no_dangling_separators(old, new):
    """The empty author and year fields left `- ..` and `. . arXiv.` behind."""
    result = add_papers(parse_survey(f"## S\n\n{old}\n", "x.md"), [paper(1, "S", authors=(), published="")])
    assert result.text == f"## S\n\n{old}\n\n{new}\n"  # a one-entry list: the default blank line between entries


def test_a_list_without_headings_takes_papers_in_its_preamble():
    """`tracker survey` shows such a list's entries under `preamble`; patch refused that id, with an
    empty list of valid sections, so the list could not be patched at all."""
    text = "- **X Paper**. 2020. [p](https://arxiv.org/abs/2001.00001)\n- **Y Paper**. 2021. [p](https://arxiv.org/abs/2101.00002)\n"
    result = add_papers(parse_survey(text, "list.md"), [paper(1, "preamble", title="New One")])
    new = parse_survey(result.text, "list.md")
    assert [e.title for e in new.sections[0].entries] == ["X Paper", "Y Paper", "New One"]
    assert result.text.startswith(text) and result.text.endswith("[p](https://arxiv.org/abs/2409.10001)\n")
    with pytest.raises(SurveyError, match=r"unknown section 'preamble'.*valid sections: x"):
        add_papers(parse_survey("# X\n\n" + text, "list.md"), [paper(1, "preamble")])


def test_a_title_ending_in_a_question_mark_gets_no_period():
    """The seed style closes titles with a period: `**ComboBench: ... Games?.**` was written."""
    text = "## S\n\n1.  **Some Title.** `arXiv`  \n    *A B.* [[PDF](https://arxiv.org/abs/2001.00001)], 2020.\n"
    result = add_papers(parse_survey(text, "list.md"), [paper(1, "S", title="Is It Good?"), paper(2, "S", title="Yes!")])
    assert "2.  **Is It Good?** `arXiv`  " in result.text and "3.  **Yes!** `arXiv`  " in result.text
    assert [e.title for _, e in parse_survey(result.text, "x").entries()] == ["Some Title", "Is It Good?", "Yes!"]
