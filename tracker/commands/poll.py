"""`tracker poll`, `tracker export`, `tracker status`: thin wrappers over pipeline and store.

`status` shows the store's facts (`store.status`) with the config's headings and the
jobs' schedule; `STATUS_PARTS` renders each part as text.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

import click

from tracker import jsonl
from tracker.commands.common import json_option, parse_now, pass_app, print_json
from tracker.config import Config
from tracker.errors import InputError, SourceError, TrackerError
from tracker.fsutil import atomic_write
from tracker.run import runner
from tracker.commands.run import render_backlog, render_jobs
from tracker.run.pipeline import KNOWN_SOURCES, PollReport, chunks, parse_sources, poll
from tracker.store import Database, open_store, runs, status
from tracker.store.classifications import sections_by_paper
from tracker.store.decisions import Decision, latest_decisions
from tracker.store.links import links_for
from tracker.store.papers import iter_papers
from tracker.timeutil import utcnow
from tracker.survey.headings import require_headings


def _progress_bar():
    """A rich progress display on a terminal; None (plain logs) otherwise."""
    if not sys.stderr.isatty():
        return None, None
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed} papers"),
                   TimeElapsedColumn(), transient=False)
    tasks: dict[str, Any] = {}

    def update(source: str, fetched: int) -> None:
        if source not in tasks:
            tasks[source] = bar.add_task(f"poll {source}", total=None)
        bar.update(tasks[source], completed=fetched)

    return bar, update


def render_report(report: PollReport) -> list[str]:
    lines = [f"rules changed since the last poll: {report.reclassified} stored papers classified again"] if report.reclassified else []
    for s in report.sources:
        head = f"{s.source}: {s.outcome}, window {s.window_start} .. {s.window_end}"
        skipped = f", skipped {s.skipped}" if s.skipped else ""
        counts = f"fetched {s.fetched}, new {s.new}, updated {s.updated}{skipped}, {s.requests} requests, {s.seconds:.1f}s"
        lines.append(f"{head}; {counts}" + (f"\n  error: {s.error}" if s.error else ""))
    return lines


@click.command("poll")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Fetch from this date (YYYY-MM-DD) instead of the last successful poll.")
@click.option("--source", "source_text", default=None,
              help=f"Comma-separated sources to poll (known: {', '.join(KNOWN_SOURCES)}; "
                   "default: api,rss, plus citations when [citations] provider is set).")
@click.option("--now", "now_text", default=None, help="Pretend the current time is this ISO date-time (replays, tests).")
@click.option("--wait", "lock_wait", type=float, default=10.0, show_default=True,
              help="Seconds to wait for another running poll before giving up.")
@json_option
@pass_app
def poll_cmd(app, since: datetime | None, source_text: str | None, now_text: str | None, lock_wait: float, as_json: bool) -> None:
    """Fetch new papers since the last successful poll, store and classify them."""
    now = parse_now(now_text) if now_text else utcnow()
    since_day: date | None = since.date() if since else None
    if since_day is not None and since_day > now.astimezone(timezone.utc).date():
        raise click.BadParameter(f"{since_day} is after today ({now.astimezone(timezone.utc).date()} UTC); nothing could be fetched",
                                 param_hint="'--since'")
    config = app.config
    try:
        names = parse_sources(source_text) if source_text is not None else None
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="'--source'") from None
    names = names if names is not None else runner.poll_sources(config)
    db = open_store(config.store.path)
    bar, update = _progress_bar() if not as_json else (None, None)
    if bar is not None:
        with bar:
            report = poll(config, db, names, now, since=since_day, progress=update, lock_wait=lock_wait)
    else:
        report = poll(config, db, names, now, since=since_day, lock_wait=lock_wait)
    if as_json:
        print_json(report.to_json())
    else:
        click.echo("\n".join(render_report(report)))
    failed = [s.source for s in report.sources if s.outcome != runs.OK]
    if failed:
        raise SourceError(f"{len(failed)} of {len(report.sources)} sources failed: {', '.join(failed)}",
                          "see the errors above and `tracker status`; the next poll retries their windows")


EXPORT_BATCH = 500  # papers whose links are read in one query


def export_lines(db: Database) -> Any:
    """PAPERS.jsonl lines with each paper's sections (best first) and links."""
    sections = sections_by_paper(db)
    decided = latest_decisions(db)
    for batch in chunks(iter_papers(db), EXPORT_BATCH):
        yield from _export_batch(db, batch, sections, decided)


