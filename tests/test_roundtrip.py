"""Rendering a parsed survey gives back the exact input bytes, for real and generated Markdown."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEED, SURVEYS
from tracker.survey.parse import load_survey, parse_survey


def test_fixture_surveys_render_to_their_bytes():
    paths = sorted(SURVEYS.glob("*.md")) + [SEED]
    assert len(paths) == 6
    for path in paths:
        assert load_survey(path).render().encode("utf-8") == path.read_bytes(), path.name


def test_crlf_and_bom_copy_of_the_seed_round_trips(tmp_path):
    text = SEED.read_text(encoding="utf-8")
    variant = "\ufeff" + text.replace("\n", "\r\n").rstrip("\r\n")
    path = tmp_path / "crlf.md"
    path.write_bytes(variant.encode("utf-8"))
    survey = load_survey(path)
    assert survey.render().encode("utf-8") == path.read_bytes()
    original = load_survey(SEED)
    assert [e.title for _, e in survey.entries()] == [e.title for _, e in original.entries()]
    assert [e.authors for _, e in survey.entries()] == [e.authors for _, e in original.entries()]


words = st.text(alphabet=st.sampled_from("abcdefgXYZ 语言-:.*_`[]|<\\0123456789"), min_size=1, max_size=20)
endings = st.sampled_from(["\n", "\r\n"])


@st.composite
def markdown_line(draw):
    kind = draw(st.sampled_from(["heading", "numbered", "bullet", "authors", "blank", "text", "tabbed", "fence", "table"]))
    w = draw(words)
    if kind == "heading":
        return "#" * draw(st.integers(1, 4)) + " " + w
    if kind == "numbered":
        return f"{draw(st.integers(1, 30))}.{draw(st.sampled_from([' ', '  ', chr(9)]))}**{w}.** `{draw(words)}`  "
    if kind == "bullet":
        return f"{draw(st.sampled_from('-*+'))} [{w}](https://arxiv.org/abs/2401.0{draw(st.integers(1000, 9999))})"
    if kind == "authors":
        return f"    *{w}, {draw(words)} and {draw(words)}.* [[PDF](https://arxiv.org/pdf/2401.01234v2)], 20{draw(st.integers(10, 25))}."
    if kind == "blank":
        return draw(st.sampled_from(["", "   ", "\t"]))
    if kind == "tabbed":
        return "\t" + w
    if kind == "fence":
        return "```"
    if kind == "table":
        return f"| {w} | [paper](https://example.org/{draw(st.integers(0, 9))}) |"
    return w


@st.composite
def markdown(draw):
    lines = draw(st.lists(markdown_line(), max_size=25))
    ends = [draw(endings) for _ in lines]
    text = "".join(line + end for line, end in zip(lines, ends))
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text


@settings(max_examples=300, deadline=None)
@given(markdown())
def test_generated_markdown_round_trips_and_never_crashes(text):
    survey = parse_survey(text, "gen.md")
    assert survey.render() == text
    assert survey.render().encode("utf-8") == text.encode("utf-8")
    count = len(survey.lines)
    for section, entry in survey.entries():
        assert 1 <= section.line <= entry.line <= entry.end_line <= count
        assert entry.title
    ids = [s.id for s in survey.sections]
    assert len(ids) == len(set(ids))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_round_trips(text):
    assert parse_survey(text, "any.md").render() == text
