"""`tracker demo`: the production cycle, offline, against stand-ins on 127.0.0.1.

The demo writes an ordinary config (out/demo/tracker.toml) that points the arXiv,
Telegram, SMTP and GitHub settings at local stand-ins serving recorded real data,
then runs the same functions `tracker run --once` runs, at a fixed clock just
after the last recorded announcement day. Nothing leaves the machine.
"""

from __future__ import annotations

import functools
import gzip
import html
import itertools
import json
import os
import re
import shutil
import subprocess
import tomllib
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import tomli_w

from tracker.bundled import bundled
from tracker.config import Config, load_config
from tracker.errors import TrackerError
from tracker.fsutil import atomic_write
from tracker.models import Paper, read_papers
from tracker.standins.arxiv_feeds import SAMPLE_LISTINGS as LISTINGS
from tracker.store.decisions import all_decisions
from tracker.store.status import section_counts, totals
from tracker.classify.matcher import Classifier
from tracker.commands.survey import format_survey
from tracker.deliver.bot import run_bot
from tracker.propose.forge import init_bare_remote
from tracker.propose.proposals import run_propose
from tracker.run import runner
from tracker.run.pipeline import poll
from tracker.standins.arxiv import ArxivReplay
from tracker.standins.github import GitHubStandin
from tracker.standins.smtp import SmtpStandin
from tracker.standins.telegram import TelegramStandin
from tracker.store import open_store
from tracker.survey.parse import load_survey
from tracker.survey.patch import add_papers, unified_diff

NO_RECORDINGS = Path("/nonexistent/tracker-demo-recordings")  # serve the listings only, checkout or wheel alike
DEMO_NOW = datetime(2025, 10, 31, 21, 0, tzinfo=ZoneInfo("America/New_York"))
CHAT_ID = 424242
MAINTAINER_ID = 1001
TOKENS = {
    "TRACKER_DEMO_TELEGRAM_TOKEN": "4242:demo-telegram-token",
    "TRACKER_DEMO_GITHUB_TOKEN": "ghp_demo-github-token",
}

Say = Callable[[str], None]


@dataclass(frozen=True)
class Standins:
    arxiv: Any
    telegram: Any
    smtp: Any
    github: Any
    remote: Path


def demo_config(base: dict[str, Any], out: Path, s: Standins, survey: Path) -> dict[str, Any]:
    """The bundled config with every service pointed at a stand-in."""
    raw = json.loads(json.dumps(base))
    raw["survey"] = {"path": str(survey)}
    raw["store"] = {"path": str(out / "demo" / "tracker.db")}
    raw["output"] = {"path": str(out)}
    raw["arxiv"] = {**raw.get("arxiv", {}), "api_url": s.arxiv.api_url, "rss_url": s.arxiv.rss_url, "delay_seconds": 0.0}
    raw["telegram"] = {
        "api_url": s.telegram.url,
        "token_env": "TRACKER_DEMO_TELEGRAM_TOKEN",
        "chat_ids": [CHAT_ID],
        "allowed_user_ids": [MAINTAINER_ID],
    }
    raw["email"] = {
        "host": s.smtp.host,
        "port": s.smtp.port,
        "security": "none",
        "from": "tracker@localhost",
        "to": ["maintainer@localhost"],
    }
    raw["github"] = {
        "remote_url": str(s.remote),
        "repo": "demo/llm-survey",
        "base": "main",
        "survey_path": "README.md",
        "api_url": s.github.url,
        "token_env": "TRACKER_DEMO_GITHUB_TOKEN",
    }
    return raw


def sample_papers(limit: int | None = None) -> list[Paper]:
    """The bundled arXiv listings (three announcement days) as Papers, read once per process."""
    papers = _sample_papers()
    return list(papers if limit is None else papers[:limit])


@functools.lru_cache(maxsize=1)
def _sample_papers() -> tuple[Paper, ...]:
    with gzip.open(LISTINGS, "rt", encoding="utf-8") as fh:
        return tuple(read_papers(fh, str(LISTINGS)))


