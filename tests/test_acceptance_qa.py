"""Acceptance findings from driving the `tracker` console script as a new user would:
a config written from DESIGN.md's keys only, run from another folder, against a bare git
remote and the GitHub stand-in. Each test reproduces one bug that was found that way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import SEED
from delivery_fixtures import sample_papers
from forge_support import make_remote

from tracker.config import load_config
from tracker.models import Match, SectionScore
from tracker.standins.github import GitHubStandin
from tracker.store import open_store
from tracker.store.classifications import save_classifications
from tracker.store.decisions import record_decision
from tracker.store.papers import upsert_papers

TOKEN = "ghp_qaAcceptanceToken"

# DESIGN.md's example keys, with every relative path relative to the config's folder.
QA = {  # the config layer of these tests (conftest write_config)
    "survey": {"path": "../lists/llm-survey.md"},
    "store": {"path": "../data/tracker.db"},
    "arxiv": {"api_url": "http://127.0.0.1:9/api/query", "rss_url": "http://127.0.0.1:9/rss",
              "categories": ["cs.CL", "cs.LG", "cs.AI"], "delay_seconds": 0.0},
    "scope": {"any": ["language model", "LLM"]},
    "sections": [
        {"id": "decoder-only", "heading": "基于 Decoder-only 架构的大语言模型", "any": ["GPT", "LLaMA", "decoder-only"]},
        {"id": "encoder-only", "heading": "基于 Encoder-only 架构的大语言模型", "any": ["BERT", "encoder-only"]},
    ],
    "propose": {"auto_accept_score": 0},
    "schedule": {"timezone": "America/New_York", "poll": "30 20 * * sun-thu", "digest": "0 8 * * *",
                 "email": "0 8 * * mon", "propose": "0 9 * * mon"},
}


def tracker(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    full_env.pop("TRACKER_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "tracker", *args], cwd=cwd, capture_output=True, text=True,
                          env=full_env, timeout=120)


def user_folder(write_config, folder: Path, **tables) -> Path:
    """folder/lists/llm-survey.md, folder/cfg/tracker.toml (QA merged with `tables`); returns the config file."""
    (folder / "lists").mkdir(parents=True, exist_ok=True)
    (folder / "lists" / "llm-survey.md").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "cfg").mkdir(exist_ok=True)
    return write_config(QA, folder=folder / "cfg", **tables)


def store_decided(cfg: Path, how_many: int = 3) -> list[str]:
    """Real listed papers stored and classified as decoder-only; the first accepted, the second
    moved to encoder-only, the third rejected."""
    config = load_config(cfg)
    db = open_store(config.store.path)
    papers = sample_papers(how_many)
    upsert_papers(db, papers, "api")
    section = config.section("decoder-only")
    save_classifications(
        db, [(p.id, [SectionScore(section.id, section.heading, 3.0, (Match("GPT", "title"),))]) for p in papers], "t"
    )
    decisions = [("accept", None), ("move", "encoder-only"), ("reject", None)]
    for paper, (decision, target) in zip(papers, decisions):
        record_decision(db, paper.id, decision, target)
    db.conn.close()
    return [p.id for p in papers]


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


def test_relative_local_remote_url_resolves_against_the_config_folder(tmp_path, write_config):
    """github.remote_url = "../remote.git" (a local path, as DESIGN allows) was handed to git
    as is, so `propose --pr` run from any other folder failed: "repository does not exist"."""
    make_remote(tmp_path, SEED.read_text(encoding="utf-8"))  # tmp/remote.git
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with GitHubStandin(token=TOKEN) as gh:
        cfg = user_folder(write_config, tmp_path, github={
            "remote_url": "../remote.git", "repo": "owner/survey", "base": "main", "survey_path": "README.md",
            "branch": "tracker/proposals", "api_url": gh.url, "token_env": "QA_GH_TOKEN"})
        assert load_config(cfg).github.remote_url == str(tmp_path / "remote.git")
        ids = store_decided(cfg)
        done = tracker("--config", str(cfg), "propose", "--pr", cwd=elsewhere, env={"QA_GH_TOKEN": TOKEN})
        assert done.returncode == 0, done.stderr
        assert len(gh.pulls) == 1
    pushed = subprocess.run(["git", "--git-dir", str(tmp_path / "remote.git"), "show", "tracker/proposals:README.md"],
                            capture_output=True, text=True, check=True).stdout
    assert f"arxiv.org/abs/{ids[0]}" in pushed and f"arxiv.org/abs/{ids[2]}" not in pushed


def test_git_urls_are_left_alone(tmp_path, write_config):
    for url in ("git@github.com:owner/survey.git", "https://github.com/owner/survey.git", "file:///srv/survey.git",
                "/srv/git/survey.git"):
        cfg = user_folder(write_config, tmp_path / url.replace("/", "_").replace(":", "_"),
                          github={"remote_url": url, "repo": "owner/survey"})
        assert load_config(cfg).github.remote_url == url


def test_export_lines_carry_the_section_patch_takes(tmp_path, write_config):
    """`export` wrote `sections` only, never PAPERS.jsonl's `section`, so its output could not be
    fed to `tracker patch` (DESIGN: PAPERS.jsonl is export's output and patch's input). A moved
    paper's `section` is the maintainer's, a rejected one has none."""
    cfg = user_folder(write_config, tmp_path)
    accepted, moved, rejected = store_decided(cfg)
    done = tracker("--config", "cfg/tracker.toml", "export", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {r["id"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert rows[accepted]["section"] == "decoder-only"
    assert rows[moved]["section"] == "encoder-only" and rows[moved]["sections"] == ["decoder-only"]
    assert "section" not in rows[rejected]
    kept = tmp_path / "kept.jsonl"
    kept.write_text("".join(json.dumps(r) + "\n" for r in rows.values() if "section" in r), encoding="utf-8")
    patched = tracker("--config", "cfg/tracker.toml", "patch", "lists/llm-survey.md", "--input", str(kept), cwd=tmp_path)
    assert patched.returncode == 0, patched.stderr
    added = [line for line in patched.stdout.splitlines() if line.startswith("+") and "arxiv.org/abs/" in line]
    assert any(accepted in line for line in added) and any(moved in line for line in added)


def test_bad_schedule_values_name_the_config_file(tmp_path, write_config):
    """A bad crontab or time zone said "error: key 'schedule.poll': ..." without the file; it
    names the file and the line the key is written on."""
    for bad, key in (({"poll": "99 20 * * *"}, "schedule.poll"),
                     ({"timezone": "Mars/Olympus"}, "schedule.timezone")):
        folder = tmp_path / key
        folder.mkdir()
        cfg = user_folder(write_config, folder, schedule=bad)
        done = tracker("--config", str(cfg), "status", cwd=folder)
        assert done.returncode == 1
        line = one_error_line(done.stderr)
        written = next(n for n, text in enumerate(cfg.read_text().splitlines(), 1) if text.startswith(key.split(".")[1] + " "))
        assert f"{cfg}:{written}: key '{key}'" in line


def test_digest_now_shows_what_a_replayed_poll_stored(tmp_path, write_config):
    """`poll --now` stamps papers as first seen at that time, but `digest` had no `--now` and
    always used the wall clock, so replaying a recorded day (poll --now, then digest) always
    showed "0 new papers". And `--json` on stdout printed counts only, not which papers."""
    from tracker.store.papers import upsert_papers as upsert

    cfg = user_folder(write_config, tmp_path)
    config = load_config(cfg)
    db = open_store(config.store.path)
    papers = sample_papers(5)
    upsert(db, papers, "api", seen="2025-10-31T20:00:00+00:00")
    section = config.section("decoder-only")
    save_classifications(
        db, [(p.id, [SectionScore(section.id, section.heading, 3.0, (Match("GPT", "title"),))]) for p in papers], "t"
    )
    db.conn.close()
    done = tracker("--config", str(cfg), "digest", "--channel", "stdout", "--now", "2025-10-31T21:00:00-04:00", "--json",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)[0]
    assert report["papers"] == 5 and sorted(report["paper_ids"]) == sorted(p.id for p in papers)  # --json shows the data
    bad = tracker("--config", str(cfg), "digest", "--channel", "stdout", "--now", "yesterday", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_a_work_semantic_scholar_does_not_know_is_not_blamed_on_the_arxiv_keys():
    """A 404 from Semantic Scholar for a listed work said "check arxiv.api_url / arxiv.rss_url
    and arxiv.categories in the config", sending the maintainer to the wrong keys."""
    from tracker.sources import Http
    from tracker.sources.citations import NotFound, SemanticScholar
    from tracker.standins.semantic_scholar import SemanticScholarStandin

    with SemanticScholarStandin() as s2:
        provider = SemanticScholar(s2.url, Http(timeout=5, retries=0, delay_seconds=0, sleep=lambda s: None))
        try:
            list(provider.fetch_citing("1810.04805", None))
        except NotFound as exc:
            assert "arxiv." not in str(exc) and "1810.04805" in str(exc)
        else:
            raise AssertionError("an unknown work must raise NotFound")


