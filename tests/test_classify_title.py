"""Title-only rule terms: `title_any` scores only in the title, `title_not` drops only from the title."""

from __future__ import annotations

import tomllib

import pytest

from classify_support import classifier, paper, sections
from tracker.config import load_config
from tracker.errors import ConfigError
from tracker.run.pipeline import api_clauses

RULES = """
[scope]
any = ["language model|LLM", "transformer"]
title_not = ["medical|clinical"]

[[sections]]
id = "llm"
heading = "LLMs"
any = ["instruction tuning"]
title_any = ["language model|LLM"]
min_score = 3
"""


def test_title_any_counts_in_the_title_only(tmp_path, write_config):
    c = classifier(write_config, RULES)
    hit = c.classify(paper("Instruction following in LLMs", "We study it."))
    assert [s.section for s in hit] == ["llm"] and hit[0].score == 3.0
    assert [(m.term, m.field) for m in hit[0].matches] == [("LLM", "title")]
    assert sections(c, paper("A study of prompts", "We prompt an LLM, a large language model.")) == []


def test_title_any_adds_to_the_rules_other_terms(tmp_path, write_config):
    c = classifier(write_config, RULES)
    both = c.classify(paper("LLM recipes", "instruction tuning for a language model"))
    assert both[0].score == 4.0
    assert {(m.term, m.field) for m in both[0].matches} == {("LLM", "title"), ("instruction tuning", "abstract")}


def test_title_not_drops_only_when_the_title_says_it(tmp_path, write_config):
    c = classifier(write_config, RULES)
    assert sections(c, paper("Clinical notes with LLMs", "An LLM for hospitals.")) == []
    assert sections(c, paper("LLM training at scale", "Evaluated on medical and legal questions.")) == ["llm"]


def test_title_not_in_a_section_leaves_other_sections(tmp_path, write_config):
    c = classifier(write_config, RULES + """
[[sections]]
id = "arch"
heading = "Architecture"
any = ["transformer"]
title_not = ["vision transformer|ViT"]
""")
    assert sections(c, paper("A vision transformer for LLM inputs")) == ["llm"]
    assert sorted(sections(c, paper("A transformer for LLM inputs"))) == ["arch", "llm"]


def test_a_section_may_be_written_with_title_any_alone(tmp_path, write_config):
    rules = '[arxiv]\nquery = "terms"\n[[sections]]\nid = "s"\nheading = "S"\ntitle_any = ["Mamba"]\ncase_sensitive = ["Mamba"]\n'
    cfg = load_config(write_config(**tomllib.loads(rules)))
    assert [t.render() for t in cfg.sections[0].rule.title_any] == ["Mamba"]
    assert "all:Mamba" in api_clauses(cfg)[0]
    c = classifier(write_config, '[[sections]]\nid = "s"\nheading = "S"\ntitle_any = ["Mamba"]\ncase_sensitive = ["Mamba"]\n')
    assert sections(c, paper("Mamba layers")) == ["s"] and sections(c, paper("mamba layers")) == []


@pytest.mark.parametrize("key", ["title_any", "title_not"])
def test_title_keys_are_checked_like_any_and_not(tmp_path, key, write_config):
    with pytest.raises(ConfigError, match=rf"sections.s.{key}"):
        load_config(write_config(**tomllib.loads(f'[[sections]]\nid = "s"\nheading = "S"\nany = ["x"]\n{key} = [3]\n')))
    with pytest.raises(ConfigError, match=rf"sections.s.{key}'.*has no letters"):
        classifier(write_config, f'[[sections]]\nid = "s"\nheading = "S"\nany = ["x"]\n{key} = ["--"]\n')


def test_empty_title_any_is_an_error(tmp_path, write_config):
    with pytest.raises(ConfigError, match=r"sections.s.title_any.*non-empty"):
        load_config(write_config(**tomllib.loads('[[sections]]\nid = "s"\nheading = "S"\ntitle_any = []\n')))


def test_title_terms_change_the_fingerprint(tmp_path, write_config):
    base = '[[sections]]\nid = "s"\nheading = "S"\nany = ["LLM"]\n'
    a = classifier(write_config, base).fingerprint
    b = classifier(write_config, base + 'title_not = ["medical"]\n').fingerprint
    assert a != b


