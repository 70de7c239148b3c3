"""`tracker poll` links stored papers to the survey's works: `mentions` on every poll,
`cites` with `--source citations`; `tracker explain` shows them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import SEED
from tracker.standins.arxiv import ArxivReplay
from tracker.standins.semantic_scholar import SemanticScholarStandin
from tracker.store import open_store
from tracker.store.links import links_for

NOW = "2025-10-31T21:00:00-04:00"


def shipped_at(tmp: Path, arxiv: ArxivReplay, s2: SemanticScholarStandin | None) -> dict:
    """The layer over the shipped config (`write_config(shipped_at(...), shipped=True)`): the seed copied
    to survey.md, data and output in the test folder, arXiv (and Semantic Scholar) at their stand-ins."""
    shutil.copy(SEED, tmp / "survey.md")
    layer = {
        "survey": {"path": "survey.md"},
        "store": {"path": "data/tracker.db"},
        "output": {"path": "out"},
        "arxiv": {"api_url": arxiv.api_url, "rss_url": arxiv.rss_url, "delay_seconds": 0, "retries": 0, "timeout_seconds": 5},
    }
    if s2 is not None:
        layer["citations"] = {"provider": "semantic_scholar", "api_url": s2.url, "delay_seconds": 0}
    return layer


def test_every_poll_links_papers_to_the_works_they_name(tmp_path, run_cli, write_config):
    with ArxivReplay() as arxiv:
        config = write_config(shipped_at(tmp_path, arxiv, None), shipped=True)
        code, out, err = run_cli("--config", str(config), "poll", "--source", "api", "--now", NOW)
    assert code == 0, err
    db = open_store(tmp_path / "data" / "tracker.db")
    rows = list(db.query("SELECT paper_id, work_id, kind FROM links"))
    assert rows and {r["kind"] for r in rows} <= {"mentions", "extends"} and "mentions" in {r["kind"] for r in rows}
    # 2510.24963 compares Mamba and RWKV (both listed) with Transformers.
    assert sorted(l.work_id for l in links_for(db, ["2510.24963"])["2510.24963"]) == ["2305.13048", "2312.00752"]
    assert db["works"].count >= 39


def test_poll_citations_stores_cites_links_and_explain_lists_them(tmp_path, run_cli, write_config):
    with ArxivReplay() as arxiv, SemanticScholarStandin() as s2:
        s2.add_citation("2312.00752", "2510.24963", "Behavioral phases", "2025-10-30")
        s2.add_citation("2302.13971", "2510.25310", "Parrot", "2025-10-30")
        s2.add_citation("2302.13971", None, "No arXiv id", "2025-10-30")
        config = write_config(shipped_at(tmp_path, arxiv, s2), shipped=True)
        code, out, err = run_cli("--config", str(config), "poll", "--source", "citations", "--since", "2025-10-29",
                                 "--now", NOW, "--json")
        assert code == 0, err
        report = json.loads(out)
        assert [s["source"] for s in report["sources"]] == ["citations"] and report["ok"]
        assert report["sources"][0]["detail"]["linked"] == 2 and report["sources"][0]["detail"]["citing"] == 2
        code, out, err = run_cli("--config", str(config), "status", "--json")
        assert code == 0, err
        assert json.loads(out)["last_runs"][0]["detail"]["linked"] == 2
        code, out, err = run_cli("--config", str(config), "status")
        assert "citations: ok" in out and "linked 2" in out
        code, out, err = run_cli("--config", str(config), "explain", "2510.24963", "--json")
    assert code == 0, err
    explained = json.loads(out)
    kinds = {(l["work_id"], l["kind"]) for l in explained["links"]}
    assert ("2312.00752", "cites") in kinds
    db = open_store(tmp_path / "data" / "tracker.db")
    assert {l.kind for l in links_for(db, ["2510.25310"])["2510.25310"]} >= {"cites"}
    assert db["papers"].count == 2


def test_poll_without_source_includes_citations_when_a_provider_is_set(tmp_path, run_cli, write_config):
    with ArxivReplay() as arxiv, SemanticScholarStandin() as s2:
        s2.add_citation("2312.00752", "2510.24963", "Behavioral phases", "2025-10-30")
        config = write_config(shipped_at(tmp_path, arxiv, s2), shipped=True)
        code, out, err = run_cli("--config", str(config), "poll", "--now", NOW, "--json")
    assert code == 0, err
    assert [s["source"] for s in json.loads(out)["sources"]] == ["api", "rss", "citations"]


def test_citations_without_a_provider_is_an_error_naming_the_key(tmp_path, run_cli, write_config):
    with ArxivReplay() as arxiv:
        config = write_config(shipped_at(tmp_path, arxiv, None), shipped=True)
        code, out, err = run_cli("--config", str(config), "poll", "--source", "citations")
    assert code == 1 and out == ""
    assert "citations.provider" in err and err.count("\n") == 1
