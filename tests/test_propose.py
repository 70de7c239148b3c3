"""`tracker propose`: choosing papers, the patch and PR body, and the draft PR flow against a
local bare repository and the GitHub stand-in."""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import SEED
from forge_support import PROPOSE, git, github_at, make_remote, reject_pushes, remote_file, upstream_edit
from tracker.config import Config, load_config
from tracker.run.demo import sample_papers
from tracker.errors import ForgeError
from tracker.models import LEARNED, Match, Paper, SectionScore, WorkLink
from tracker.propose.proposals import choose_papers, run_propose
from tracker.standins.github import GitHubStandin
from tracker.store import open_store
from tracker.store import proposals as proposal_store
from tracker.store.classifications import save_classifications
from tracker.store.decisions import record_decision
from tracker.store.links import save_links
from tracker.store.papers import upsert_papers
from tracker.survey.parse import parse_survey

TOKEN = "ghp_proposeTestSecretToken456"
NOW = datetime(2025, 11, 3, 9, 0, tzinfo=timezone.utc)
SCALING, MAMBA, VIT, COUNT = "2510.24626", "2510.24260", "2510.24709", "2510.23785"


@pytest.fixture(scope="module")
def listing() -> dict[str, Paper]:
    return {p.id: p for p in sample_papers()}


@dataclass
class Env:
    tmp: Path
    config: Config
    db: object
    gh: GitHubStandin
    bare: Path
    listing: dict[str, Paper]

    def classify(self, paper_id: str, section: str, score: float = 3.0, terms: tuple[str, ...] = ("LLM",)) -> None:
        heading = self.config.section(section).heading
        scores = [SectionScore(section, heading, score, tuple(Match(t, "title") for t in terms))]
        save_classifications(self.db, [(paper_id, scores)], "test-rules")

    def accept(self, paper_id: str, section: str = "decoder_only", **kw) -> None:
        self.classify(paper_id, section, **kw)
        record_decision(self.db, paper_id, "accept")

    def propose(self, open_pr: bool = True):
        return run_propose(self.config, self.db, NOW, open_pr)


@pytest.fixture
def env(tmp_path, listing, monkeypatch, write_config) -> Env:
    survey = tmp_path / "llm-survey.md"
    shutil.copyfile(SEED, survey)
    bare = make_remote(tmp_path, SEED.read_text(encoding="utf-8"))
    monkeypatch.setenv("TRACKER_TEST_GH_TOKEN", TOKEN)
    with GitHubStandin(token=TOKEN) as gh:
        config = load_config(write_config(PROPOSE, survey={"path": str(survey)}, github=github_at(bare, gh.url)))
        db = open_store(config.store.path)
        upsert_papers(db, listing.values(), "rss")
        yield Env(tmp_path, config, db, gh, bare, listing)
        db.conn.close()


def added_lines(bare: Path, a: str, b: str) -> list[str]:
    diff = git("diff", "--unified=0", a, b, "--", "README.md", cwd=bare)
    body = [l for l in diff.splitlines() if l[:1] in "+-" and not l.startswith(("+++", "---"))]
    assert all(l.startswith("+") for l in body), f"the proposal removed or changed lines: {body}"
    return [l[1:] for l in body]


# ---- choosing ---------------------------------------------------------------------------

def test_choose_accept_move_reject_and_unreviewed(env):
    env.accept(SCALING, "scaling")
    env.classify(MAMBA, "non_transformer")
    record_decision(env.db, MAMBA, "move", "architecture")
    env.accept(VIT)
    record_decision(env.db, VIT, "reject")
    env.classify(COUNT, "architecture", score=9.0)
    chosen, skipped = choose_papers(env.config, env.db)
    assert [(c.paper.id, c.section, c.why) for c in chosen] == [
        (SCALING, "scaling", "accepted"), (MAMBA, "architecture", "moved")]
    assert skipped == []
    # an accept that names a section (`decide ID accept SECTION`) is proposed there, not in the top one
    record_decision(env.db, COUNT, "accept", "non_transformer")
    chosen, _skipped = choose_papers(env.config, env.db)
    assert (COUNT, "non_transformer", "accepted") in [(c.paper.id, c.section, c.why) for c in chosen]