def test_a_failed_check_ends_with_one_error_line_on_stderr(tmp_path, write_config):
    """`tracker check` exited 1 with nothing on stderr; DESIGN: exit 1 = a handled failure with
    a one-line message on stderr (scripts read stderr, not the report). stdout keeps the report."""
    cfg = user_folder(write_config, tmp_path)  # arXiv points at 127.0.0.1:9, where nothing listens
    for extra in ((), ("--json",)):
        done = tracker("--config", str(cfg), "check", "--timeout", "2", *extra, cwd=tmp_path)
        assert done.returncode == 1
        line = one_error_line(done.stderr)
        assert "arxiv" in line and "2 of" in line and "rss" in line  # the API and the feed, both on that host
        assert "✗ arxiv" in done.stdout or json.loads(done.stdout)[0]["check"] == "config"


def test_patch_input_with_a_bad_date_names_the_line_and_field(tmp_path, write_config):
    """`"published": "yesterday"` was taken silently and patched as an entry without a year;
    now it is an error naming file:line and field. A missing `published` is still allowed."""
    cfg = user_folder(write_config, tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "2401.00001", "title": "A GPT model", "section": "decoder-only"}\n'
                   '{"id": "2401.00002", "title": "A GPT model 2", "published": "yesterday", "section": "decoder-only"}\n',
                   encoding="utf-8")
    done = tracker("--config", str(cfg), "patch", "lists/llm-survey.md", "--input", str(bad), cwd=tmp_path)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert f"{bad}:2" in line and "published" in line
    good = tmp_path / "good.jsonl"
    good.write_text(bad.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    done = tracker("--config", str(cfg), "patch", "lists/llm-survey.md", "--input", str(good), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "arxiv.org/abs/2401.00001" in done.stdout