def two_for_patch(config: Config) -> list[Paper]:
    """The best-scoring sample papers of two different sections, with `section` set."""
    from dataclasses import replace

    classifier = Classifier.from_config(config)
    best: dict[str, tuple[float, Paper]] = {}
    for paper in sample_papers():
        scores = classifier.classify(paper)
        if scores and scores[0].score > best.get(scores[0].section, (0.0, paper))[0]:
            best[scores[0].section] = (scores[0].score, paper)
    ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:2]
    return [replace(p, section=section) for section, (_, p) in ranked]


def press_accept(standins: Standins, config: Config, db: Any, how_many: int) -> int:
    """Tap Accept on the first digest entries through the real long-polling bot."""

    queued = 0
    for req in standins.telegram.calls("sendMessage"):
        markup = req.params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if queued < how_many and "accept" in button.get("text", "").lower():
                    queued += 1
                    standins.telegram.queue_update(
                        {
                            "callback_query": {
                                "id": f"demo-{queued}",
                                "from": {"id": MAINTAINER_ID, "is_bot": False, "first_name": "Maintainer"},
                                "message": {
                                    "message_id": _message_id(standins.telegram, req),
                                    "chat": {"id": CHAT_ID, "type": "private"},
                                    "date": 0,
                                },
                                "chat_instance": "demo",
                                "data": button["callback_data"],
                            }
                        }
                    )
    if queued:
        run_bot(config, db, max_updates=queued, poll_timeout=0)
    return queued


def _message_id(telegram: Any, request: Any) -> int:
    for mid, msg in telegram.messages.items():
        if msg.get("text") == request.params.get("text"):
            return int(mid)
    return 1


def write_outputs(out: Path, s: Standins) -> list[Path]:
    """What the stand-ins received, as files a person can open."""
    written = []
    for i, req in enumerate(s.telegram.calls("sendMessage"), 1):
        written.append(atomic_write(out / "telegram" / f"message-{i:02d}.html", str(req.params.get("text", ""))))
    for i, msg in enumerate(s.smtp.received, 1):
        written.append(atomic_write(out / "email" / f"weekly-{i:02d}.eml", msg.data))
        html = msg.message.get_body(preferencelist=("html",))
        if html is not None:
            written.append(atomic_write(out / "email" / f"weekly-{i:02d}.html", html.get_content()))
    return written


def read_base(config_file: Path | None) -> tuple[dict[str, Any], Path]:
    """The config the demo starts from (the user's own, or the bundled one) and its survey."""
    file = config_file or bundled("tracker.toml")
    config = load_config(file)  # the same validation, and the same one-line errors, as every other command
    base = tomllib.loads(file.read_text(encoding="utf-8"))
    if config.relevance is not None:
        base["relevance"]["model"] = str(config.relevance.path)
    survey = Path(base["survey"]["path"]).expanduser()
    survey = survey if survey.is_absolute() else file.parent.absolute() / survey
    if not survey.is_file():
        raise TrackerError(f"{file}: survey.path {survey} does not exist")
    return base, survey.resolve()


