"""Acceptance tests: the CLI contract of DESIGN.md on bad input (one-line error, exit 1/2,
no traceback, nothing half-written), for init, survey, patch, classify, eval, poll, export
and the config loader."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tracker.config import load_config
from tracker.errors import ConfigError, SourceError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = FIXTURES / "seed" / "llm-survey.md"
SURVEYS = FIXTURES / "surveys"

# The example of DESIGN.md's "Configuration keys", verbatim keys and shapes.
DESIGN_CONFIG = """
[survey]
path = "llm-survey.md"
[store]
path = "data/tracker.db"
[arxiv]
api_url = "http://127.0.0.1:9/api/query"
rss_url = "http://127.0.0.1:9/rss"
categories = ["cs.CL", "cs.LG", "cs.AI"]
delay_seconds = 3.0
retries = 0
timeout_seconds = 2
[scope]
any = ["language model", "BERT"]
[[sections]]
id = "encoder-only"
heading = "基于 Encoder-only 架构的大语言模型"
any = ["BERT", "encoder-only"]
[citations]
provider = "none"
api_url = "https://api.semanticscholar.org"
api_key_env = "S2_API_KEY"
[propose]
auto_accept_score = 0
[schedule]
timezone = "America/New_York"
poll = "30 20 * * sun-thu"
digest = "0 8 * * *"
email = "0 8 * * mon"
propose = "0 9 * * mon"
"""


DESIGN = tomllib.loads(DESIGN_CONFIG)  # the config layer of these tests: write_config(DESIGN, arxiv={...})
INF, NAN = float("inf"), float("nan")


@pytest.fixture(autouse=True)
def seed_survey(tmp_path):
    """The design example's survey, next to the config every test here writes."""
    (tmp_path / "llm-survey.md").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# --- config loader -------------------------------------------------------------------


ENCODER = DESIGN["sections"][0]


@pytest.mark.parametrize(
    "tables,key",
    [
        ({"arxiv": {"delay_seconds": INF}}, "arxiv.delay_seconds"),
        ({"arxiv": {"delay_seconds": NAN}}, "arxiv.delay_seconds"),
        ({"arxiv": {"timeout_seconds": NAN}}, "arxiv.timeout_seconds"),
        ({"arxiv": {"retries": -1}}, "arxiv.retries"),
        ({"arxiv": {"overlap_days": -3}}, "arxiv.overlap_days"),
        ({"arxiv": {"first_poll_days": -1}}, "arxiv.first_poll_days"),
        ({"arxiv": {"api_url": ""}}, "arxiv.api_url"),
        ({"arxiv": {"api_url": "127.0.0.1:9/api/query"}}, "arxiv.api_url"),
        ({"arxiv": {"rss_url": "rss.arxiv.org/rss"}}, "arxiv.rss_url"),
        ({"citations": {"api_url": "api.semanticscholar.org"}}, "citations.api_url"),
        ({"arxiv": {"categories": ["cs CL"]}}, "arxiv.categories"),
        ({"citations": {"page_size": 0}}, "citations.page_size"),
        ({"sections": [{**ENCODER, "any": ["BERT"], "min_score": INF}]}, "sections.encoder-only.min_score"),
    ],
)
def test_config_rejects_values_that_break_a_poll(tmp_path, run_cli, tables, key, write_config):
    path = write_config(DESIGN, **tables)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"'{key}'" in str(info.value)
    code, out, err = run_cli("--config", str(path), "status")
    assert code == 1 and out == ""
    assert key in one_line_error(err)


def test_design_example_config_loads(tmp_path, write_config):
    config = load_config(write_config(DESIGN))
    assert config.arxiv.categories == ("cs.CL", "cs.LG", "cs.AI")
    assert config.sections[0].id == "encoder-only"


@pytest.mark.parametrize("cats", [["cond-mat.stat-mech", "hep-th", "q-bio.NC", "physics.atom-ph", "math-ph", "stat.ML"]])
def test_config_accepts_real_category_names(tmp_path, cats, write_config):
    path = write_config(DESIGN, arxiv={"categories": cats})
    assert load_config(path).arxiv.categories == tuple(cats)


# --- classify / eval input -----------------------------------------------------------


@pytest.mark.parametrize("command", ["classify", "eval"])
def test_non_utf8_input_is_a_clean_error(tmp_path, run_cli, command, write_config):
    config = write_config(DESIGN)
    bad = tmp_path / "papers.jsonl"
    bad.write_bytes(b'{"id": "2401.00001", "title": "BERT", "sections": ["encoder-only"]}\n\xff\xfe{"id": 1}\n')
    code, out, err = run_cli("--config", str(config), command, "--input", str(bad))
    assert code == 1 and out == ""
    line = one_line_error(err)
    assert "papers.jsonl:2" in line and "UTF-8" in line


def test_classify_accepts_a_utf8_bom(tmp_path, run_cli, write_config):
    config = write_config(DESIGN)
    path = tmp_path / "papers.jsonl"
    path.write_bytes("\ufeff".encode() + b'{"id": "2401.00001", "title": "BERT for X"}\n')
    code, out, err = run_cli("--config", str(config), "classify", "--input", str(path))
    assert code == 0, err
    assert json.loads(out)["id"] == "2401.00001"


