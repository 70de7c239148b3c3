"""Proposals: the chosen papers as a Markdown patch on the survey, and optionally a draft PR.

The patch is always regenerated from the survey's current content (the local
file, or the freshly fetched base branch with `--pr`), never rebased, so upstream
edits to the survey since the last proposal cannot conflict with it.
"""

from __future__ import annotations

import email.utils
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import jinja2

from tracker.propose import forge
from tracker.config import Config, GithubConfig
from tracker.errors import ConfigError, ForgeError, TrackerError
from tracker.fsutil import atomic_write
from tracker.locking import exclusive
from tracker.logs import log, register_secret
from tracker.models import Match, Paper, WorkLink, split_arxiv_id
from tracker.store import Database
from tracker.store import proposals as proposal_store
from tracker.store.classifications import load_classifications, top_scores_above
from tracker.store.decisions import latest_decisions
from tracker.links.match import describe
from tracker.store.links import links_for
from tracker.store.papers import papers_by_id
from tracker.timeutil import iso, utc
from tracker.survey.parse import load_survey
from tracker.survey.parse import parse_survey
from tracker.survey.patch import add_papers, unified_diff

logger = logging.getLogger("tracker.propose.proposals")

PATCH_FILE = "proposal.patch"
BODY_FILE = "PR_BODY.md"


@dataclass(frozen=True)
class Candidate:
    """A paper chosen for the survey: where it goes and why."""

    paper: Paper
    section: str
    heading: str
    why: str
    score: float | None = None
    matches: tuple[Match, ...] = ()
    links: tuple[WorkLink, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.paper.id, "title": one_line(self.paper.title), "section": self.section, "heading": self.heading,
            "why": self.why, "score": self.score, "matches": [m.term for m in self.matches],
            "links": [{"work": l.work_id, "kind": l.kind, "title": l.work_title} for l in self.links],
        }


@dataclass(frozen=True)
class ProposeReport:
    proposed: tuple[Candidate, ...] = ()
    skipped: tuple[tuple[Paper, str], ...] = ()
    patch_path: Path | None = None
    body_path: Path | None = None
    title: str = ""
    action: str = "none"
    pr_number: int | None = None
    pr_url: str | None = None
    branch: str | None = None
    commit: str | None = None
    refreshed: tuple[tuple[int, str], ...] = ()
    message: str = ""
    listed: tuple[str, ...] = ()  # the skipped papers the survey already lists: done once this run succeeds

    @property
    def ok(self) -> bool:
        """A propose that returns has done its work; its failures raise (ForgeError)."""
        return True

    def counts(self) -> dict[str, int]:
        return {"proposed": len(self.proposed), "skipped": len(self.skipped), "refreshed": len(self.refreshed)}

    def errors(self) -> list[str]:
        return []

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action, "message": self.message, "title": self.title,
            "proposed": [c.to_json() for c in self.proposed],
            "skipped": [{"id": p.id, "title": one_line(p.title), "reason": r} for p, r in self.skipped],
            "patch": str(self.patch_path) if self.patch_path else None,
            "body": str(self.body_path) if self.body_path else None,
            "pr": {"number": self.pr_number, "url": self.pr_url} if self.pr_number else None,
            "branch": self.branch, "commit": self.commit,
            "refreshed": [{"number": n, "state": s} for n, s in self.refreshed],
        }


def one_line(text: str) -> str:
    return " ".join(text.split())