def run_demo(out: Path, say: Say, progress: Callable[[str, int], None] | None = None,
             config_file: Path | None = None) -> dict[str, Any]:
    """Run the whole cycle; returns a summary. `out` is wiped of previous demo state first.

    `config_file`: preview a user's own list and rules (their services are replaced by
    the stand-ins, so no credential is needed); default the bundled config."""

    base, survey_path = read_base(config_file)
    for stale in ("demo", "telegram", "email"):
        shutil.rmtree(out / stale, ignore_errors=True)
    (out / "demo").mkdir(parents=True, exist_ok=True)
    os.environ.update(TOKENS)

    with ExitStack() as stack:
        remote = out / "demo" / "survey.git"
        init_bare_remote(remote, {"README.md": survey_path.read_text(encoding="utf-8")})
        s = Standins(
            arxiv=stack.enter_context(ArxivReplay(LISTINGS, fixtures=NO_RECORDINGS)),
            telegram=stack.enter_context(TelegramStandin(token=TOKENS["TRACKER_DEMO_TELEGRAM_TOKEN"])),
            smtp=stack.enter_context(SmtpStandin()),
            github=stack.enter_context(GitHubStandin(token=TOKENS["TRACKER_DEMO_GITHUB_TOKEN"])),
            remote=remote,
        )
        demo_file = out / "demo" / "tracker.toml"
        atomic_write(demo_file, tomli_w.dumps(demo_config(base, out, s, survey_path)))
        config = load_config(demo_file)
        say(f"[bold]1. The survey[/] {survey_path}")
        survey = load_survey(config.survey.path)
        say(format_survey(survey))

        say("\n[bold]2. A stateless patch[/] (`tracker patch`): two real papers from the recorded listings")
        result = add_papers(survey, two_for_patch(config), {s.id: s.heading for s in config.sections})
        patch_text = unified_diff(survey.render(), result.text, survey_path.name)
        atomic_write(out / "patch-two-papers.diff", patch_text)
        say(patch_text.rstrip())

        say(f"\n[bold]3. One cycle[/] (`tracker run --once`) at {DEMO_NOW.isoformat()}, against stand-ins on 127.0.0.1")
        db = open_store(config.store.path)
        stages = runner.default_stages()
        stages["poll"] = lambda cfg, d, now: poll(cfg, d, runner.poll_sources(cfg), now, progress=progress)
        ticks = itertools.count()
        results = runner.run_once(config, db, stages=stages, clock=lambda: DEMO_NOW + timedelta(minutes=next(ticks)))
        for r in results:
            say(f"  {r.job:8} {r.outcome:8} {r.error or _brief(r.summary)}")
        counts = section_counts(db)
        total = totals(db)["papers"]
        say(f"  stored {total} papers; primary section: " + ", ".join(f"{c.id} {counts.get(c.id, 0)}" for c in config.sections))

        sent = s.telegram.calls("sendMessage")
        if sent:
            say(f"\n  The first of {len(sent)} Telegram messages, as the chat shows it:")
            say(_indent(_plain(str(sent[0].params.get("text", ""))), 12))
        for mail in s.smtp.received:
            say(f"  Weekly email to {', '.join(mail.recipients)}: {mail.message['subject']}")

        say("\n[bold]4. Triage[/]: the maintainer taps Accept on the first two Telegram entries")
        tapped = press_accept(s, config, db, 2)
        decided = all_decisions(db)
        say(f"  {tapped} taps -> decisions: " + ", ".join(f"{d.paper_id} {d.decision} ({d.via})" for d in decided))

        say("\n[bold]5. The pull-request draft[/] (`tracker propose --pr`)")
        report = run_propose(config, db, DEMO_NOW + timedelta(minutes=next(ticks)), open_pr=True)
        say(f"  {report.message if hasattr(report, 'message') else report}")
        commit = subprocess.run(
            ["git", "--git-dir", str(remote), "log", "-1", "--stat", "--format=%H%n%an <%ae>%n%n%B", config.github.branch],
            capture_output=True, text=True, check=False,
        )
        say(commit.stdout.rstrip() or commit.stderr.rstrip())
        proposal = out / "proposal.patch"
        if proposal.exists():
            say(proposal.read_text(encoding="utf-8").rstrip())
        written = write_outputs(out, s)
        db.close()
    failed = [r.job for r in results if not r.ok]
    summary = {
        "config": str(demo_file),
        "papers": total,
        "jobs": {r.job: r.outcome for r in results},
        "telegram_messages": len([p for p in written if p.parent.name == "telegram"]),
        "emails": len(s.smtp.received),
        "decisions": len(decided),
        "pull_request": getattr(report, "pr_url", None),
        "outputs": sorted(str(p.relative_to(out)) for p in written) + ["patch-two-papers.diff", "proposal.patch", "PR_BODY.md"],
    }
    if failed:
        raise TrackerError(f"demo: stage(s) failed: {', '.join(failed)}", f"see {config.store.path} (job_runs table)")
    return summary


def _plain(telegram_html: str) -> str:
    """Telegram HTML as the chat renders it: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", telegram_html))


def _indent(text: str, max_lines: int) -> str:
    lines = text.strip().splitlines()
    shown = lines[:max_lines] + (["…"] if len(lines) > max_lines else [])
    return "\n".join(f"    {line}" for line in shown)


def _brief(summary: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in summary.items())