def test_version_true_is_not_an_integer(tmp_path, run_cli, write_config):
    config = write_config(DESIGN)
    path = tmp_path / "papers.jsonl"
    path.write_text('{"id": "2401.00001", "title": "BERT", "version": true}\n', encoding="utf-8")
    code, out, err = run_cli("--config", str(config), "classify", "--input", str(path))
    assert code == 1 and out == ""
    assert "papers.jsonl:1" in one_line_error(err) and "'version'" in err


# --- poll ----------------------------------------------------------------------------


def test_poll_since_in_the_future_is_a_usage_error(tmp_path, run_cli, write_config):
    config = write_config(DESIGN)
    code, out, err = run_cli("--config", str(config), "poll", "--since", "2030-01-01", "--now", "2025-10-31T21:00:00-04:00")
    assert code == 2, (out, err)
    assert "--since" in err and "Traceback" not in err
    db = tmp_path / "data" / "tracker.db"
    if db.exists():  # nothing recorded as a successful (empty) poll
        assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM poll_runs").fetchone()[0] == 0


def test_poll_bad_now_is_a_usage_error(tmp_path, run_cli, write_config):
    config = write_config(DESIGN)
    code, out, err = run_cli("--config", str(config), "poll", "--now", "yesterday")
    assert code == 2 and "--now" in err and "Traceback" not in err


def test_rss_error_feed_fails_the_run():
    from tracker.sources.arxiv_rss import parse_feed
    from tracker.standins.arxiv_feeds import error_feed

    body = error_feed("incorrect id format for abc", datetime(2025, 10, 31, tzinfo=timezone.utc)).encode()
    with pytest.raises(SourceError) as info:
        parse_feed(body, "http://127.0.0.1/rss/cs.CL")
    assert "incorrect id format for abc" in str(info.value)


# --- export / init output files ------------------------------------------------------


def test_export_output_under_a_file_is_a_clean_error(tmp_path, run_cli, write_config):
    config = write_config(DESIGN)
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    code, out, err = run_cli("--config", str(config), "export", "--output", str(tmp_path / "afile" / "papers.jsonl"))
    assert code == 1
    assert "afile" in one_line_error(err)


def test_init_out_under_a_file_is_a_clean_error(tmp_path, run_cli):
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    code, out, err = run_cli("init", str(SEED), "--out", str(tmp_path / "afile" / "tracker.toml"))
    assert code == 1
    assert "afile" in one_line_error(err)


# --- patch ---------------------------------------------------------------------------


def test_patch_names_a_non_arxiv_id(tmp_path, run_cli, write_config):
    config = write_config(DESIGN)
    path = tmp_path / "papers.jsonl"
    path.write_text('{"id": "not an id", "title": "A new BERT", "section": "encoder-only"}\n', encoding="utf-8")
    code, out, err = run_cli("--config", str(config), "patch", str(tmp_path / "llm-survey.md"), "--input", str(path))
    assert code == 1 and out == ""
    line = one_line_error(err)
    assert "'id'" in line and "not an id" in line and "arXiv id" in line


# --- init ----------------------------------------------------------------------------


def test_init_config_loads_for_a_list_without_headings_or_latin_titles(tmp_path, run_cli):
    survey = tmp_path / "list.md"
    survey.write_text("1. **大语言模型综述.**  \n    *张三.* [[PDF](https://arxiv.org/abs/2303.18223)], 2023.\n", encoding="utf-8")
    out = tmp_path / "tracker.toml"
    code, _, err = run_cli("init", str(survey), "--out", str(out))
    assert code == 0, err
    config = load_config(out)
    assert all(term.render().strip() for s in config.sections for term in s.rule.any)
    code, _, err = run_cli("--config", str(out), "status")
    assert code == 0, err


def test_patch_without_year_or_authors_writes_no_dangling_separators(tmp_path, run_cli, write_config):
    config = write_config(DESIGN)
    path = tmp_path / "papers.jsonl"
    path.write_text('{"id": "2401.00009", "title": "A new BERT", "section": "encoder-only"}\n', encoding="utf-8")
    code, out, err = run_cli("--config", str(config), "patch", str(tmp_path / "llm-survey.md"), "--input", str(path))
    assert code == 0, err
    added = [line[1:] for line in out.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert "    [[PDF](https://arxiv.org/abs/2401.00009)]." in added, added


def test_patch_without_year_leaves_no_space_before_the_period_in_a_venue_year_list(tmp_path, run_cli, write_config):
    """thunlp's entries end `NeurIPS 2019. [[pdf](...)]`: without a date the venue stands alone, `arXiv.`."""
    survey = tmp_path / "thunlp.md"
    shutil.copy(SURVEYS / "thunlp-PLMpapers__README.md", survey)
    config = write_config(DESIGN)
    path = tmp_path / "papers.jsonl"
    path.write_text('{"id": "2401.00001", "title": "BERT x", "authors": ["A B"], "section": "papers-on-plms-models"}\n',
                    encoding="utf-8")
    code, out, err = run_cli("--config", str(config), "patch", str(survey), "--input", str(path))
    assert code == 0, err
    added = [line[1:] for line in out.splitlines() if line.startswith("+") and not line.startswith("+++")]
    entry = next(line for line in added if "BERT x" in line)
    assert "arXiv." in entry and " ." not in entry, entry