def choose_papers(config: Config, db: Database) -> tuple[list[Candidate], list[tuple[Paper, str]]]:
    """Accepted (or moved) papers plus, when `propose.auto_accept_score` > 0, unreviewed ones
    scoring above it; never rejected ones, never one already in a merged proposal or that an
    earlier proposal found listed in the survey."""
    headings = {s.id: s.heading for s in config.sections}
    done = proposal_store.done_paper_ids(db)
    decisions = latest_decisions(db)
    wanted: list[tuple[str, str | None, str]] = []
    for pid, d in decisions.items():
        if d.decision == "reject" or pid in done:
            continue
        # an accept may name its section (`decide ID accept SECTION`, a Telegram tap on the shown section)
        wanted.append((pid, d.section, "moved" if d.decision == "move" else "accepted"))
    threshold = config.propose.auto_accept_score
    if threshold > 0:
        for pid, score in top_scores_above(db, threshold):
            if pid not in decisions and pid not in done:
                wanted.append((pid, None, f"auto (score {score:g} > {threshold:g})"))
    chosen: list[Candidate] = []
    skipped: list[tuple[Paper, str]] = []
    papers = papers_by_id(db, [pid for pid, _key, _why in wanted])
    for pid, section_key, why in wanted:
        paper = papers.get(pid)
        if paper is None:
            continue
        scores = load_classifications(db, pid, headings)
        if section_key is None:
            if not scores:
                skipped.append((paper, "accepted but not classified into any section: use `tracker decide ID move SECTION`"))
                continue
            section_key = scores[0].section
        section = config.section(section_key)
        if section is None:
            skipped.append((paper, f"section {section_key!r} is not in the config's [[sections]]"))
            continue
        score = next((s for s in scores if s.section == section.id), None)
        chosen.append(Candidate(paper, section.id, section.heading, why,
                                score.score if score else None, score.matches if score else ()))
    order = {s.id: i for i, s in enumerate(config.sections)}
    chosen.sort(key=lambda c: (order[c.section], c.paper.published, c.paper.id))
    links = links_for(db, [c.paper.id for c in chosen])
    return [replace(c, links=tuple(links.get(c.paper.id, ()))) for c in chosen], skipped


@dataclass(frozen=True)
class Proposal:
    """The patched survey for one set of candidates; empty `added` means nothing to propose."""

    added: tuple[Candidate, ...]
    skipped: tuple[tuple[Paper, str], ...]
    diff: str
    title: str
    message: str
    body: str
    listed: tuple[str, ...] = ()

    def report(self, **fields: Any) -> "ProposeReport":
        return ProposeReport(proposed=self.added, skipped=self.skipped, listed=self.listed, **fields)


def build_proposal(config: Config, survey_text: str, survey_name: str, candidates: Sequence[Candidate],
                   skipped: Sequence[tuple[Paper, str]], now: datetime) -> Proposal:
    """Insert the candidates into the survey text; the patch writer drops already-listed papers."""

    if not candidates:
        return Proposal((), tuple(skipped), "", "", "", "")
    survey = parse_survey(survey_text, survey_name)
    headings = {s.id: s.heading for s in config.sections}
    result = add_papers(survey, [replace(c.paper, section=c.section) for c in candidates], headings)
    added_ids = {p.id for p, _ in result.added}
    added = tuple(c for c in candidates if c.paper.id in added_ids)
    all_skipped = tuple(skipped) + tuple((p, f"{why}; done, not reported again" if p.id in result.listed else why)
                                         for p, why in result.skipped)
    if not added:
        return Proposal((), all_skipped, "", "", "", "", result.listed)
    diff = unified_diff(survey_text, result.text, survey_name)
    title = f"Add {len(added)} paper{'s' if len(added) != 1 else ''} to the survey"
    message = commit_message(title, added)
    body = render_body(config, title, added, all_skipped, survey_name, now)
    return Proposal(added, all_skipped, diff, title, message, body, result.listed)


def commit_message(title: str, added: Sequence[Candidate]) -> str:
    """Subject plus one line per paper; titles are flattened to one line, kept literal."""
    lines = [title, ""]
    for c in added:
        lines.append(f"- {one_line(c.paper.title)} (arXiv:{c.paper.id}) -> {one_line(c.heading)}")
    lines += ["", "Proposed by tracker."]
    return "\n".join(lines) + "\n"


def format_patch(proposal: Proposal, identity: forge.Identity, when: datetime) -> str:
    """A `git format-patch`-style mail: `git am` commits it, `git apply` applies its diff."""
    body = proposal.message.split("\n", 2)[2] if proposal.message.count("\n") >= 2 else ""
    return (
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        f"From: {identity.name} <{identity.email}>\n"
        f"Date: {email.utils.format_datetime(utc(when))}\n"
        f"Subject: [PATCH] {proposal.title}\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        f"{body.rstrip()}\n---\n{proposal.diff}-- \ntracker\n\n"
    )


