"""Learning rules: `suggest` (log-odds over phrases), `tune` (decisions -> changes), in-place edits, cached abstracts."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import pytest

from conftest import REPEATED_HEADINGS, repeated_layer
from tracker.classify.suggest import phrases, suggest
from tracker.classify.terms import parse_term
from tracker.classify.tune import Decided, tune
from tracker.config import load_config
from tracker.config.edit import read_config_for_edit, write_if_unchanged
from tracker.errors import TrackerError
from tracker.models import Paper
from tracker.run.learn import survey_sections
from tracker.standins.arxiv import ArxivReplay
from tracker.standins.arxiv_feeds import SAMPLE_LISTINGS
from tracker.store import open_store
from tracker.store.papers import upsert_papers
from tracker.survey.parse import parse_survey

COMMON = ["We study learning with large models on the task.", "A model for learning the data.",
          "Results show the method improves the model."]


def bg_papers(n: int = 120) -> list[Paper]:
    return [Paper(id=f"b{i}", title=f"Learning a model for task {i % 17}", abstract=COMMON[i % 3]) for i in range(n)]


def test_phrases_are_rule_terms():
    found = phrases("ZeRO-Offload: Fine-Tuning of Mixture-of-Experts LLMs, GPT-4o and State Space Models")
    terms = set(found.values())
    assert {"ZeRO-Offload", "fine-tuning", "mixture-of-expert", "LLM", "GPT-4o", "state space model"} <= terms
    assert not {"fine", "tuning of", "of", "offload"} & terms  # no cut hyphenated words, no stop words at the ends
    assert all(not t.endswith(" of") for t in terms)
    assert {"model size", "batch size", "buzz"} <= set(phrases("Model sizes, batch sizes and buzzes").values())  # not `siz`
    possessive = set(phrases("What Does BERT's Attention Look At? GPT’s Heads Don't Say").values())
    assert {"BERT", "attention", "GPT", "head"} <= possessive
    assert not {t for t in possessive if t.split()[0].lower() in ("s", "t")}  # no `s attention`


def test_suggest_ranks_a_planted_term_above_common_words():
    positives = [Paper(id=f"p{i}", title=f"Quasar attention for learning task {i}", abstract=COMMON[i % 3]) for i in range(6)]
    result = suggest({"quasar": positives}, bg_papers())["quasar"]
    ranked = [c.term for c in result.candidates]
    assert ranked[0] in ("quasar", "quasar attention")
    for common in ("learning", "model", "task"):
        if common in ranked:
            assert ranked.index(common) > ranked.index("quasar attention")
    assert {c.term for c in result.chosen} & {"quasar", "quasar attention"}
    assert not {c.term for c in result.chosen} & {"learning", "model", "task"}
    best = result.candidates[0]
    assert best.hits == 6 and best.background_hits == 0 and best.precision == 1.0 and len(best.examples) == 2


def test_suggest_leaves_out_phrases_that_hold_a_term_the_rule_has():
    """`model compression` beside `compression` adds no paper, only a second count of the same
    words; `model pretraining` is held by `pre-training` (a hyphen also matches run together)."""
    positives = [Paper(id=f"p{i}", title=f"Quasar model compression and model pretraining {i}", abstract=COMMON[i % 3])
                 for i in range(6)]
    fresh = {c.term for c in suggest({"s": positives}, bg_papers())["s"].candidates}
    assert {"model compression", "model pretraining"} <= fresh
    result = suggest({"s": positives}, bg_papers(), {"s": [parse_term("compression"), parse_term("pre-training|PT")]})["s"]
    shown = {c.term for c in result.candidates}
    assert not shown & {"compression", "model compression", "model pretraining", "quasar model compression"}
    assert {"quasar", "quasar model"} & shown
    kept = suggest({"s": positives}, bg_papers(), {"s": [parse_term("compression")]}, contained=False)["s"].candidates
    assert "model compression" in {c.term for c in kept}  # a `not` list wants the longer phrase


CONFIG = """\
# my curated rules: keep this comment
[survey]
path = "list.md"

[store]
path = "data/tracker.db"

[arxiv]
api_url = "{api}"
delay_seconds = 0.0
retries = 0

[[sections]]
id = "ssm"
heading = "State space models"
# the names we care about
any = ["mamba", "hyena"]   # trailing comment

