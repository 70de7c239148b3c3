"""The typed term model: parsed once at config load, rendered back, read by the matcher."""

from __future__ import annotations

import pytest

from tracker.classify.matcher import Classifier
from tracker.classify.terms import Spelling, Term, TermError, parse_term
from tracker.config import Rule, load_config
from tracker.errors import ConfigError
from tracker.models import Paper


def test_parse_alternatives_wildcards_and_case():
    term = parse_term("*GPT*|large language model|Hyena*", case_sensitive=["Hyena*"])
    assert term.spellings == (
        Spelling("GPT", open_left=True, open_right=True),
        Spelling("large language model"),
        Spelling("Hyena", open_right=True, case_sensitive=True),
    )
    assert [s.exact for s in term.spellings] == [True, False, True]  # GPT: short ALL-CAPS
    assert parse_term("gpt").spellings[0].exact is False


@pytest.mark.parametrize("text", ["*BERT|*BERTa", "state space|SSM|*Mamba*", "T5", "vision-language model|VLM", "Qwen*"])
def test_render_round_trips(text):
    term = parse_term(text)
    assert term.render() == text
    assert parse_term(term.render()) == term


def test_case_sensitive_names_the_whole_term_or_one_spelling():
    assert parse_term("Hyena|H3", ["Hyena|H3"]).case_sensitive == ("Hyena", "H3")
    assert parse_term("Hyena|hyena operator", ["Hyena"]).case_sensitive == ("Hyena",)


@pytest.mark.parametrize("text", ["a||b", "--", "GP*T", "*"])
def test_unreadable_terms(text):
    with pytest.raises(TermError):
        parse_term(text)


def test_plurals_and_hyphens_are_properties_of_the_spelling():
    forms = parse_term("multi-modal model").spellings[0].forms()
    assert {"multi modal model", "multimodal model", "multi modal models", "multimodalmodel"} <= set(forms)
    assert parse_term("Mamba*").spellings[0].forms() == ["mamba"]  # an open end takes no plural
    assert parse_term("diagnosis").spellings[0].forms() == ["diagnosis", "diagnoses"]  # "ICD Coding of ... Diagnoses"
    assert "data analyses" in parse_term("data analysis").spellings[0].forms()
    assert parse_term("axis").spellings[0].forms() == ["axis", "axes"]
    assert parse_term("this").spellings[0].forms() == ["this"] and parse_term("bus").spellings[0].forms() == ["bus"]


def test_config_terms_are_typed_and_case_sensitive_is_applied(tmp_path, write_config):
    (tmp_path / "s.md").write_text("# S\n", encoding="utf-8")
    path = write_config(survey={"path": "s.md"}, sections=[{"id": "n", "heading": "N", "any": ["Hyena|long convolution", "*BERT"],
                                                           "not": ["speech"], "case_sensitive": ["Hyena"]}])
    rule = load_config(path).sections[0].rule
    assert all(isinstance(t, Term) for t in rule.any + rule.not_)
    assert rule.any[0].spellings[0].case_sensitive and not rule.any[0].spellings[1].case_sensitive


def test_config_error_names_the_key_for_a_bad_term(tmp_path, write_config):
    (tmp_path / "s.md").write_text("# S\n", encoding="utf-8")
    path = write_config(survey={"path": "s.md"}, sections=[{"id": "n", "heading": "N", "any": ["x"], "not": ["a||b"]}])
    with pytest.raises(ConfigError, match=r"sections\.n\.not.*empty alternative"):
        load_config(path)


def test_rule_built_from_strings_reads_them_like_the_config():
    rule = Rule(any=("Hyena|H3",), case_sensitive=("Hyena",))
    assert rule.any == (parse_term("Hyena|H3", ["Hyena"]),)


def _matches(rule: Rule, title: str, abstract: str = "") -> list[tuple[str, str, str]]:
    c = Classifier(None, [("s", "S", rule)])
    scores = c.classify(Paper(id="2501.00001", title=title, abstract=abstract))
    return [(m.term, m.field, m.text) for s in scores for m in s.matches]


def test_matches_carry_the_papers_own_words():
    rule = Rule(any=("*GPT*", "encoder-only", "language model", "*BERT"))
    got = _matches(rule, "Probing GPT-4o, an Encoder-Only baseline", "We compare TinyBERT with large Language Models.")
    assert got == [
        ("*GPT*", "title", "GPT-4o"),
        ("encoder-only", "title", "Encoder-Only"),
        ("*BERT", "abstract", "TinyBERT"),
        ("language model", "abstract", "Language Models"),
    ]


def test_regex_matches_carry_their_text():
    assert _matches(Rule(regex=(r"\bgpt-?\d+o?\b",)), "What GPT4o sees") == [(r"re:\bgpt-?\d+o?\b", "title", "GPT4o")]