def _section(paper_id: str, sections: list[str], decided: dict[str, Decision]) -> str | None:
    """PAPERS.jsonl's `section` (what `patch` takes): the maintainer's choice, else the best
    classification; none for a rejected or unclassified paper."""
    d = decided.get(paper_id)
    if d is not None and d.decision == "reject":
        return None
    return (d.section if d is not None else None) or (sections[0] if sections else None)


def _export_batch(db: Database, papers: list, sections: dict[str, list[str]], decided: dict[str, Decision]) -> Any:
    links = links_for(db, [p.id for p in papers])
    for p in papers:
        obj = p.to_json()
        section = _section(p.id, sections.get(p.id, []), decided)
        if section is not None:
            obj["section"] = section
        obj["sections"] = sections.get(p.id, [])
        obj["links"] = [l.to_json() for l in links.get(p.id, [])]
        yield jsonl.dumps(obj) + "\n"


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True, help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (atomically) instead of stdout.")
@pass_app
def export_cmd(app, fmt: str, output: Path | None) -> None:
    """Print the stored papers in PAPERS.jsonl format, with their sections and links."""
    db = open_store(app.config.store.path)
    if output is None:
        for line in export_lines(db):
            click.echo(line, nl=False)
        return
    text = "".join(export_lines(db))
    try:
        atomic_write(output, text)
    except OSError as exc:
        raise TrackerError(f"{output}: cannot write the export ({exc.strerror or exc}: {exc.filename or output})") from None
    click.echo(f"wrote {text.count(chr(10))} papers to {output}", err=True)


def _render_runs(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["no polls yet: run `tracker poll`"]
    out = []
    for r in rows:
        out.append(f"{r['source']}: {r['outcome']} (started {r['started']}, window {r['window_start']} .. {r['window_end']}; "
                   f"fetched {r['fetched']}, new {r['new']}, updated {r['updated']}, {r['requests']} requests)")
        if r.get("detail"):
            out.append("  " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in r["detail"].items()))
        if r.get("error"):
            out.append(f"  error: {r['error']}")
    return out


def _render_sections(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{r['section']}: {r['papers']} papers ({r['heading']})" for r in rows]


def _render_totals(t: dict[str, int]) -> list[str]:
    return [f"{t['papers']} papers stored, {t['classified']} in a section, {t['versions']} versions seen, "
            f"{t['failed_runs']} failed or interrupted runs"]


STATUS_PARTS: dict[str, Callable[[Any], list[str]]] = {
    "last_runs": _render_runs,
    "sections": _render_sections,
    "totals": _render_totals,
    "jobs": render_jobs,
    "delivery_backlog": render_backlog,
}


def build_status(config: Config, db: Database, now: datetime) -> dict[str, Any]:
    """The store's facts (store.status) with the config's headings and the jobs' schedule."""
    facts = status.status(db)
    counts = facts["sections"]
    return {
        "last_runs": facts["last_runs"],
        "sections": [{"section": s.id, "heading": s.heading, "papers": counts.get(s.id, 0)} for s in config.sections],
        "totals": facts["totals"],
        "jobs": runner.status_jobs(config, db, now),
        "delivery_backlog": facts["delivery_backlog"],
    }


@click.command("status")
@json_option
@pass_app
def status_cmd(app, as_json: bool) -> None:
    """Show the last run per source, paper counts per section, each job's last and next run, and the delivery backlog."""
    config = app.config
    try:
        require_headings(config)
    except TrackerError as exc:  # reported, but status still shows the state (the Docker healthcheck reads it)
        click.echo(f"warning: {exc}", err=True)
    if not config.survey.path.is_file():
        click.echo(f"warning: survey.path {config.survey.path} not found: polls cannot link papers to the listed works, "
                   "and `propose` cannot patch the list", err=True)
    exists = config.store.path.exists()
    data = build_status(config, open_store(config.store.path if exists else ":memory:"), utcnow())
    if not exists:
        click.echo(f"no database yet at {config.store.path} (the first `tracker poll` creates it)", err=True)
    if as_json:
        print_json(data)
        return
    for name, render in STATUS_PARTS.items():
        click.echo(f"{name.replace('_', ' ')}:")
        for line in render(data[name]):
            click.echo(f"  {line}")


COMMANDS = [poll_cmd, export_cmd, status_cmd]