[[sections]]
id = "llm"
heading = "Language models"
any = ["language model"]
"""


def _config(tmp_path: Path, api: str = "http://127.0.0.1:9/api/query", survey: str = "# L\n") -> Path:
    (tmp_path / "list.md").write_text(survey, encoding="utf-8")
    path = tmp_path / "tracker.toml"
    path.write_text(CONFIG.format(api=api), encoding="utf-8")
    return path


def _decisions() -> list[Decided]:
    good = [Paper(id=f"g{i}", title=f"Mamba language model scaling {i}", abstract="Selective state spaces for text.")
            for i in range(4)]
    bad = [Paper(id=f"r{i}", title=f"Mamba for medical image segmentation {i}", abstract="Lesion segmentation in CT.")
           for i in range(3)]
    hyena = [Paper(id=f"h{i}", title=f"Spotted hyena optimizer {i}", abstract="A metaheuristic for scheduling.")
             for i in range(2)]
    return ([Decided(p, "ssm", "ssm") for p in good] + [Decided(p, None, "ssm") for p in bad]
            + [Decided(p, None, "ssm") for p in hyena])


def test_tune_proposes_exclusions_and_drops_with_their_effect(tmp_path):
    config = load_config(_config(tmp_path))
    report = tune(config, _decisions(), bg_papers())
    excluded = [c for c in report.changes if c.key == "not" and c.action == "add"]
    assert excluded and excluded[0].section == "ssm"
    assert set(excluded[0].terms) & {"medical", "medical image", "segmentation", "image segmentation", "lesion"}
    assert excluded[0].after.precision > excluded[0].before.precision
    dropped = [c for c in report.changes if c.action == "remove"]
    assert [(c.section, c.terms) for c in dropped] == [("ssm", ("hyena",))]
    assert report.before.precision < report.after.precision == 1.0
    assert report.after.recall == report.before.recall == 1.0


def test_tune_proposes_no_exclusion_the_stream_is_full_of():
    """Four rejects sharing only `task`, which none of three accepted papers uses, passed the
    2 % accepted-share bar, yet `task` is in every stream paper: it is no exclusion. A word
    the stream rarely has (`lesion`) still is."""
    config = load_config(_config(Path(tempfile.mkdtemp())))
    good = [Paper(id=f"g{i}", title=f"Mamba language model scaling {i}", abstract="Selective state spaces.") for i in range(3)]
    words = ("lesion", "crop", "traffic", "speech")
    bad = [Paper(id=f"r{i}", title=f"Mamba for the {w} task", abstract=f"A {w} task.") for i, w in enumerate(words)]
    decided = [Decided(p, "ssm", "ssm") for p in good] + [Decided(p, None, "ssm") for p in bad]
    excluded = {t for c in tune(config, decided, bg_papers()).changes if c.key == "not" for t in c.terms}
    assert "task" not in excluded
    specific = [Paper(id=f"s{i}", title=f"Mamba for the {w} lesion", abstract=f"A {w} lesion.") for i, w in enumerate(words)]
    decided = [Decided(p, "ssm", "ssm") for p in good] + [Decided(p, None, "ssm") for p in specific]
    assert "lesion" in {t for c in tune(config, decided, bg_papers()).changes if c.key == "not" for t in c.terms}


def test_tune_cli_diff_write_and_next_tune(tmp_path, run_cli):
    path = _config(tmp_path)
    config = load_config(path)
    db = open_store(config.store.path)
    decided = _decisions()
    upsert_papers(db, [d.paper for d in decided], "test")
    from tracker.store.decisions import record_decision

    for d in decided:
        record_decision(db, d.paper.id, "accept" if d.section else "reject", d.section)
    db.conn.close()
    bg = tmp_path / "bg.jsonl"
    bg.write_text("".join(json.dumps(p.to_json()) + "\n" for p in bg_papers()), encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    code, out, err = run_cli("--config", str(path), "tune", "--background", str(bg))
    assert code == 0, err
    assert "-any = [\"mamba\", \"hyena\"]" in out and "+not = [" in out and "P 0.44 R 1.00 -> P" in out
    assert path.read_text(encoding="utf-8") == before  # nothing changes without --write
    code, out, err = run_cli("--config", str(path), "tune", "--background", str(bg), "--write")
    assert code == 0, err
    after = path.read_text(encoding="utf-8")
    assert "# my curated rules: keep this comment" in after and "# the names we care about" in after
    assert "# trailing comment" in after
    rules = load_config(path).sections[0].rule
    terms = [str(t) for t in rules.any]
    assert terms[0] == "mamba" and "hyena" not in terms and rules.not_
    code, out, err = run_cli("--config", str(path), "tune", "--background", str(bg))
    assert code == 0 and "no decisions since the last tune" in out


def test_write_refuses_a_file_changed_underneath(tmp_path):
    path = _config(tmp_path)
    edit = read_config_for_edit(path)
    edit.add_terms("ssm", "any", ["S4", "RetNet"], ["RetNet"])
    text = edit.render()
    assert '# the names we care about\nany = ["mamba", "hyena", "S4", "RetNet"]   # trailing comment' in text
    assert 'case_sensitive = ["RetNet"]' in text
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited by hand meanwhile\n", encoding="utf-8")
    with pytest.raises(TrackerError, match="changed since it was read"):
        write_if_unchanged(edit, text)
    assert path.read_text(encoding="utf-8").endswith("# edited by hand meanwhile\n")
    fresh = read_config_for_edit(path)
    fresh.add_terms("ssm", "any", ["S4"])
    write_if_unchanged(fresh)
    assert "# edited by hand meanwhile" in path.read_text(encoding="utf-8")
    assert [str(t) for t in load_config(path).sections[0].rule.any] == ["mamba", "hyena", "S4"]


def test_a_config_saved_with_a_bom_loads_and_keeps_it_when_edited(tmp_path):
    """Notepad writes a UTF-8 BOM: tomllib called it "Invalid statement (at line 1, column 1)"."""
    path = _config(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert [s.id for s in load_config(path).sections] == ["ssm", "llm"]
    edit = read_config_for_edit(path)
    edit.add_terms("ssm", "any", ["S4"])
    write_if_unchanged(edit)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf# my curated rules")
    assert [str(t) for t in load_config(path).sections[0].rule.any] == ["mamba", "hyena", "S4"]


def _sample(n: int) -> list[dict]:
    with gzip.open(SAMPLE_LISTINGS, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh)]


def test_suggest_fetches_entry_abstracts_once_and_writes(tmp_path, run_cli):
    rows = _sample(40)
    entries = rows[:8]
    survey = "# L\n## State space models\n" + "".join(
        f"- [{r['title']}](https://arxiv.org/abs/{r['id']})\n" for r in entries[:4]) + "## Language models\n" + "".join(
        f"- [{r['title']}](https://arxiv.org/abs/{r['id']}v2)\n" for r in entries[4:])
    bg = tmp_path / "bg.jsonl"
    bg.write_text("".join(json.dumps(r) + "\n" for r in rows[8:]), encoding="utf-8")
    with ArxivReplay(listings=rows) as server:
        path = _config(tmp_path, server.api_url, survey)
        code, out, err = run_cli("--config", str(path), "suggest", "--background", str(bg))
        assert code == 0, err
        first = len(server.api_requests())
        assert first == 1 and server.api_requests()[0].params["id_list"].count(",") == 7
        assert "section ssm: 4 known papers (4 list)" in out
        code, out2, err = run_cli("--config", str(path), "suggest", "--background", str(bg))
        assert code == 0, err
        assert len(server.api_requests()) == first  # the second run makes no request
        assert out2 == out
    from tracker.store.learning import cached_abstracts

    db = open_store(tmp_path / "data" / "tracker.db")
    cached = cached_abstracts(db, [r["id"] for r in entries])
    db.conn.close()
    assert len(cached) == 8 and all(cached[r["id"]] for r in entries)
    before = path.read_text(encoding="utf-8")
    code, out, err = run_cli("--config", str(path), "suggest", "--background", str(bg), "--no-fetch", "--write")
    assert code == 0, err
    after = path.read_text(encoding="utf-8")
    if "wrote" in err:
        assert after != before and "# my curated rules: keep this comment" in after
        load_config(path)
    else:
        assert after == before and "nothing to write" in err


def test_suggest_from_labeled_input_and_errors(tmp_path, run_cli):
    path = _config(tmp_path)
    labeled = tmp_path / "labeled.jsonl"
    lines = [{"id": f"2501.0000{i}", "title": f"Quasar attention for task {i}", "sections": ["ssm"]} for i in range(5)]
    lines += [{"id": f"2502.0000{i}", "title": f"Attention in a language model {i}", "sections": ["llm"]} for i in range(3)]
    lines += [{"id": "2501.00009", "title": "Unrelated", "sections": [], "verdict": "no"}]
    labeled.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    bg = tmp_path / "bg.jsonl.gz"  # gzipped, as listings files usually are
    bg.write_bytes(gzip.compress("".join(json.dumps(p.to_json()) + "\n" for p in bg_papers()).encode()))
    code, out, err = run_cli("--config", str(path), "suggest", "--input", str(labeled), "--background", str(bg),
                             "--section", "ssm", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["sections"][0]["section"] == "ssm" and "quasar" in data["sections"][0]["chosen"]
    # --section shows that section of the full run: the other sections still take part
    code, out, err = run_cli("--config", str(path), "suggest", "--input", str(labeled), "--background", str(bg), "--json")
    assert code == 0, err
    every = {x["section"]: x for x in json.loads(out)["sections"]}
    assert len(every) > 1 and every["ssm"] == data["sections"][0]
    before = path.read_text(encoding="utf-8")
    code, out, err = run_cli("--config", str(path), "suggest", "--input", str(labeled), "--background", str(bg),
                             "--section", "ssm", "--write")
    assert code == 0 and "wrote" in err, err
    after = path.read_text(encoding="utf-8")
    assert after.replace('"hyena", "quasar', '"hyena"').count("\n") == before.count("\n")  # only the any line changed
    assert "# my curated rules: keep this comment" in after and "# trailing comment" in after
    assert "quasar" in [str(t).split()[0] for t in load_config(path).sections[0].rule.any]
    code, out, err = run_cli("--config", str(path), "suggest", "--section", "nope")
    assert code == 1 and "unknown section 'nope'" in err
    gz = tmp_path / "labeled.jsonl.gz"
    gz.write_bytes(gzip.compress(labeled.read_bytes()))
    code, out, err = run_cli("--config", str(path), "suggest", "--input", str(gz), "--background", str(bg),
                             "--section", "ssm", "--json")
    assert code == 0 and json.loads(out)["sections"][0]["candidates"], err
    code, out, err = run_cli("--config", str(path), "suggest", "--input", str(tmp_path / "none.jsonl"), "--background", str(bg))
    assert code == 1 and "none.jsonl: labeled file not found" in err
    labeled.write_text("{not json\n", encoding="utf-8")
    code, out, err = run_cli("--config", str(path), "suggest", "--input", str(labeled), "--background", str(bg))
    assert code == 1 and "labeled.jsonl:1" in err


def test_tune_changes_keep_the_rest_of_a_rule():
    from tracker.classify.tune import RuleChange, apply_changes
    from tracker.config import Rule, SectionConfig

    rule = Rule(any=("mamba",), title_not=("medical",), unless=("language model",), fallback=True, min_score=2)
    section = SectionConfig("ssm", "SSM", rule)
    scope, (changed,) = apply_changes(Rule(any=("ssm",)), [section], [
        RuleChange("ssm", "any", "add", ("ZeRO",), ("ZeRO",), scope=True),
        RuleChange("ssm", "not", "add", ("lesion",))])
    assert [str(t) for t in changed.rule.any] == ["mamba", "ZeRO"] and [str(t) for t in changed.rule.not_] == ["lesion"]
    assert changed.rule.title_not == rule.title_not and changed.rule.unless == rule.unless
    assert changed.rule.fallback and changed.rule.min_score == 2 and "ZeRO" in changed.rule.case_sensitive
    assert [str(t) for t in scope.any] == ["ssm", "ZeRO"]


def test_init_abstracts_are_fetched_once_into_the_new_configs_store(tmp_path, run_cli):
    rows = _sample(12)
    survey = tmp_path / "list.md"
    survey.write_text("# L\n## Part\n" + "".join(f"- [{r['title']}](https://arxiv.org/abs/{r['id']})\n" for r in rows[:6]),
                      encoding="utf-8")
    out = tmp_path / "conf" / "tracker.toml"
    with ArxivReplay(listings=rows) as server:
        code, _, err = run_cli("init", str(survey), "--out", str(out), "--abstracts", "--api-url", server.api_url)
        assert code == 0, err
        assert "abstracts: 6 of 6 entries with an arXiv id (1 requests)" in err
        code, _, err = run_cli("init", str(survey), "--out", str(out), "--abstracts", "--api-url", server.api_url, "--force")
        assert code == 0 and "(0 requests)" in err
        assert len(server.api_requests()) == 1
    assert "titles and abstracts" in out.read_text(encoding="utf-8")
    load_config(out)


def test_suggest_goes_on_from_titles_when_arxiv_cannot_be_reached(tmp_path, run_cli):
    rows = _sample(20)
    survey = "# L\n## State space models\n" + "".join(
        f"- [{r['title']}](https://arxiv.org/abs/{r['id']})\n" for r in rows[:4])
    bg = tmp_path / "bg.jsonl"
    bg.write_text("".join(json.dumps(r) + "\n" for r in rows[4:]), encoding="utf-8")
    path = _config(tmp_path, survey=survey)  # the API at 127.0.0.1:9, where nothing listens
    code, out, err = run_cli("--config", str(path), "suggest", "--background", str(bg))
    assert code == 0, err
    assert "warning: the entries' abstracts could not be fetched" in err and "--no-fetch" in err
    assert "section ssm: 4 known papers (4 list)" in out


def test_learn_takes_each_config_sections_entries_from_its_own_repeated_heading(write_config):
    """By heading alone both config sections learned from the last `### Papers` (Speech)."""
    config = load_config(write_config(repeated_layer("papers", "papers-2")))
    assert survey_sections(config, parse_survey(REPEATED_HEADINGS, "rep.md")) == {"papers": "papers", "papers-2": "papers-2"}
