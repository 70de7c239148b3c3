"""Issue 13/15 odds and ends at the CLI: gzipped input, usage errors exit 2, Ctrl-C,
deeply nested TOML, DEBUG logs, and hidden characters in titles and authors."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import SEED

from tracker.models import Paper, display_safe
from tracker.propose.proposals import Candidate, commit_message
from tracker.sources.arxiv_api import parse_page
from tracker.survey.parse import load_survey
from tracker.survey.patch import add_papers

RULES = {
    "sections": [
        {"id": "decoder_only", "heading": "基于 Decoder-only 架构的大语言模型", "any": ["decoder-only", "GPT"]},
        {"id": "encoder_only", "heading": "基于 Encoder-only 架构的大语言模型", "any": ["*BERT"]},
    ],
}
RLO, PDF, ZWSP, ZWJ, LRI, BOM = "\u202e", "\u202c", "\u200b", "\u200d", "\u2066", "\ufeff"
HOSTILE_TITLE = f"A decoder-only GPT{ZWSP} model {RLO}gnp.exe{PDF} and {LRI}more{BOM}"
HOSTILE_AUTHOR = f"Eve{ZWJ} Mallory{RLO}"


@pytest.fixture
def cfg(write_config) -> Path:
    return write_config(RULES)


def jsonl(objs: list[dict]) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode("utf-8")


PAPERS = [
    {"id": "2501.00001", "title": "A decoder-only GPT", "abstract": "", "section": "decoder_only"},
    {"id": "2501.00002", "title": "TinyBERT again", "abstract": "", "section": "encoder_only"},
]


def test_classify_eval_and_patch_read_gzipped_input(run_cli, cfg, tmp_path):
    plain = tmp_path / "p.jsonl"
    plain.write_bytes(jsonl(PAPERS))
    gz = tmp_path / "p.jsonl.gz"
    gz.write_bytes(gzip.compress(jsonl(PAPERS)))
    odd_name = tmp_path / "papers.data"  # recognised by its bytes, not its name
    odd_name.write_bytes(gzip.compress(jsonl(PAPERS)))
    expected = run_cli("--config", str(cfg), "classify", "--input", str(plain))
    assert expected[0] == 0 and len(expected[1].splitlines()) == 2
    for path in (gz, odd_name):
        assert run_cli("--config", str(cfg), "classify", "--input", str(path)) == expected
    labeled = tmp_path / "l.jsonl.gz"
    labeled.write_bytes(gzip.compress(jsonl([{**p, "sections": [p["section"]]} for p in PAPERS])))
    code, out, err = run_cli("--config", str(cfg), "eval", "--input", str(labeled), "--json")
    assert code == 0, err
    assert json.loads(out)["top_accuracy"] == 1.0
    survey = tmp_path / "survey.md"
    survey.write_bytes(SEED.read_bytes())
    code, plain_diff, err = run_cli("--config", str(cfg), "patch", str(survey), "--input", str(plain))
    assert code == 0 and "+++ b/" in plain_diff, err
    assert run_cli("--config", str(cfg), "patch", str(survey), "--input", str(gz)) == (0, plain_diff, "")


def test_corrupt_gzip_input_is_one_error_line(run_cli, cfg, tmp_path):
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(jsonl(PAPERS))[:40])  # truncated
    code, out, err = run_cli("--config", str(cfg), "classify", "--input", str(bad))
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.strip().splitlines() == [err.strip()] and err.startswith("error: ") and "bad.jsonl.gz" in err


@pytest.mark.parametrize(
    "args,needle",
    [(["digest", "--channel", "slack"], "slack"), (["digest", "--channel", "stdout,sms"], "sms"),
     (["poll", "--source", "ftp"], "ftp"), (["classify", "--input", "/nonexistent/p.jsonl"], "p.jsonl")],
)
def test_usage_errors_exit_2(run_cli, cfg, args, needle):
    code, out, err = run_cli("--config", str(cfg), *args)
    assert code == 2 and needle in err and out == ""


def test_ctrl_c_during_a_command_is_one_error_line(run_cli, cfg, monkeypatch):
    import tracker.commands.poll as poll_command

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(poll_command, "poll", interrupted)
    code, out, err = run_cli("--config", str(cfg), "poll", "--source", "rss")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and "interrupted" in lines[0]
    assert "Aborted" not in err and "Traceback" not in err


@pytest.mark.parametrize("nested", ["a = " + "[" * 5000 + "]" * 5000, "a = " + "{b = " * 3000 + "1" + "}" * 3000])
def test_deeply_nested_toml_is_a_config_error(run_cli, tmp_path, nested):
    cfg = tmp_path / "deep.toml"
    cfg.write_text(f'[survey]\npath = "s.md"\n[x]\n{nested}\n', encoding="utf-8")
    code, out, err = run_cli("--config", str(cfg), "status")
    assert code == 1 and "Traceback" not in err and "RecursionError" not in err
    assert err.startswith(f"error: {cfg}") and "nested too deeply" in err


def _cli(cfg: Path, env_level: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_LOG_LEVEL"}
    if env_level is not None:
        env["TRACKER_LOG_LEVEL"] = env_level
    return subprocess.run([sys.executable, "-m", "tracker", "--config", str(cfg), *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_debug_log_level_from_the_environment_prints_debug_lines(cfg, tmp_path):
    papers = tmp_path / "p.jsonl"
    papers.write_bytes(jsonl(PAPERS))
    quiet = _cli(cfg, None, "classify", "--input", str(papers))
    debug = _cli(cfg, " debug ", "classify", "--input", str(papers))
    assert quiet.returncode == debug.returncode == 0 and quiet.stdout == debug.stdout
    assert "level=debug" not in quiet.stderr
    lines = [line for line in debug.stderr.splitlines() if "level=debug" in line]
    assert lines and "event=config.loaded" in lines[0] and str(cfg) in lines[0]
    assert _cli(cfg, "LOUD", "classify", "--input", str(papers)).returncode == 0  # not a level: ignored


def test_display_safe_strips_bidi_and_zero_width_only():
    assert display_safe(HOSTILE_TITLE) == "A decoder-only GPT model gnp.exe and more"
    assert display_safe("Zoë «ملخص» 注意力 ✓") == "Zoë «ملخص» 注意力 ✓"


def test_hidden_characters_never_reach_what_we_write(tmp_path):
    """The one boundary is Paper itself: sources, the store and PAPERS.jsonl all build one."""
    from_json = Paper.from_json({"id": "2501.00003", "title": HOSTILE_TITLE, "authors": [HOSTILE_AUTHOR],
                                 "section": "decoder_only"})
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        "<opensearch:totalResults>1</opensearch:totalResults><entry><id>http://arxiv.org/abs/2501.00003v1</id>"
        "<updated>2025-01-02T00:00:00Z</updated><published>2025-01-02T00:00:00Z</published>"
        f"<title>{HOSTILE_TITLE}</title><summary>s</summary><author><name>{HOSTILE_AUTHOR}</name></author>"
        '<link href="http://arxiv.org/abs/2501.00003v1" rel="alternate" type="text/html"/>'
        '<category term="cs.CL"/></entry></feed>'
    ).encode("utf-8")
    [from_api] = parse_page(atom, "http://127.0.0.1/api").papers
    for paper in (from_json, from_api):
        assert paper.title == display_safe(HOSTILE_TITLE) and paper.authors == ("Eve Mallory",)
    survey = load_survey(SEED)
    headings = {"decoder_only": survey.sections[-1].heading}
    result = add_papers(survey, [from_json], headings)
    message = commit_message("Add 1 paper", [Candidate(from_json, "decoder_only", "H", "accepted")])
    for text in (result.text, message):
        assert not any(ch in text for ch in (RLO, PDF, ZWSP, ZWJ, LRI, BOM)) and "gnp.exe" in text


def test_hidden_characters_are_stripped_in_the_digest_renderings():
    from tracker.config.types import SectionConfig
    from tracker.deliver.digest import build_digest, environment, render_email, weekly_summary
    from tracker.deliver.telegram_html import compose, render_parts
    from tracker.models import Match, SectionScore
    from tracker.store.deliveries import Candidate as Undelivered

    paper = Paper.from_json({"id": "2501.00003", "title": HOSTILE_TITLE, "authors": [HOSTILE_AUTHOR]})
    score = SectionScore("decoder_only", "D", 3.0, (Match("GPT", "title"),))
    start, end = datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2025, 1, 8, tzinfo=timezone.utc)
    sections = [SectionConfig(id="decoder_only", heading="D", rule=None)]  # type: ignore[arg-type]
    digest = build_digest([Undelivered(paper, "2025-01-02T00:00:00+00:00", (score,), ())], sections, "week", start, end)
    env = environment()
    header, parts = render_parts(digest, env)
    telegram = compose([header, *[p for head, body in parts for p in (head, *body)]])
    summary = weekly_summary(sections, {"decoder_only": 1}, {}, [
        {"paper_id": "2501.00003", "title": HOSTILE_TITLE, "decision": "accept", "section": None, "decided_by": "x"}])
    email = render_email(digest, summary, env)
    for text in (telegram, email.text, email.html, email.subject):
        assert not any(ch in text for ch in (RLO, PDF, ZWSP, ZWJ, LRI, BOM))
    assert "gnp.exe" in telegram and "gnp.exe" in email.text