def test_auto_accept_takes_unreviewed_papers_above_the_threshold_only(env, tmp_path, write_config):
    config = load_config(write_config(PROPOSE, survey={"path": str(env.config.survey.path)}, propose={"auto_accept_score": 5.0}))
    env.classify(COUNT, "architecture", score=9.0)
    env.classify(MAMBA, "non_transformer", score=4.0)
    env.classify(VIT, "architecture", score=9.5)
    record_decision(env.db, VIT, "reject")
    chosen, _ = choose_papers(config, env.db)
    assert [(c.paper.id, c.why) for c in chosen] == [(COUNT, "auto (score 9 > 5)")]


def test_accepted_but_unclassified_or_unknown_section_is_reported(env):
    record_decision(env.db, SCALING, "accept")
    record_decision(env.db, MAMBA, "move", "no-such-section")
    chosen, skipped = choose_papers(env.config, env.db)
    assert chosen == []
    assert {p.id: r for p, r in skipped}.keys() == {SCALING, MAMBA}
    assert "no-such-section" in dict((p.id, r) for p, r in skipped)[MAMBA]


# ---- local proposal ---------------------------------------------------------------------

def test_local_propose_writes_patch_that_git_am_and_git_apply_take(env):
    env.accept(SCALING, "scaling", terms=("scaling law",))
    env.accept(MAMBA, "non_transformer", terms=("Mamba",))
    save_links(env.db, [WorkLink(SCALING, "2001.08361", "mentions", "abstract")])
    report = env.propose(open_pr=False)
    assert report.action == "written" and [c.paper.id for c in report.proposed] == [SCALING, MAMBA]
    patch = (env.tmp / "out" / "proposal.patch").read_text(encoding="utf-8")
    assert patch.startswith("From ") and "\nSubject: [PATCH] Add 2 papers to the survey\n" in patch
    body = (env.tmp / "out" / "PR_BODY.md").read_text(encoding="utf-8")
    assert "### 大数据+大模型→新智能" in body and "### 非 Transformer 架构" in body
    assert f"https://arxiv.org/abs/{SCALING}" in body and "`scaling law` in title" in body
    assert "https://arxiv.org/abs/2001.08361" in body
    repo = env.tmp / "apply"
    git("init", "--quiet", "-b", "main", str(repo))
    shutil.copyfile(SEED, repo / "llm-survey.md")
    git("add", "llm-survey.md", cwd=repo)
    git("commit", "--quiet", "-m", "seed", cwd=repo)
    git("apply", "--check", str(env.tmp / "out" / "proposal.patch"), cwd=repo)
    git("am", "--quiet", str(env.tmp / "out" / "proposal.patch"), cwd=repo)
    assert git("log", "-1", "--format=%s%n%an", cwd=repo).splitlines() == ["Add 2 papers to the survey", "tracker"]
    text = (repo / "llm-survey.md").read_text(encoding="utf-8")
    ids = {e.arxiv_id for _, e in parse_survey(text, "x").entries()}
    assert {SCALING, MAMBA} <= ids


def test_pr_body_marks_the_learned_words_apart_from_rule_terms(env):
    heading = env.config.section("non_transformer").heading
    matches = (Match("*Mamba*", "title", "Mamba"), Match(LEARNED, "abstract", "language"))
    save_classifications(env.db, [(MAMBA, [SectionScore("non_transformer", heading, 3.0, matches, relevance=0.95)])], "t")
    record_decision(env.db, MAMBA, "accept")
    env.propose(open_pr=False)
    body = (env.tmp / "out" / "PR_BODY.md").read_text(encoding="utf-8")
    assert "matched: `Mamba` in title, `language` in abstract (learned)" in body


