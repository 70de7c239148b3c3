"""Evaluation metrics on hand-made cases, `tracker eval`, and the shipped rules' quality bar."""

from __future__ import annotations

import io
import json
import statistics
from collections import Counter
from dataclasses import replace

import pytest

from conftest import DEFAULT_CONFIG, FIXTURES
from tracker.classify.matcher import Classifier
from tracker.config import load_config
from tracker.errors import InputError
from tracker.classify.evaluate import evaluate, read_labeled
from tracker.models import Match, Paper, SectionScore
from tracker.standins.arxiv_feeds import SAMPLE_LISTINGS, read_listings

DEV = FIXTURES / "labels" / "labeled-dev.jsonl"
JUDGED_DEV = FIXTURES / "labels" / "labeled-dev-judged.jsonl"
JUDGED_DAYS = sorted((FIXTURES / "labels").glob("judged-2025-*.jsonl"))


def pred(*ids: str) -> list[SectionScore]:
    return [SectionScore(s, s, 10.0 - i, (Match("t", "title"),)) for i, s in enumerate(ids)]


def p(n: int) -> Paper:
    return Paper(id=f"2501.0000{n}", title=f"paper {n}")


def test_metrics_on_a_small_hand_made_set():
    items = [
        (p(1), ["a"], pred("a")),            # right
        (p(2), ["a", "b"], pred("b", "a")),  # right (top in label set), both labels predicted
        (p(3), ["b"], pred("a", "b")),       # wrong top, b still recalled
        (p(4), ["b"], []),                   # no section
    ]
    r = evaluate(items, ["a", "b"])
    assert r.total == 4 and r.accuracy == 0.5 and r.coverage == 0.75
    a, b = r.per_section["a"], r.per_section["b"]
    assert (a.support, a.predicted, a.true_positive) == (2, 3, 2)
    assert a.precision == pytest.approx(2 / 3) and a.recall == 1.0
    assert (b.support, b.predicted, b.true_positive) == (3, 2, 2)
    assert b.precision == 1.0 and b.recall == pytest.approx(2 / 3)
    assert a.top_accuracy == 1.0 and b.top_accuracy == pytest.approx(1 / 3)
    assert r.confusion == {"a": {"a": 1, "b": 0, "none": 0}, "b": {"a": 1, "b": 1, "none": 1}}
    assert r.micro() == (pytest.approx(4 / 5), pytest.approx(4 / 5))
    assert [m["id"] for m in r.misses] == ["2501.00003", "2501.00004"]


def test_labels_compare_with_dash_and_underscore_alike():
    r = evaluate([(p(1), ["Encoder-Only"], pred("encoder_only"))], ["encoder_only"])
    assert r.accuracy == 1.0


def test_read_labeled_rejects_missing_labels():
    line = json.dumps({"id": "2501.00001", "title": "x"}) + "\n"
    with pytest.raises(InputError, match=r"dev:1: field 'sections'"):
        list(read_labeled(io.StringIO(line), "dev"))


