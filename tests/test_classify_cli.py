"""`tracker classify` and `tracker explain` end to end, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracker.classify.matcher import Classifier
from tracker.config import load_config
from tracker.models import Paper, WorkLink
from tracker.store import open_store
from tracker.store.classifications import save_classifications
from tracker.store.links import save_links
from tracker.store.papers import upsert_papers

RULES = {
    "scope": {"any": ["language model", "LLM"]},
    "sections": [
        {"id": "decoder_only", "heading": "基于 Decoder-only 架构的大语言模型", "any": ["decoder-only", "GPT"]},
        {"id": "encoder_only", "heading": "基于 Encoder-only 架构的大语言模型", "any": ["*BERT", "masked language model"]},
    ],
}

LLAMA = Paper(id="2302.13971", title="LLaMA: a decoder-only language model", abstract="Like GPT-3, but open.",
              published="2023-02-27", version=1)
BIO = Paper(id="2501.00002", title="Protein folding", abstract="No words of interest.", published="2025-01-01")


@pytest.fixture
def cfg(write_config) -> Path:
    return write_config(RULES)


def write_jsonl(path: Path, objs: list) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def test_classify_prints_one_line_per_paper_in_the_design_shape(run_cli, cfg, tmp_path):
    papers = write_jsonl(tmp_path / "p.jsonl", [LLAMA.to_json(), BIO.to_json()])
    code, out, err = run_cli("--config", str(cfg), "classify", "--input", str(papers))
    assert code == 0, err
    first, second = [json.loads(line) for line in out.splitlines()]
    assert first["id"] == "2302.13971"
    [section] = first["sections"]
    assert section["section"] == "decoder_only"
    assert section["heading"] == "基于 Decoder-only 架构的大语言模型"
    assert section["score"] == 4.0  # title 3 + abstract 1
    assert {(m["term"], m["field"]) for m in section["matches"]} == {("decoder-only", "title"), ("GPT", "abstract")}
    assert second == {"id": "2501.00002", "sections": []}


def test_classify_reads_stdin(cfg, tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(cfg), "classify", "--input", "-"],
        input=json.dumps(LLAMA.to_json()) + "\n", capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sections"][0]["section"] == "decoder_only"


def test_classify_bad_line_prints_nothing_and_names_file_line_field(run_cli, cfg, tmp_path):
    bad = dict(LLAMA.to_json(), title=None)
    papers = write_jsonl(tmp_path / "p.jsonl", [BIO.to_json(), bad])
    code, out, err = run_cli("--config", str(cfg), "classify", "--input", str(papers))
    assert code == 1
    assert out == ""
    assert err.startswith("error: ") and "p.jsonl:2" in err and "'title'" in err
    assert len(err.strip().splitlines()) == 1


def test_classify_invalid_json_is_an_error(run_cli, cfg, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "1", \n', encoding="utf-8")
    code, out, err = run_cli("--config", str(cfg), "classify", "--input", str(path))
    assert code == 1 and out == "" and "p.jsonl:1" in err


def test_classify_without_input_is_a_usage_error(run_cli, cfg):
    code, _out, err = run_cli("--config", str(cfg), "classify")
    assert code == 2 and "--input" in err


def fill_store(cfg: Path, fingerprint: str | None) -> None:
    config = load_config(cfg)
    db = open_store(config.store.path)
    upsert_papers(db, [LLAMA, BIO], source="test")
    if fingerprint is not None:
        scores = Classifier.from_config(config).classify(LLAMA)
        save_classifications(db, [(LLAMA.id, scores)], fingerprint)
    save_links(db, [WorkLink(LLAMA.id, "2005.14165", "mentions", "abstract")])
    db.conn.close()


def test_explain_shows_stored_sections_terms_and_links(run_cli, cfg):
    fill_store(cfg, Classifier.from_config(load_config(cfg)).fingerprint)
    code, out, err = run_cli("--config", str(cfg), "explain", "2302.13971v1")
    assert code == 0, err
    assert "LLaMA: a decoder-only language model" in out
    assert "stored classification, made with the current rules" in out
    assert "decoder_only" in out and "score 4" in out
    assert "title" in out and "decoder-only" in out and "GPT" in out
    assert "mentions" in out and "2005.14165" in out and "abstract" in out


def test_explain_json_and_stale_rules_classify_afresh(run_cli, cfg):
    fill_store(cfg, "an-old-fingerprint")
    code, out, err = run_cli("--config", str(cfg), "explain", "2302.13971", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "classified_now"
    assert "an-old-fingerprint" in data["note"]
    assert data["sections"][0]["section"] == "decoder_only"
    assert {"term": "GPT", "field": "abstract", "text": "GPT"} in data["sections"][0]["matches"]
    assert data["links"] == [{"work_id": "2005.14165", "kind": "mentions", "where": "abstract", "work_title": ""}]
    assert data["in_scope"] is True


def test_explain_missing_classification_and_out_of_scope(run_cli, cfg):
    fill_store(cfg, None)
    code, out, err = run_cli("--config", str(cfg), "explain", "2501.00002")
    assert code == 0, err
    assert "no stored classification" in out
    assert "no scope term matched" in out and "sections: none" in out


def test_explain_unknown_id_is_an_error(run_cli, cfg):
    fill_store(cfg, None)
    code, out, err = run_cli("--config", str(cfg), "explain", "9999.99999")
    assert code == 1 and "9999.99999" in err and out == "" and "nor is it an arXiv id" not in err
    code, out, err = run_cli("--config", str(cfg), "explain", "garbage")
    assert code == 1 and "paper garbage is not in the store" in err and "nor is it an arXiv id" in err


def test_explain_without_a_store_is_an_error(run_cli, cfg):
    code, _out, err = run_cli("--config", str(cfg), "explain", "2302.13971")
    assert code == 1 and "no database yet" in err


def test_explain_shows_the_papers_words_not_rule_syntax(run_cli, cfg):
    config = load_config(cfg)
    db = open_store(config.store.path)
    tiny = Paper(id="2501.00003", title="Distilling TinyBERT-style language models", abstract="A masked language modeling study.",
                 published="2025-01-01")
    upsert_papers(db, [tiny], source="test")
    db.conn.close()
    code, out, err = run_cli("--config", str(cfg), "explain", tiny.id)
    assert code == 0, err
    assert "TinyBERT" in out and "*BERT" not in out
    code, out, err = run_cli("--config", str(cfg), "explain", tiny.id, "--json")
    matches = json.loads(out)["sections"][0]["matches"]
    assert {"term": "*BERT", "field": "title", "text": "TinyBERT"} in matches