UNLESS = """
[[sections]]
id = "llm"
heading = "LLMs"
any = ["fine-tuning", "distillation"]
title_not = ["image|video"]
not = ["radiology"]
unless = ["language model|LLM"]
"""


def test_unless_in_the_title_lifts_title_not_but_never_not(tmp_path, write_config):
    c = classifier(write_config, UNLESS)
    assert sections(c, paper("Distillation for image classifiers")) == []
    assert sections(c, paper("Distillation of video LLMs")) == ["llm"]
    assert sections(c, paper("Fine-tuning for radiology", "A language model.")) == []
    assert sections(c, paper("Fine-tuning language models", "Tested on radiology reports.")) == []
    assert sections(c, paper("Fine-tuning language models", "Tested on legal texts.")) == ["llm"]


def test_unless_neither_scores_nor_lifts_from_the_abstract(tmp_path, write_config):
    c = classifier(write_config, UNLESS)
    assert sections(c, paper("Image distillation", "We distil an LLM.")) == []
    assert sections(c, paper("A language model")) == []
    hit = c.classify(paper("Distillation of video LLMs"))
    assert [m.term for m in hit[0].matches] == ["distillation"] and hit[0].score == 3.0


FALLBACK = """
[[sections]]
id = "llm"
heading = "LLMs"
any = ["language model|LLM", "fine-tuning", "reasoning"]
fallback = true

[[sections]]
id = "scaling"
heading = "Scaling"
any = ["scaling law"]
"""


def test_a_fallback_section_comes_after_the_specific_ones(tmp_path, write_config):
    c = classifier(write_config, FALLBACK)
    both = c.classify(paper("Scaling laws for LLM fine-tuning", "language model reasoning"))
    assert [s.section for s in both] == ["scaling", "llm"] and both[1].score > both[0].score
    assert sections(c, paper("LLM fine-tuning")) == ["llm"]


def test_fallback_must_be_a_boolean_and_changes_the_fingerprint(tmp_path, write_config):
    with pytest.raises(ConfigError, match=r"sections.llm.fallback"):
        load_config(write_config(**tomllib.loads(FALLBACK.replace("fallback = true", 'fallback = "yes"'))))
    assert classifier(write_config, FALLBACK).fingerprint != classifier(write_config, FALLBACK.replace("fallback = true", "")).fingerprint


def test_title_all_groups_must_each_match_in_the_title(tmp_path, write_config):
    c = classifier(write_config, """
[scope]
all = [["language model|LLM"]]
title_all = [["fine-tuning|distillation|reasoning"]]

[[sections]]
id = "llm"
heading = "LLMs"
any = ["language model|LLM"]
""")
    assert sections(c, paper("Distillation of reasoning", "for a language model")) == ["llm"]
    assert sections(c, paper("An LLM for tables", "Fine-tuning a language model for tables.")) == []
    assert sections(c, paper("Distillation of small nets", "No model named.")) == []
    with pytest.raises(ConfigError, match=r"scope.title_all"):
        load_config(write_config(**tomllib.loads('[scope]\ntitle_all = "x"\n[[sections]]\nid = "s"\nheading = "S"\nany = ["x"]\n')))


def test_the_title_scope_gate_changes_no_result(monkeypatch):
    """Papers whose title alone rules them out of scope skip the scan of their other fields;
    with the gate off, the bundled rules give the same sections on the sample listings."""
    from pathlib import Path

    from tracker.classify.matcher import Classifier
    from tracker.models import open_input, read_papers

    root = Path(__file__).resolve().parent.parent
    c = Classifier.from_config(load_config(root / "config" / "tracker.toml"))
    papers = list(read_papers(open_input(str(root / "tests/fixtures/listings/sample-2025-10-29_31.jsonl.gz")), "sample"))
    gated = [c.classify(p) for p in papers]
    assert sum(1 for p in papers if c._title_rules_out(c._scan((p.title, p.abstract, p.comment, p.journal_ref)))) > len(papers) // 2
    monkeypatch.setattr(c, "_title_rules_out", lambda hits: False)
    assert [c.classify(p) for p in papers] == gated and any(gated)
