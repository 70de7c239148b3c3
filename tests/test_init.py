"""`tracker init`: a starter config for any survey, its rules learned from the entries, that the config loader accepts."""

from __future__ import annotations

import re
import tomllib

import pytest

from conftest import SEED, SURVEYS
from tracker.classify.background import bundled_background
from tracker.classify.matcher import Classifier
from tracker.classify.suggest import MAX_BACKGROUND_SHARE, MIN_HITS
from tracker.config import Rule, load_config
from tracker.models import Paper
from tracker.survey.init import MIN_ENTRIES, learn_starter, starter_config, toml_string
from tracker.survey.parse import load_survey, parse_survey

ALL_SURVEYS = sorted(SURVEYS.glob("*.md")) + [SEED]


@pytest.fixture(scope="module")
def background() -> list[Paper]:
    return bundled_background()


def hits(term: str, case_sensitive: bool, papers: list[Paper]) -> int:
    rule = Rule(any=(term,), case_sensitive=(term,) if case_sensitive else ())
    classifier = Classifier(None, [("t", "", rule)])
    return sum(1 for p in papers if classifier.classify(p))


@pytest.mark.parametrize("path", ALL_SURVEYS, ids=lambda p: p.name)
def test_starter_config_loads_and_every_term_is_learned(path, tmp_path, background, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "conf" / "tracker.toml"
    out.parent.mkdir()
    survey = load_survey(path)
    starter = learn_starter(survey, path, background, out)
    out.write_text(starter.text, encoding="utf-8")
    config = load_config(out)
    Classifier.from_config(config)  # every term compiles
    assert config.survey.path == path.resolve()
    # data/ and out/ of the folder init ran in, like the bundled config/tracker.toml
    # (../data) and the Actions workflow (data/ of the checkout), not conf/data/
    assert config.store.path == tmp_path / "data" / "tracker.db"
    assert config.out_dir == tmp_path / "out"
    by_id = {s.id: s for s in survey.sections}
    assert config.sections and {s.id for s in config.sections} <= set(by_id)
    assert config.telegram is None and config.email is None and config.github is None
    for table in ("telegram", "email", "github", "schedule"):
        assert f"\n# [{table}]\n" in starter.text
    for section in config.sections:
        entries = [Paper(id=str(e.line), title=e.title) for e in by_id[section.id].entries]
        assert len(entries) >= MIN_ENTRIES
        heading_words = {w.lower() for w in re.findall(r"[A-Za-z0-9]+", section.heading)}
        for term in section.rule.any:
            text = str(term)
            exact = text in section.rule.case_sensitive
            # learned, not taken from the heading: the term is in enough of the section's own entries ...
            assert hits(text, exact, entries) >= MIN_HITS, (section.id, text)
            # ... and rare in the background
            assert hits(text, exact, background) <= MAX_BACKGROUND_SHARE * len(background), (section.id, text)
            if text.lower() in heading_words:
                assert hits(text, exact, entries) >= MIN_HITS
    skipped = [s for s in survey.sections if s.entries and s.level > 0 and s.id not in {c.id for c in config.sections}]
    assert len(starter.warnings) >= len(skipped)
    for s in skipped:
        assert f"# id = {toml_string(s.id)}" in starter.text


def test_the_measured_heading_words_are_gone(background):
    """The words issue 12 found `init` writing for LLMsPracticalGuide, from its headings."""
    path = SURVEYS / "Mooler0410-LLMsPracticalGuide__README.md"
    text = learn_starter(load_survey(path), path, background).text
    data = tomllib.loads(text)
    terms = {t.lower() for s in data["sections"] for t in s["any"]} | {t.lower() for t in data.get("scope", {}).get("any", [])}
    assert not terms & {"test", "user", "specific", "abilities", "vision", "3d", "time", "series", "tasks", "data"}


def test_mamba_list_rules_keep_to_mamba_papers(tmp_path, background):
    """On the Mamba collection the learned rules put only papers about state-space models into sections
    (the heading-word config put 259 of the 554 sample papers in, 8 of them about Mamba)."""
    path = SURVEYS / "XiudingCai-Awesome-Mamba-Collection__README.md"
    out = tmp_path / "tracker.toml"
    out.write_text(starter_config(load_survey(path), path, out, background), encoding="utf-8")
    classifier = Classifier.from_config(load_config(out))
    placed = [p for p in background if classifier.classify(p)]
    about = [p for p in placed if re.search(r"mamba|state.space|\bssms?\b", f"{p.title} {p.abstract}", re.I)]
    assert len(placed) <= 25 and len(about) >= len(placed) * 0.5, [p.title for p in placed]
    assert load_config(out).scope.any  # a few terms cover most of this list: it gets a gate


def test_a_section_of_talks_or_code_learns_no_rules(background):
    """Awesome-Mamba's "Videos" (YouTube) learned `S4` and "Codes" (GitHub) `PyTorch`, and then took
    papers as their primary section."""
    text = "# L\n\n## Papers\n\n" + "".join(
        f"- **Selective State Space Model {n} for Long Sequences**. [[paper](https://arxiv.org/abs/2401.0000{n})]\n" for n in range(1, 6)
    ) + "\n## Videos\n\n" + "".join(
        f"- **S4 State Space Talk {n}**. [[video](https://www.youtube.com/watch?v={n})]\n" for n in range(1, 5)
    ) + "\n## Codes\n\n" + "".join(
        f"- **PyTorch State Space Kernels {n}**. [[code](https://github.com/x/s4-{n})]\n" for n in range(1, 5)
    ) + "\n## Models\n\n" + "".join(
        f"- **S4 Model {n}**. [[code](https://github.com/x/s4-{n})] [[paper](https://openreview.net/forum?id={n})]\n" for n in range(1, 5))
    starter = learn_starter(parse_survey(text, "list.md"), SEED, background)
    notes = [w for w in starter.warnings if "talks or code" in w]
    assert [w.split("'")[1] for w in notes] == ["Videos", "Codes"], starter.warnings
    assert not {"videos", "codes"} & set(starter.learned)
    assert '# id = "videos"' in starter.text and '# id = "codes"' in starter.text


def test_a_section_that_takes_a_word_the_whole_list_shares_comes_after_a_specific_one(tmp_path, background):
    """The Mamba collection's Vision holds 284 of its 686 entries, so `mamba` is precise enough
    there to be one of its terms; a language-model Mamba paper listed Vision first. Vision is
    now marked `fallback`, so the specific section comes first, and a Mamba paper that matches
    nothing else still lands in Vision."""
    path = SURVEYS / "XiudingCai-Awesome-Mamba-Collection__README.md"
    out = tmp_path / "tracker.toml"
    out.write_text(starter_config(load_survey(path), path, out, background), encoding="utf-8")
    config = load_config(out)
    vision = config.section("vision")
    assert vision is not None and vision.rule.fallback and "mamba" in [str(t) for t in vision.rule.any]
    assert [s.id for s in config.sections if s.rule.fallback] == ["vision"]
    classifier = Classifier.from_config(config)
    language = Paper(id="2501.00001", title="Scaling Mamba for Long-Context Language Modeling",
                     abstract="We train state-space language models based on Mamba for long-context language modeling.")
    assert [s.section for s in classifier.classify(language)][:2] == ["language", "vision"]
    plain = Paper(id="2501.00002", title="Mamba blocks", abstract="We propose a selective state-space model, Mamba.")
    assert [s.section for s in classifier.classify(plain)] == ["vision"]


def test_only_the_biggest_section_sharing_a_list_wide_word_is_marked_fallback(tmp_path):
    """A reviewer's lists: a small Medical section whose one title lacked `mamba` was marked
    (ordering the specific section last), and two sections sharing words were both marked
    (ordering nothing). One mark at most, on the biggest sharing section."""
    background = [Paper(id=f"b{i}", title=f"Learning models for task {i}", abstract="We study learning.") for i in range(200)]
    organs = ["Liver", "Kidney", "Heart", "Lung", "Brain", "Spleen", "Colon", "Skin", "Bone", "Eye", "Breast", "Prostate"]
    vision = [f"Mamba Vision Backbone {w}" for w in ("Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta", "Theta",
                                                     "Iota", "Kappa", "Lambda", "Omicron", "Sigma", "Tau", "Upsilon")]
    medical = [f"{'Mamba for ' if i else ''}Medical Image Segmentation of the {o}" for i, o in enumerate(organs)]
    survey = _survey({"Vision": vision, "Medical": medical})
    data = tomllib.loads(learn_starter(survey, tmp_path / "planted.md", background, tmp_path / "t.toml").text)
    marked = [s["id"] for s in data["sections"] if s.get("fallback")]
    assert marked == ["vision"], data["sections"]
    assert all("mamba" in s["any"] for s in data["sections"])


def _survey(sections: dict[str, list[str]]):
    lines = ["# A list"]
    for heading, titles in sections.items():
        lines.append(f"## {heading}")
        lines += [f"- [{t}](https://example.org/{i})" for i, t in enumerate(titles)]
    return parse_survey("\n".join(lines) + "\n", "planted.md")


def test_generic_words_are_dropped_and_mixed_case_names_are_exact(tmp_path):
    background = [Paper(id=f"b{i}", title=f"Learning zero-shot models for task {i}", abstract="We study learning.")
                  for i in range(200)]
    survey = _survey({
        "Memory": ["ZeRO: memory optimizations for learning", "ZeRO-Offload: learning billion-scale models",
                   "Sharded learning with ZeRO stages", "Checkpointing for learning at scale"],
        "Tiny": ["One paper", "Two papers"],
    })
    starter = learn_starter(survey, tmp_path / "planted.md", background, tmp_path / "t.toml")
    data = tomllib.loads(starter.text)
    memory = next(s for s in data["sections"] if s["heading"] == "Memory")
    assert "ZeRO" in memory["any"] and "ZeRO" in memory["case_sensitive"]
    assert not {"learning", "model", "zero"} & {t.lower() for t in memory["any"] if t != "ZeRO"}
    assert all(s["heading"] != "Tiny" for s in data["sections"])
    assert any("Tiny" in w and "too few" in w for w in starter.warnings)
    assert '# heading = "Tiny"' in starter.text
    (tmp_path / "t.toml").write_text(starter.text, encoding="utf-8")
    (tmp_path / "planted.md").write_text("# A list\n", encoding="utf-8")
    classifier = Classifier.from_config(load_config(tmp_path / "t.toml"))
    assert classifier.classify(Paper(id="x", title="ZeRO++: faster sharding")) != []
    assert classifier.classify(Paper(id="y", title="A zero-shot learner")) == []


def test_toml_escaping_of_odd_headings(tmp_path):
    heading = 'Quotes " and \\ back\tslash \x7f and 🚀'
    titles = "\n".join(f"- [Zorblax layers part {i}](https://arxiv.org/abs/2401.0000{i})" for i in range(1, 4))
    survey = parse_survey(f"# T\n## {heading}\n{titles}\n", "odd.md")
    out = tmp_path / "odd.toml"
    background = [Paper(id=f"b{i}", title=f"Other paper {i}") for i in range(50)]
    out.write_text(starter_config(survey, tmp_path / "odd.md", out, background), encoding="utf-8")
    config = load_config(out)
    assert config.sections[0].heading == survey.sections[1].heading
    assert "zorblax" in [str(t).lower() for t in config.sections[0].rule.any]
    assert tomllib.loads("x = " + toml_string("a\x00b\x7f\"\\"))["x"] == "a\x00b\x7f\"\\"


def test_init_command(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("init", str(SEED))
    assert code == 0 and "[[sections]]" in out
    assert "warning: section '大语言模型架构概览'" in err and "too few" in err
    tomllib.loads(out)
    target = tmp_path / "cfg" / "tracker.toml"
    code, out, err = run_cli("init", str(SEED), "--out", str(target))
    assert code == 0 and out == "" and target.exists()
    assert load_config(target).sections[0].heading == "基于 Encoder-only 架构的大语言模型"
    before = target.read_bytes()
    code, out, err = run_cli("init", str(SURVEYS / "thunlp-PLMpapers__README.md"), "--out", str(target))
    assert code == 1 and "already exists" in err and "--force" in err and out == ""
    assert target.read_bytes() == before
    code, out, err = run_cli("init", str(SURVEYS / "thunlp-PLMpapers__README.md"), "--out", str(target), "--force")
    assert code == 0 and load_config(target).sections[0].id == "papers-on-plms-models"
    assert sorted(p.name for p in target.parent.iterdir()) == ["tracker.toml"]  # no temp files left


def test_init_bad_survey(run_cli, tmp_path):
    code, out, err = run_cli("init", str(tmp_path / "nope.md"))
    assert code == 1 and out == "" and err.startswith("error: ") and "nope.md" in err
    empty = tmp_path / "empty.md"
    empty.write_text("# Nothing here\n", encoding="utf-8")
    code, out, err = run_cli("init", str(empty))
    assert code == 1 and "no entries" in err and out == ""
    small = tmp_path / "small.md"
    small.write_text("# L\n## A\n- [One](https://x.org/1)\n", encoding="utf-8")
    code, out, err = run_cli("init", str(small))
    assert code == 0 and "no section could be learned" in err and 'any = ["One"]' in out


def test_no_gate_when_no_few_terms_cover_the_list(background):
    """LLMsPracticalGuide's sections share no vocabulary: a [scope] of its two most common words
    would block most of its own topics, so none is written and the sections decide alone."""
    path = SURVEYS / "Mooler0410-LLMsPracticalGuide__README.md"
    text = learn_starter(load_survey(path), path, background).text
    assert "scope" not in tomllib.loads(text) and "\n# [scope]\n" in text


def test_init_abstracts_from_an_unreachable_api_names_the_option_not_a_config(run_cli, tmp_path, monkeypatch):
    """There is no config yet when init fails to fetch: the hint pointed at one."""
    from tracker.standins.server import closed_port

    monkeypatch.chdir(tmp_path)
    url = f"http://127.0.0.1:{closed_port()}/api/query"
    code, out, err = run_cli("init", str(SEED), "--abstracts", "--api-url", url, "--out", str(tmp_path / "t.toml"))
    (line,) = [l for l in err.splitlines() if l.startswith("error: ")]
    assert code == 1 and out == "" and f"check --api-url ({url})" in line and "without --abstracts" in line, line
    assert "URL in the config" not in line and not (tmp_path / "t.toml").exists()
