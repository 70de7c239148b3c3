"""Acceptance: a proposal applied with `git apply` to the seed and the same-format fixture
surveys parses back with the new entries in their sections and every old byte unchanged."""

from __future__ import annotations

import difflib
import shutil
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import SEED, SURVEYS
from forge_support import PROPOSE, git
from tracker.config import Rule, SectionConfig, load_config
from tracker.run.demo import sample_papers
from tracker.propose.proposals import Candidate, build_proposal
from tracker.survey.parse import parse_survey

NOW = datetime(2025, 11, 3, 9, 0, tzinfo=timezone.utc)
CASES = [SEED, *sorted(SURVEYS.glob("ZJU-*.md"))]


@pytest.fixture(scope="module")
def new_papers():
    return [p for p in sample_papers() if p.authors][:40]


def apply_in_repo(tmp_path: Path, name: str, old: str, diff: str) -> str:
    repo = tmp_path / "repo"
    git("init", "--quiet", "-b", "main", str(repo))
    (repo / name).write_bytes(old.encode("utf-8"))
    git("add", "--", name, cwd=repo)
    git("commit", "--quiet", "-m", "survey", cwd=repo)
    git("apply", "--whitespace=nowarn", "-", cwd=repo, stdin=diff)
    return (repo / name).read_bytes().decode("utf-8")


@pytest.mark.parametrize("survey_file", CASES, ids=lambda p: p.name)
def test_patch_parses_back_with_old_bytes_unchanged(tmp_path, new_papers, survey_file, write_config):
    old = survey_file.read_bytes().decode("utf-8")
    survey = parse_survey(old, "README.md")
    targets = [s for s in survey.sections if s.entries]
    assert targets, "fixture has no entries to extend"
    sections = tuple(SectionConfig(f"s{i}", s.heading, Rule(any=("x",))) for i, s in enumerate(targets))
    shutil.copyfile(SEED, tmp_path / "seed.md")
    config = replace(load_config(write_config(PROPOSE, survey={"path": str(tmp_path / "seed.md")})), sections=sections)
    papers = iter(new_papers)
    candidates = []
    for i, s in enumerate(targets):
        for _ in range(2 if i == 0 else 1):
            candidates.append(Candidate(next(papers), f"s{i}", s.heading, "accepted"))
    proposal = build_proposal(config, old, "README.md", candidates, [], NOW)
    assert len(proposal.added) == len(candidates)

    new = apply_in_repo(tmp_path, "README.md", old, proposal.diff)
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    ops = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False).get_opcodes()
    assert {op for op, *_ in ops} <= {"equal", "insert"}, "a line of the old survey changed"
    inserted = sum(j2 - j1 for op, _, _, j1, j2 in ops if op == "insert")
    assert len(new_lines) == len(old_lines) + inserted

    reparsed = parse_survey(new, "README.md")
    before = {(s.heading, e.title, e.arxiv_id) for s, e in survey.entries()}
    after = {(s.heading, e.title, e.arxiv_id) for s, e in reparsed.entries()}
    assert before <= after
    placed = {e.arxiv_id: s.heading for s, e in reparsed.entries() if e.arxiv_id}
    for c in candidates:
        assert placed.get(c.paper.id) == c.heading, f"{c.paper.id} not in {c.heading}"
    assert len(after) == len(before) + len(candidates)