def test_nothing_to_propose_locally_writes_nothing(env, run_cli):
    (env.tmp / "out").mkdir()
    (env.tmp / "out" / "proposal.patch").write_text("stale")
    code, out, err = run_cli("--config", str(env.config.file), "propose")
    assert code == 0 and "nothing to propose" in out
    assert not (env.tmp / "out" / "proposal.patch").exists()


LISTED = Paper(id="2001.08361", title="Scaling laws for neural language models", published="2020-01-23")


def test_a_listed_paper_is_reported_once_then_left_alone(env, run_cli):
    """An accepted paper the survey already lists is done: said once, then neither proposed
    nor reported again. A skip that needs the maintainer (no section) is said every time."""
    upsert_papers(env.db, [LISTED], "api")
    env.accept(LISTED.id, "scaling")
    env.accept(SCALING, "scaling")
    record_decision(env.db, MAMBA, "accept")  # never classified: no section to put it in
    code, out, _ = run_cli("--config", str(env.config.file), "propose")
    assert code == 0 and f"+ {SCALING}" in out and f"- {LISTED.id}" in out and "already listed" in out
    assert f"- {MAMBA}" in out and "proposal.patch" in out.splitlines()[-1]
    again = env.propose(open_pr=False)
    assert [c.paper.id for c in again.proposed] == [SCALING]
    assert [p.id for p, _ in again.skipped] == [MAMBA]
    assert LISTED.id not in [c.paper.id for c in choose_papers(env.config, env.db)[0]]


# ---- draft pull requests ------------------------------------------------------------------

def test_a_paper_listed_on_the_base_branch_is_reported_once(env):
    upsert_papers(env.db, [LISTED], "api")
    env.accept(LISTED.id, "scaling")
    env.accept(SCALING, "scaling")
    first = env.propose()
    assert [p.id for p, _ in first.skipped] == [LISTED.id] and first.action == "created"
    again = env.propose()
    assert again.skipped == () and again.action == "updated" and [c.paper.id for c in again.proposed] == [SCALING]


def test_first_proposal_pushes_branch_and_opens_draft_pr(env):
    env.accept(SCALING, "scaling")
    report = env.propose()
    assert report.action == "created" and report.pr_number == 1
    lines = added_lines(env.bare, "main", "tracker/proposals")
    assert any("Relative Scaling Laws for LLMs" in l for l in lines) and len(lines) <= 4
    assert git("rev-parse", "tracker/proposals^", cwd=env.bare) == git("rev-parse", "main", cwd=env.bare)
    post = env.gh.calls("POST")[0]
    assert post.json["head"] == "tracker/proposals" and post.json["base"] == "main" and post.json["draft"] is True
    assert "Relative Scaling Laws for LLMs" in post.json["body"] and post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert post.json["body"] == (env.tmp / "out" / "PR_BODY.md").read_text(encoding="utf-8")
    [p] = proposal_store.proposals(env.db)
    assert (p.pr_number, p.state, p.paper_ids, p.head_sha) == (1, "open", (SCALING,), report.commit)
    message = git("log", "-1", "--format=%B", "tracker/proposals", cwd=env.bare)
    assert f"Relative Scaling Laws for LLMs (arXiv:{SCALING})" in message


def test_update_of_open_pr_force_updates_branch_and_body(env):
    env.accept(SCALING, "scaling")
    first = env.propose()
    env.accept(MAMBA, "non_transformer")
    second = env.propose()
    assert second.action == "updated" and second.pr_number == first.pr_number
    assert len(env.gh.calls("POST")) == 1 and len(env.gh.pulls) == 1
    patch = env.gh.calls("PATCH")[0]
    assert patch.path == "/repos/owner/survey/pulls/1" and "DeshadowMamba" in patch.json["body"]
    assert env.gh.pulls[1]["title"] == "Add 2 papers to the survey"
    tip = git("rev-parse", "tracker/proposals", cwd=env.bare).strip()
    assert tip == second.commit != first.commit
    assert git("rev-parse", "tracker/proposals^", cwd=env.bare) == git("rev-parse", "main", cwd=env.bare)
    assert len(added_lines(env.bare, "main", "tracker/proposals")) >= 4
    [p] = proposal_store.proposals(env.db)
    assert set(p.paper_ids) == {SCALING, MAMBA}