def render_body(config: Config, title: str, added: Sequence[Candidate], skipped: Sequence[tuple[Paper, str]],
                survey_name: str, now: datetime) -> str:
    groups: dict[str, dict[str, Any]] = {}
    for c in added:
        groups.setdefault(c.section, {"id": c.section, "heading": c.heading, "papers": []})["papers"].append(c)
    template = _templates(config.templates_dir).get_template("pr_body.md.j2")
    return template.render(
        title=title, sections=list(groups.values()), count=len(added), skipped=list(skipped),
        survey=survey_name, generated=utc(now).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _templates(user_dir: Path | None) -> jinja2.Environment:
    """The user's [templates] folder first, then the bundled templates."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(user_dir))] if user_dir else []
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([*loaders, jinja2.PackageLoader("tracker", "templates")]),
        autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md"] = md_escape
    env.filters["one_line"] = one_line
    env.globals["arxiv_url"] = arxiv_url
    env.globals["describe"] = describe
    return env


MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})


def arxiv_url(work_id: str) -> str | None:
    split = split_arxiv_id(work_id.removeprefix("arxiv:").removeprefix("arXiv:"))
    return f"https://arxiv.org/abs/{split[0]}" if split else None


def md_escape(text: str) -> str:
    """Flatten to one line and escape Markdown so a title cannot inject links or HTML."""
    return one_line(text).translate(MD_SPECIAL)


def _write_outputs(config: Config, proposal: Proposal, identity: forge.Identity, now: datetime) -> tuple[Path, Path]:
    try:
        patch_path = atomic_write(config.out_dir / PATCH_FILE, format_patch(proposal, identity, now))
        body_path = atomic_write(config.out_dir / BODY_FILE, proposal.body)
    except OSError as exc:
        _clear_outputs(config, quiet=True)  # never a new patch beside a stale PR body
        raise _output_error(config, exc) from None
    return patch_path, body_path


def _clear_outputs(config: Config, quiet: bool = False) -> None:
    """A run with nothing to propose leaves no stale patch for a script to apply."""
    for name in (PATCH_FILE, BODY_FILE):
        try:
            (config.out_dir / name).unlink(missing_ok=True)
        except OSError as exc:
            if not quiet:
                raise _output_error(config, exc) from None


def _output_error(config: Config, exc: OSError) -> TrackerError:
    return TrackerError(
        f"cannot write the proposal under {config.out_dir}: {exc.strerror or exc}",
        f"check output.path in {config.file}: it must be a writable folder",
    )


def _identity(config: Config) -> forge.Identity:
    gh = config.github
    if gh is None:
        return forge.Identity()
    forge.check_identity(gh.author_name, gh.author_email, config.file)
    return forge.Identity(gh.author_name, gh.author_email)


def run_propose(config: Config, db: Database, now: datetime, open_pr: bool) -> ProposeReport:
    """Write out/proposal.patch and out/PR_BODY.md; with `open_pr`, also branch, commit,
    push and open (or update) the draft pull request, then record its papers.

    A chosen paper the survey already lists is reported by the run that finds it, and
    recorded then as done (only once that run succeeded, so the report reached someone):
    later runs neither propose nor report it again."""
    report = _run_pr(config, db, now) if open_pr else _write_patch(config, db, now)
    proposal_store.mark_listed(db, [(p.id, why) for p, why in report.skipped if p.id in report.listed], iso(now))
    return report


def _write_patch(config: Config, db: Database, now: datetime) -> ProposeReport:
    survey = load_survey(config.survey.path)
    candidates, skipped = choose_papers(config, db)
    proposal = build_proposal(config, survey.render(), config.survey.path.name, candidates, skipped, now)
    if not proposal.added:
        _clear_outputs(config)
        return proposal.report(message=_nothing(candidates))
    patch_path, body_path = _write_outputs(config, proposal, _identity(config), now)
    log(logger, logging.INFO, "propose.written", papers=len(proposal.added), patch=str(patch_path))
    return proposal.report(
        patch_path=patch_path, body_path=body_path, title=proposal.title, action="written",
        message=f"proposed {len(proposal.added)} paper(s); wrote {patch_path} and {body_path}",
    )


def _nothing(candidates: Sequence[Candidate]) -> str:
    if candidates:
        return "nothing to propose: every chosen paper is already listed in the survey"
    return "nothing to propose: no accepted papers are pending (accept some with `tracker decide ID accept`)"


def _github(config: Config) -> GithubConfig:
    if config.github is None:
        raise ConfigError(f"{config.file}: `propose --pr` needs a [github] table (keys remote_url, repo, base, survey_path)")
    forge.check_ref_name(config.github.branch, "github.branch", config.file)
    forge.check_ref_name(config.github.base, "github.base", config.file)
    if config.github.branch == config.github.base:
        raise ConfigError(f"{config.file}: key 'github.branch' must differ from 'github.base' ({config.github.base!r})")
    return config.github


def refresh_states(db: Database, api: forge.GitHub, repo: str, now: datetime) -> list[tuple[int, str]]:
    """Ask GitHub what became of each open proposal: merged papers stay proposed for good,
    papers of a PR closed without merge go back to pending."""
    changed = []
    at = iso(now)
    for p in proposal_store.proposals(db, state="open", repo=repo):
        try:
            pr = api.get(p.pr_number)
        except forge.ApiError as exc:
            if exc.status not in (404, 410):
                raise
            state = "closed"
        else:
            state = "merged" if pr.merged else ("closed" if pr.state == "closed" else "open")
        proposal_store.set_state(db, p.id, state, at)
        if state != "open":
            changed.append((p.pr_number, state))
            log(logger, logging.INFO, "propose.pr_" + state, pr=p.pr_number, papers=len(p.paper_ids))
    return changed


def _run_pr(config: Config, db: Database, now: datetime) -> ProposeReport:
    gh = _github(config)
    identity = _identity(config)
    token = config.secret("github.token_env", gh.token_env)
    register_secret(token)
    clone_dir = config.data_dir / "forge" / forge.repo_dir_name(gh.repo)
    git = forge.Git(clone_dir, identity, forge.https_auth_env(gh.remote_url, token), timeout=gh.git_timeout_seconds)
    with exclusive(config.data_dir / "forge" / "propose.lock", "propose --pr"), forge.GitHub(gh.api_url, gh.repo, token) as api:
        refreshed = tuple(refresh_states(db, api, gh.repo, now))
        forge.prepare_clone(gh.remote_url, clone_dir, git)
        forge.fetch(git)
        base_ref = f"refs/remotes/origin/{gh.base}"
        if forge.remote_sha(git, gh.base) is None:
            raise ForgeError(f"branch {gh.base!r} (github.base) not found on {gh.remote_url}")
        text = forge.show_file(git, base_ref, gh.survey_path)
        candidates, skipped = choose_papers(config, db)
        proposal = build_proposal(config, text, gh.survey_path, candidates, skipped, now)
        if not proposal.added:
            _clear_outputs(config)
            existing = api.find_open(gh.branch)
            if existing is None:
                return proposal.report(refreshed=refreshed, message=_nothing(candidates) + "; no push, no pull request")
            # its papers were rejected (or listed by hand) since: it must not stay open to be merged
            api.close_pull(existing.number)
            for p in proposal_store.proposals(db, state="open", repo=gh.repo):
                if p.pr_number == existing.number:
                    proposal_store.set_state(db, p.id, "closed", iso(now))
            log(logger, logging.INFO, "propose.pr_closed", pr=existing.number, reason="nothing left to propose")
            return proposal.report(refreshed=(*refreshed, (existing.number, "closed")),
                                   message=_nothing(candidates) + f"; closed draft pull request #{existing.number}, "
                                   "since none of its papers is to be proposed any more")
        patch_path, body_path = _write_outputs(config, proposal, identity, now)
        sha = forge.commit_patch(git, gh.branch, base_ref, proposal.diff, proposal.message, utc(now))
        forge.push(git, gh.branch, forge.remote_sha(git, gh.branch))
        existing = api.find_open(gh.branch)
        if existing is not None:
            pr, action = api.update(existing.number, proposal.title, proposal.body), "updated"
        else:
            pr, action = api.create(proposal.title, gh.branch, gh.base, proposal.body), "created"
        proposal_store.record_proposal(
            db, repo=gh.repo, branch=gh.branch, base=gh.base, pr_number=pr.number, pr_url=pr.url, title=proposal.title,
            head_sha=sha, papers=[(c.paper.id, c.section) for c in proposal.added], at=iso(now),
        )
    log(logger, logging.INFO, "propose.pr_" + action, pr=pr.number, papers=len(proposal.added), commit=sha)
    return proposal.report(
        patch_path=patch_path, body_path=body_path,
        title=proposal.title, action=action, pr_number=pr.number, pr_url=pr.url, branch=gh.branch, commit=sha,
        refreshed=refreshed,
        message=f"{action} draft pull request #{pr.number} ({pr.url}) with {len(proposal.added)} paper(s) on {gh.branch}",
    )