def test_eval_command_json_and_table(run_cli, tmp_path, write_config):
    cfg = write_config(survey={"path": "s.md"}, sections=[{"id": "enc", "heading": "E", "any": ["*BERT"]},
                                                          {"id": "dec", "heading": "D", "any": ["GPT"]}])
    data = tmp_path / "l.jsonl"
    rows = [("BERT again", ["enc"]), ("GPT again", ["enc"]), ("Nothing", ["dec"]), ("GPT too", ["dec"])]
    data.write_text("".join(json.dumps({"id": f"2501.0000{i}", "title": t, "sections": s}) + "\n"
                            for i, (t, s) in enumerate(rows)), encoding="utf-8")
    code, out, err = run_cli("--config", str(cfg), "eval", "--input", str(data), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["top_accuracy"] == 0.5 and report["coverage"] == 0.75
    assert report["confusion"]["enc"] == {"enc": 1, "dec": 1, "none": 0}
    assert {s["section"]: s["precision"] for s in report["sections"]} == {"enc": 1.0, "dec": 0.5}
    code, out, err = run_cli("--config", str(cfg), "eval", "--input", str(data), "--misses")
    assert code == 0, err
    assert "top-section accuracy 0.500" in out and "coverage 0.750" in out and "confusion" in out
    assert "miss 2501.00001" in out


def shipped_report(path):
    """`tracker eval`'s report for the shipped rules on one labeled or judged file, without the
    learned gate: its weights were fitted on these very labels, so they are measured held out
    instead (tests/test_learned.py, bench/learned.py)."""
    classifier = Classifier.from_config(replace(load_config(DEFAULT_CONFIG), relevance=None))
    with path.open(encoding="utf-8") as stream:
        items = [(l.paper, l.labels, classifier.classify(l.paper)) for l in read_labeled(stream, str(path))]
    return evaluate(items, classifier.section_ids)


def read_jsonl(path) -> list[dict]:
    with path.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def test_shipped_rules_reach_the_quality_bar_on_the_judged_dev_labels():
    """Regression guard for config/tracker.toml on the curated labels a blind judge also keeps
    (the judge's no lines are negatives): a floor below the measured figures (docs/classification.md)."""
    report = shipped_report(JUDGED_DEV)
    assert report.positives == 147
    assert report.accuracy >= 0.80, report.to_json()["sections"]
    assert report.coverage >= 0.88


def test_shipped_rules_send_mostly_what_the_judge_keeps_on_whole_days():
    """The six judged announcement days: the digest is mostly papers the judge keeps and finds most
    of them (floors well below the measured figures; bench/relevance.py prints them)."""
    sent = kept = both = 0
    for path in JUDGED_DAYS:
        relevance = shipped_report(path).relevance
        sent, kept, both = sent + relevance.predicted, kept + relevance.support, both + relevance.true_positive
    assert len(JUDGED_DAYS) == 6 and kept > 250
    assert both / sent >= 0.65, (both, sent)
    assert both / kept >= 0.65, (both, kept)


def test_the_shipped_config_keeps_to_the_judge_on_days_it_never_saw():
    """Two days judged after the shipped rules, weights and bars were frozen (labels/fresh,
    see ORIGINS.md), with the learned gate as shipped: measured precision 0.807, recall
    0.780 pooled; floors under them, at the issue's targets less a margin for one judge."""
    classifier = Classifier.from_config(load_config(DEFAULT_CONFIG))
    fresh = sorted((FIXTURES / "labels" / "fresh").glob("judged-*.jsonl"))
    sent = kept = both = 0
    for path in fresh:
        with path.open(encoding="utf-8") as stream:
            items = [(l.paper, l.labels, classifier.classify(l.paper)) for l in read_labeled(stream, str(path))]
        relevance = evaluate(items, classifier.section_ids).relevance
        sent, kept, both = sent + relevance.predicted, kept + relevance.support, both + relevance.true_positive
    assert len(fresh) == 2 and kept == 59
    assert both / sent >= 0.72 and both / kept >= 0.6, (both, sent, kept)


def test_shipped_rules_hold_no_labeled_ids_or_titles():
    """Rules must generalise: no term of the scope or a section may be a labeled or judged paper's id or whole title."""
    config = load_config(DEFAULT_CONFIG)
    rules = [config.scope] + [s.rule for s in config.sections]
    terms = {sp.text.lower() for r in rules for t in r.positive_terms + r.not_ + r.title_not + r.unless for sp in t.spellings}
    assert len(terms) > 100
    for path in (DEV, JUDGED_DEV, *JUDGED_DAYS):
        for obj in read_jsonl(path):
            assert obj["id"] not in terms
            assert obj["title"].strip(" .").lower() not in terms


def test_shipped_rules_keep_the_sample_days_readable():
    """The three bundled announcement days: every day's digest stays in a readable range."""
    classifier = Classifier.from_config(load_config(DEFAULT_CONFIG))
    kept: Counter = Counter()
    for obj in read_listings(SAMPLE_LISTINGS):
        kept[obj["published"]] += bool(classifier.classify_dict(obj))
    assert len(kept) == 3
    assert 5 <= statistics.median(kept.values()) <= 40


def test_eval_warns_about_labels_no_section_has_and_refuses_empty_input(run_cli, tmp_path, write_config):
    cfg = write_config(survey={"path": "s.md"}, sections=[{"id": "encoder_only", "heading": "E", "any": ["*BERT"]}])
    data = tmp_path / "l.jsonl"
    data.write_text(json.dumps({"id": "2501.00001", "title": "BERT again", "sections": ["encoder-only"]}) + "\n"
                    + json.dumps({"id": "2501.00002", "title": "Mamba again", "sections": ["ssm"]}) + "\n", encoding="utf-8")
    code, out, err = run_cli("--config", str(cfg), "eval", "--input", str(data), "--json")
    assert code == 0 and json.loads(out)["top_accuracy"] == 0.5
    assert "warning:" in err and "ssm" in err and "encoder-only" not in err.split("sections:")[0]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    code, out, err = run_cli("--config", str(cfg), "eval", "--input", str(empty))
    assert code == 1 and out == "" and "no labeled papers" in err


def test_negatives_count_in_relevance_and_section_precision():
    items = [
        (p(1), ["a"], pred("a")),   # relevant, kept, right
        (p(2), [], pred("a")),      # negative given a section: a false positive
        (p(3), [], []),             # negative left out: right
        (p(4), ["b"], []),          # relevant, missed
    ]
    r = evaluate(items, ["a", "b"])
    assert (r.positives, r.negatives) == (2, 2)
    assert r.relevance.to_json()["kept"] == 2 and (r.relevance.support, r.relevance.true_positive) == (2, 1)
    assert r.relevance.precision == 0.5 and r.relevance.recall == 0.5 and r.relevance.f1 == 0.5
    assert r.accuracy == 0.5 and r.coverage == 0.5  # over the positives only
    assert r.per_section["a"].precision == 0.5 and r.per_section["a"].f1 == pytest.approx(2 / 3)
    assert r.confusion["none"] == {"a": 1, "b": 0, "none": 1}
    assert [m["id"] for m in r.misses] == ["2501.00002", "2501.00004"]


@pytest.mark.parametrize(
    "extra, labels",
    [({"sections": []}, ()), ({"sections": ["a"], "verdict": "no"}, ()), ({"sections": ["a"], "verdict": "yes"}, ("a",))],
)
def test_read_labeled_reads_negatives(extra, labels):
    line = json.dumps({"id": "2501.00001", "title": "x", **extra}) + "\n"
    assert [l.labels for l in read_labeled(io.StringIO(line), "dev")] == [labels]


def test_read_labeled_rejects_a_bad_verdict():
    line = json.dumps({"id": "2501.00001", "title": "x", "sections": [], "verdict": "maybe"}) + "\n"
    with pytest.raises(InputError, match=r"dev:1: field 'verdict'"):
        list(read_labeled(io.StringIO(line), "dev"))


def test_eval_on_a_judged_day_reports_any_section_figures(run_cli):
    day = FIXTURES / "labels" / "judged-2025-10-17.jsonl"
    rows = [json.loads(line) for line in day.open(encoding="utf-8")]
    code, out, err = run_cli("--config", str(DEFAULT_CONFIG), "eval", "--input", str(day), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["papers"] == len(rows)
    assert report["negatives"] == sum(r["verdict"] == "no" for r in rows) > 0
    rel = report["relevance"]
    assert rel["relevant"] == report["positives"] and rel["kept"] >= rel["kept_relevant"]
    assert 0 < rel["precision"] <= 1 and 0 < rel["recall"] <= 1
    assert rel["f1"] == pytest.approx(2 * rel["precision"] * rel["recall"] / (rel["precision"] + rel["recall"]), abs=1e-3)


def test_eval_table_keeps_every_section_name_with_many_sections(run_cli, tmp_path, write_config):
    names = [f"section_with_a_rather_long_name_{i:02d}" for i in range(24)]
    cfg = write_config(survey={"path": "s.md"},
                       sections=[{"id": n, "heading": f"H{i}", "any": [f"topic{i}"]} for i, n in enumerate(names)])
    data = tmp_path / "l.jsonl"
    data.write_text("".join(json.dumps({"id": f"2501.{i:05d}", "title": f"On topic{i}", "sections": [n]}) + "\n"
                            for i, n in enumerate(names)) + json.dumps({"id": "2501.99999", "title": "x", "sections": []}) + "\n",
                    encoding="utf-8")
    code, out, err = run_cli("--config", str(cfg), "eval", "--input", str(data))
    assert code == 0, err
    table = out.split("confusion")[0]
    for n in names:
        assert f"\n{n} " in table
    assert "any section: precision 1.000   recall 1.000   F1 1.000" in out
    assert "25 labeled papers: 24 in a section, 1 negatives" in out