def test_upstream_edit_in_between_is_kept_and_patch_applies_on_new_base(env):
    env.accept(SCALING, "scaling")
    env.propose()
    edited = upstream_edit(env.tmp, "README.md", lambda t: t.replace("# 大语言模型\n", "# 大语言模型 (edited upstream)\n", 1)
                           .replace("3.  **PaLM 2 Technical Report.**", "3.  **PaLM 2 Technical Report (v2).**"))
    env.accept(MAMBA, "non_transformer")
    report = env.propose()
    assert report.action == "updated"
    assert git("rev-parse", "tracker/proposals^", cwd=env.bare) == git("rev-parse", "main", cwd=env.bare)
    branch_text = remote_file(env.bare, "tracker/proposals", "README.md")
    assert "(edited upstream)" in branch_text and "PaLM 2 Technical Report (v2)" in branch_text
    ops = difflib.SequenceMatcher(a=edited.splitlines(True), b=branch_text.splitlines(True), autojunk=False).get_opcodes()
    assert {op for op, *_ in ops} == {"equal", "insert"}
    lines = added_lines(env.bare, "main", "tracker/proposals")
    assert any("Relative Scaling Laws" in l for l in lines) and any("DeshadowMamba" in l for l in lines)


def test_nothing_to_propose_makes_no_push_and_no_pr(env, run_cli):
    code, out, err = run_cli("--config", str(env.config.file), "propose", "--pr")
    assert code == 0 and "nothing to propose" in out and "no pull request" in out
    assert env.gh.calls("POST") == [] and env.gh.calls("PATCH") == []
    assert "tracker/proposals" not in git("branch", "--list", cwd=env.bare)


def test_push_rejected_records_nothing(env):
    upsert_papers(env.db, [LISTED], "api")
    env.accept(LISTED.id, "scaling")
    env.accept(SCALING, "scaling")
    reject_pushes(env.bare)
    with pytest.raises(ForgeError, match="rejected"):
        env.propose()
    assert proposal_store.proposals(env.db) == [] and env.gh.calls("POST") == []
    assert [p.id for p, _ in env.propose(open_pr=False).skipped] == [LISTED.id]  # the failed run said nothing of it


@pytest.mark.parametrize("status,message", [(401, "Bad credentials"), (422, "A pull request already exists"),
                                            (500, "boom"), (502, "bad gateway")])
def test_api_errors_record_nothing_and_hide_the_token(env, run_cli, status, message):
    env.accept(SCALING, "scaling")
    env.gh.fail_next(status, message, method="POST")
    code, out, err = run_cli("--config", str(env.config.file), "propose", "--pr")
    last = err.strip().splitlines()[-1]
    assert code == 1 and last.startswith("error: ") and str(status) in last and TOKEN not in err + out
    assert proposal_store.proposals(env.db) == []
    assert proposal_store.paper_states(env.db) == {}


def test_merged_pr_papers_are_never_proposed_again(env):
    env.accept(SCALING, "scaling")
    env.propose()
    env.gh.set_state(1, "merged")
    report = env.propose()
    assert report.refreshed == ((1, "merged"),) and report.action == "none"
    assert proposal_store.paper_states(env.db) == {SCALING: "merged"}
    env.accept(MAMBA, "non_transformer")
    again = env.propose()
    assert [c.paper.id for c in again.proposed] == [MAMBA] and again.pr_number == 2


