"""`tracker init`: a starter config for any survey that the config loader accepts."""

from __future__ import annotations

import tomllib

import pytest

from conftest import SEED, SURVEYS
from tracker.survey.init import heading_terms, starter_config, title_names, toml_string
from tracker.config import load_config
from tracker.survey.parse import load_survey, parse_survey

ALL_SURVEYS = sorted(SURVEYS.glob("*.md")) + [SEED]


@pytest.mark.parametrize("path", ALL_SURVEYS, ids=lambda p: p.name)
def test_starter_config_loads_for_every_fixture(path, tmp_path):
    out = tmp_path / "conf" / "tracker.toml"
    out.parent.mkdir()
    survey = load_survey(path)
    out.write_text(starter_config(survey, path, out), encoding="utf-8")
    config = load_config(out)
    assert config.survey.path == path.resolve()
    with_entries = [s for s in survey.sections if s.entries and s.level > 0]
    assert [(s.id, s.heading) for s in config.sections] == [(s.id, s.heading) for s in with_entries]
    assert all(s.rule.any for s in config.sections)
    assert config.scope.any
    assert config.store.path == out.parent / "data" / "tracker.db"


def test_seed_terms_are_the_distinctive_names(tmp_path):
    out = tmp_path / "tracker.toml"
    text = starter_config(load_survey(SEED), SEED, out)
    sections = {s["id"]: s for s in tomllib.loads(text)["sections"]}
    assert sections["encoder-only"]["heading"] == "基于 Encoder-only 架构的大语言模型"
    assert sections["encoder-only"]["any"][:5] == ["Encoder-only", "BERT", "RoBERTa", "ALBERT", "ELECTRA"]
    assert {"mT5", "Bart", "Encoder-Decoder"} <= set(sections["encoder-decoder"]["any"])
    assert {"LLaMA", "GPT-3", "QLoRA", "WebGPT"} <= set(sections["decoder-only"]["any"])
    assert {"RWKV", "Mamba"} <= set(sections["non-transformer"]["any"])
    assert "Transformer" not in sections["non-transformer"]["any"]  # "非 Transformer" means non-Transformer
    assert "section-1" not in sections  # the title heading has no entries


def test_term_extraction_rules():
    assert heading_terms("基于 Encoder-only 架构的大语言模型") == ["Encoder-only"]
    assert heading_terms("Practical Guide for Models") == []
    assert title_names("RoBERTa: A Robustly Optimized BERT Pretraining Approach") == ["RoBERTa", "BERT"]
    assert "Mamba" in title_names("Mamba: Linear-Time Sequence Modeling with Selective State Spaces")
    assert title_names("Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer") == []
    assert "T5" in title_names("Scaling T5 and GPT-3 models") and "GPT-3" in title_names("Scaling T5 and GPT-3 models")
    assert title_names("ELECTRA: PRE-TRAINING TEXT ENCODERS AS DISCRIMINATORS") == ["ELECTRA"]
    assert "20B" not in title_names("AlexaTM 20B: Few-Shot Learning")


def test_toml_escaping_of_odd_headings(tmp_path):
    heading = 'Quotes " and \\ back\tslash \x7f and 🚀'
    survey = parse_survey(f"# T\n## {heading}\n- [Some Paper](https://arxiv.org/abs/2401.00001)\n", "odd.md")
    out = tmp_path / "odd.toml"
    out.write_text(starter_config(survey, tmp_path / "odd.md", out), encoding="utf-8")
    config = load_config(out)
    assert config.sections[0].heading == survey.sections[1].heading
    assert tomllib.loads("x = " + toml_string("a\x00b\x7f\"\\"))["x"] == "a\x00b\x7f\"\\"


def test_init_command(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("init", str(SEED))
    assert code == 0 and "[[sections]]" in out
    tomllib.loads(out)
    target = tmp_path / "cfg" / "tracker.toml"
    code, out, err = run_cli("init", str(SEED), "--out", str(target))
    assert code == 0 and out == "" and target.exists()
    assert load_config(target).sections[0].heading == "大数据+大模型→新智能"
    before = target.read_bytes()
    code, out, err = run_cli("init", str(SURVEYS / "thunlp-PLMpapers__README.md"), "--out", str(target))
    assert code == 1 and "already exists" in err and "--force" in err and out == ""
    assert target.read_bytes() == before
    code, out, err = run_cli("init", str(SURVEYS / "thunlp-PLMpapers__README.md"), "--out", str(target), "--force")
    assert code == 0 and load_config(target).sections[0].id == "open-plms"
    assert sorted(p.name for p in target.parent.iterdir()) == ["tracker.toml"]  # no temp files left


def test_init_bad_survey(run_cli, tmp_path):
    code, out, err = run_cli("init", str(tmp_path / "nope.md"))
    assert code == 1 and out == "" and err.startswith("error: ") and "nope.md" in err
    empty = tmp_path / "empty.md"
    empty.write_text("# Nothing here\n", encoding="utf-8")
    code, out, err = run_cli("init", str(empty))
    assert code == 1 and "no entries" in err and out == ""
