"""Rule features of the keyword classifier, each through a config file as a maintainer writes it."""

from __future__ import annotations

import tomllib

import pytest
from classify_support import classifier, paper, sections

from tracker.classify.terms import normalise, parse_term
from tracker.config import load_config
from tracker.errors import ConfigError

ONE = """
[[sections]]
id = "enc"
heading = "Encoders"
any = ["encoder-only", "masked language model"]
"""


def test_phrase_matches_whole_words_only(tmp_path, write_config):
    c = classifier(write_config, ONE)
    assert sections(c, paper("A masked language model for Tamil")) == ["enc"]
    assert sections(c, paper("Unmasked language modelling")) == []
    assert sections(c, paper("masked language")) == []


@pytest.mark.parametrize("title", ["Encoder-only models", "encoder only models", "EncoderOnly models", "(encoder/only)"])
def test_hyphen_space_and_joined_forms_are_alike(tmp_path, title, write_config):
    assert sections(classifier(write_config, ONE), paper(title)) == ["enc"]


def test_simple_plurals_match(tmp_path, write_config):
    c = classifier(write_config, ONE)
    assert sections(c, paper("Masked language models are fine")) == ["enc"]


def test_hyphenated_term_also_matches_closed_form(tmp_path, write_config):
    c = classifier(write_config, '[[sections]]\nid = "mm"\nheading = "MM"\nany = ["multi-modal LLM"]\n')
    for title in ("Multi-modal LLMs", "multimodal LLM", "multi modal llm"):
        assert sections(c, paper(title)) == ["mm"], title


def test_not_excludes_the_section(tmp_path, write_config):
    c = classifier(write_config, ONE + 'not = ["speech"]\n')
    assert sections(c, paper("An encoder-only model")) == ["enc"]
    assert sections(c, paper("An encoder-only model", "for speech recognition")) == []


def test_all_groups_must_each_match(tmp_path, write_config):
    rules = '[[sections]]\nid = "code"\nheading = "Code"\nall = [["code", "program"], ["language model", "LLM"]]\n'
    c = classifier(write_config, rules)
    assert sections(c, paper("Code generation with an LLM")) == ["code"]
    assert sections(c, paper("Program synthesis", "using a large language model")) == ["code"]
    assert sections(c, paper("Code generation with search")) == []
    assert sections(c, paper("An LLM for chat")) == []


def test_short_all_caps_terms_are_case_sensitive(tmp_path, write_config):
    rules = '[[sections]]\nid = "ed"\nheading = "ED"\nany = ["T5", "BART", "S4"]\n'
    c = classifier(write_config, rules)
    assert sections(c, paper("Fine-tuning T5 for summaries")) == ["ed"]
    assert sections(c, paper("BART models")) == ["ed"]
    assert sections(c, paper("Notes", "thanks to Bart Simpson; files under /data/s4/ and t5 rows")) == []


def test_case_sensitive_list_marks_longer_terms(tmp_path, write_config):
    rules = '[[sections]]\nid = "n"\nheading = "N"\nany = ["Hyena", "ERNIE"]\ncase_sensitive = ["Hyena"]\n'
    c = classifier(write_config, rules)
    assert sections(c, paper("Hyena hierarchy")) == ["n"]
    assert sections(c, paper("The hyena in the savanna")) == []
    assert sections(c, paper("Ernie and Bert")) == []  # ERNIE is short ALL CAPS: exact
    assert sections(c, paper("ERNIE 3.0")) == ["n"]


def test_lower_case_short_term_matches_any_case(tmp_path, write_config):
    c = classifier(write_config, '[[sections]]\nid = "g"\nheading = "G"\nany = ["gpt"]\n')
    assert sections(c, paper("Gpt-4 technical report")) == ["g"]


def test_wildcards_drop_a_word_boundary(tmp_path, write_config):
    rules = '[[sections]]\nid = "w"\nheading = "W"\nany = ["*BERT", "Mamba*"]\n'
    c = classifier(write_config, rules)
    assert sections(c, paper("TinyBERT distilled")) == ["w"]
    assert sections(c, paper("Mamba2 at scale")) == ["w"]
    assert sections(c, paper("Robert and Herbert")) == []  # *BERT is short ALL CAPS, so exact case
    assert sections(c, paper("A samba or a mamba", "")) == ["w"]
    assert sections(c, paper("Ramba zamba")) == []  # Mamba* keeps its left word boundary


def test_field_weights_and_min_score(tmp_path, write_config):
    rules = """
[[sections]]
id = "s"
heading = "S"
any = ["scaling law", "power law"]
min_score = 3
[sections.weights]
title = 3
abstract = 1
comment = 2
"""
    c = classifier(write_config, rules)
    [s] = c.classify(paper("Scaling laws for routing"))
    assert s.score == 3.0 and [(m.term, m.field) for m in s.matches] == [("scaling law", "title")]
    assert c.classify(paper("Routing", "We fit a scaling law.")) == []
    assert c.classify(paper("Routing", "We fit a scaling law and a power law.")) == []  # 1 + 1 < 3
    [s] = c.classify(paper("Routing", "A scaling law.", comment="power law fits"))
    assert s.score == 3.0 and {m.field for m in s.matches} == {"abstract", "comment"}
    assert c.classify(paper("Routing", "A scaling law. Another scaling law. Scaling laws!")) == []  # repeats count once