def test_closed_pr_papers_go_back_to_pending(env):
    env.accept(SCALING, "scaling")
    env.propose()
    env.gh.set_state(1, "closed")
    report = env.propose()
    assert report.refreshed == ((1, "closed"),)
    assert report.action == "created" and report.pr_number == 2 and [c.paper.id for c in report.proposed] == [SCALING]
    states = {p.pr_number: p.state for p in proposal_store.proposals(env.db)}
    assert states == {1: "closed", 2: "open"}


def test_a_pr_whose_papers_were_all_rejected_since_is_closed_not_left_to_be_merged(env):
    env.accept(SCALING, "scaling")
    assert env.propose().pr_number == 1
    record_decision(env.db, SCALING, "reject")
    report = env.propose()
    assert report.action == "none" and report.refreshed == ((1, "closed"),) and "closed draft pull request #1" in report.message
    assert env.gh.pulls[1]["state"] == "closed"
    assert {p.pr_number: p.state for p in proposal_store.proposals(env.db)} == {1: "closed"}
    again = env.propose()  # nothing open any more: nothing to close, no new PR
    assert again.refreshed == () and "no push, no pull request" in again.message and len(env.gh.pulls) == 1


def test_deleted_pr_counts_as_closed_other_errors_stop_the_run(env):
    env.accept(SCALING, "scaling")
    env.propose()
    del env.gh.pulls[1]
    report = env.propose()
    assert report.refreshed == ((1, "closed"),) and report.pr_number == 2
    env.gh.fail_next(500, "down", method="GET")  # a 503 is retried now (the one retry policy); a 500 is not
    with pytest.raises(ForgeError, match="500"):
        env.propose()
    assert {p.pr_number: p.state for p in proposal_store.proposals(env.db)} == {1: "closed", 2: "open"}


def test_hostile_title_is_literal_text_in_commit_and_body(env):
    pwned = env.tmp / "pwned"
    title = f"Attention $(touch {pwned}) ; rm -rf {env.tmp} `touch {pwned}` --force"
    upsert_papers(env.db, [Paper(id="2510.99999", title=title, published="2025-10-30", authors=("A. B",))], "api")
    env.accept("2510.99999", "architecture")
    env.propose()
    assert not pwned.exists() and env.bare.exists()
    message = git("log", "-1", "--format=%B", "tracker/proposals", cwd=env.bare)
    assert title in message
    assert "$(touch" in env.gh.pulls[1]["body"]


def test_bad_branch_name_is_a_config_error(env, tmp_path, run_cli, write_config):
    github = github_at(env.bare, env.gh.url, branch="-x;$(id)")
    cfg = write_config(PROPOSE, survey={"path": str(env.config.survey.path)}, github=github)
    code, out, err = run_cli("--config", str(cfg), "propose", "--pr")
    written = next(n for n, line in enumerate(cfg.read_text().splitlines(), 1) if line.startswith("branch "))
    assert code == 1 and f"{cfg}:{written}: key 'github.branch'" in err  # the line the maintainer must fix
    assert env.gh.requests == []


def test_json_output_and_dirty_cache_clone(env, run_cli):
    import json

    env.accept(SCALING, "scaling")
    code, out, _ = run_cli("--config", str(env.config.file), "propose", "--pr", "--json")
    data = json.loads(out)
    assert code == 0 and data["action"] == "created" and data["pr"]["number"] == 1
    clone = env.config.data_dir / "forge" / "owner__survey"
    (clone / "README.md").write_text("scribbled\n")  # the cache clone is tracker's: a broken one is cloned again
    code, out, err = run_cli("--config", str(env.config.file), "propose", "--pr")
    assert code == 0 and "updated draft pull request #1" in out
    assert [line for line in err.splitlines() if "forge.reclone" in line][0].count("uncommitted changes") == 1
    assert (clone / "README.md").read_text() != "scribbled\n"