def test_synonyms_score_once_per_field(tmp_path, write_config):
    rules = '[[sections]]\nid = "v"\nheading = "V"\nany = ["vision-language model|VLM"]\nmin_score = 2\n'
    c = classifier(write_config, rules)
    assert c.classify(paper("X", "Vision-language models (VLMs) are big.")) == []
    [s] = c.classify(paper("VLM probing", "Vision-language models are big."))
    assert s.score == 4.0 and [m.term for m in s.matches] == ["VLM", "vision-language model"]


def test_regex_rule(tmp_path, write_config):
    rules = '[[sections]]\nid = "r"\nheading = "R"\nregex = ["\\\\bgpt-?[0-9]o?\\\\b"]\n'
    c = classifier(write_config, rules)
    [s] = c.classify(paper("What GPT-4o sees"))
    assert s.matches[0].field == "title" and s.matches[0].term.startswith("re:")
    assert c.classify(paper("Nothing here")) == []


SCOPED = """
[scope]
any = ["language model", "LLM"]
not = ["protein"]
[[sections]]
id = "dec"
heading = "Decoders"
any = ["decoder-only"]
[[sections]]
id = "enc"
heading = "Encoders"
any = ["encoder-only"]
"""


def test_scope_gates_every_section(tmp_path, write_config):
    c = classifier(write_config, SCOPED)
    assert sections(c, paper("Decoder-only image models")) == []
    assert sections(c, paper("Decoder-only image models", "Unlike a language model, ...")) == ["dec"]
    assert sections(c, paper("Decoder-only LLMs for protein folding")) == []


def test_scope_needs_title_or_abstract_by_default(tmp_path, write_config):
    c = classifier(write_config, SCOPED)
    assert sections(c, paper("Decoder-only image models", comment="cites a language model")) == []


def test_multi_label_sorted_by_score_primary_first(tmp_path, write_config):
    c = classifier(write_config, SCOPED)
    result = c.classify(paper("Decoder-only LLMs", "We compare encoder-only and decoder-only language models."))
    assert [s.section for s in result] == ["dec", "enc"]
    assert result[0].score > result[1].score
    assert result[0].heading == "Decoders"


def test_explanation_shape(tmp_path, write_config):
    c = classifier(write_config, SCOPED)
    [s] = c.classify(paper("Decoder-only LLMs", "A decoder-only language model."))
    data = s.to_json()
    assert set(data) == {"section", "heading", "score", "matches"}
    assert data["matches"] == [
        {"term": "decoder-only", "field": "title", "text": "Decoder-only"},
        {"term": "decoder-only", "field": "abstract", "text": "decoder-only"},
    ]
    assert data["score"] == 4.0


def test_fingerprint_is_stable_and_follows_the_rules(tmp_path, write_config):
    a = classifier(write_config, SCOPED).fingerprint
    assert classifier(write_config, SCOPED).fingerprint == a
    assert classifier(write_config, SCOPED.replace('"protein"', '"genome"')).fingerprint != a


def test_non_ascii_text_is_normalised(tmp_path, write_config):
    c = classifier(write_config, ONE)
    assert sections(c, paper("Schütze’s encoder–only model")) == ["enc"]
    assert normalise("Ünïcode–dash") == "ünïcode dash"
    # CJK and full-width punctuation break words as ASCII punctuation does; the length is kept
    assert normalise("Encoder（survey），only：模型。") == "encoder survey  only 模型 "
    assert sections(c, paper("An encoder-only model（survey）")) == ["enc"]


def test_forms_of_a_term():
    (spelling,) = parse_term("encoder-only").spellings
    assert not spelling.has_wildcard and {"encoder only", "encoderonly"} <= set(spelling.forms())
    assert parse_term("T5").spellings[0].forms() == ["T5"]


@pytest.mark.parametrize(
    "rule, key",
    [
        ('any = ["x"]\nregex = ["(unclosed"]', "sections.s.regex"),
        ('any = ["x"]\nbogus = 1', "sections.s.bogus"),
        ("any = []", "sections.s.any"),
        ('any = ["x"]\n[sections.weights]\ntitel = 2', "sections.s.weights.titel"),
        ('any = ["x"]\nmin_score = "high"', "sections.s.min_score"),
    ],
)
def test_malformed_rule_is_a_config_error_naming_section_and_key(tmp_path, rule, key, write_config):
    path = write_config(**tomllib.loads(f'[[sections]]\nid = "s"\nheading = "S"\n{rule}\n'))
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert key in str(exc.value)


@pytest.mark.parametrize(
    "rule, key",
    [
        ('any = ["x", "--"]', "sections.s.any"),
        ('any = ["Hyena"]\ncase_sensitive = ["Mamba"]', "sections.s.case_sensitive"),
    ],
)
def test_rule_that_cannot_compile_names_section_and_key(tmp_path, rule, key, write_config):
    with pytest.raises(ConfigError) as exc:
        classifier(write_config, f'[[sections]]\nid = "s"\nheading = "S"\n{rule}\n')
    assert key in str(exc.value)


def test_scope_unknown_key_is_a_config_error(tmp_path, write_config):
    with pytest.raises(ConfigError) as exc:
        load_config(write_config(**tomllib.loads(SCOPED.replace('not = ["protein"]', 'nicht = ["protein"]'))))
    assert "scope.nicht" in str(exc.value)
