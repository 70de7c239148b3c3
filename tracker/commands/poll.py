"""`tracker poll`, `tracker export`, `tracker status`: thin wrappers over pipeline and store.

`status` is assembled from `STATUS_PARTS` (name, collect, render) so other stages
(the scheduler's next jobs, the delivery backlog) add a part without touching this file's logic.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

import click
from sqlite_utils import Database

from tracker.cli import json_option, pass_app, print_json
from tracker.config import Config
from tracker.errors import SourceError, TrackerError
from tracker.fsutil import atomic_write
from tracker.run import runner
from tracker.commands.run import render_backlog, render_jobs
from tracker.run.pipeline import KNOWN_SOURCES, PollReport, parse_sources, poll
from tracker.store import open_store, runs
from tracker.store.links import links_for
from tracker.store.papers import iter_papers


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected an ISO date-time like 2025-11-01T00:00:00Z, got {value!r}", param_hint="'--now'") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


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
    lines = []
    for s in report.sources:
        head = f"{s.source}: {s.outcome}, window {s.window_start} .. {s.window_end}"
        counts = f"fetched {s.fetched}, new {s.new}, updated {s.updated}, {s.requests} requests, {s.seconds:.1f}s"
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
    now = _parse_now(now_text)
    since_day: date | None = since.date() if since else None
    if since_day is not None and since_day > now.astimezone(timezone.utc).date():
        raise click.BadParameter(f"{since_day} is after today ({now.astimezone(timezone.utc).date()} UTC); nothing could be fetched",
                                 param_hint="'--since'")
    config = app.config
    names = parse_sources(source_text) if source_text is not None else runner.poll_sources(config)
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


def export_lines(db: Database) -> Any:
    """PAPERS.jsonl lines with each paper's sections (best first) and links."""
    sections: dict[str, list[str]] = {}
    for pid, section in db.execute("SELECT paper_id, section FROM classifications ORDER BY paper_id, rank").fetchall():
        sections.setdefault(pid, []).append(section)
    batch = []
    for paper in iter_papers(db):
        batch.append(paper)
        if len(batch) >= 500:
            yield from _export_batch(db, batch, sections)
            batch = []
    yield from _export_batch(db, batch, sections)


def _export_batch(db: Database, papers: list, sections: dict[str, list[str]]) -> Any:
    links = links_for(db, [p.id for p in papers]) if papers else {}
    for p in papers:
        obj = p.to_json()
        obj["sections"] = sections.get(p.id, [])
        obj["links"] = [{"work_id": l.work_id, "kind": l.kind, "where": l.where, "work_title": l.work_title}
                        for l in links.get(p.id, [])]
        yield json.dumps(obj, ensure_ascii=False) + "\n"


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


@dataclass(frozen=True)
class StatusPart:
    name: str
    collect: Callable[[Config, Database], Any]
    render: Callable[[Any], list[str]]


def last_runs(config: Config, db: Database) -> list[dict[str, Any]]:
    return [r.to_json() for r in runs.last_runs(db)]


def _render_runs(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["no polls yet: run `tracker poll`"]
    out = []
    for r in rows:
        out.append(f"{r['source']}: {r['outcome']} (started {r['started']}, window {r['window_start']} .. {r['window_end']}; "
                   f"fetched {r['fetched']}, new {r['new']}, updated {r['updated']}, {r['requests']} requests)")
        if r.get("error"):
            out.append(f"  error: {r['error']}")
    return out


def section_counts(config: Config, db: Database) -> list[dict[str, Any]]:
    counts = dict(db.execute("SELECT section, COUNT(*) FROM classifications GROUP BY section").fetchall())
    return [{"section": s.id, "heading": s.heading, "papers": counts.get(s.id, 0)} for s in config.sections]


def _render_sections(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{r['section']}: {r['papers']} papers ({r['heading']})" for r in rows]


def totals(config: Config, db: Database) -> dict[str, int]:
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "papers": one("SELECT COUNT(*) FROM papers"),
        "classified": one("SELECT COUNT(DISTINCT paper_id) FROM classifications"),
        "versions": one("SELECT COUNT(*) FROM paper_versions"),
        "failed_runs": one("SELECT COUNT(*) FROM poll_runs WHERE outcome != 'ok' AND outcome != 'running'"),
    }


def _render_totals(t: dict[str, int]) -> list[str]:
    return [f"{t['papers']} papers stored, {t['classified']} in a section, {t['versions']} versions seen, "
            f"{t['failed_runs']} failed or interrupted runs"]


STATUS_PARTS: list[StatusPart] = [
    StatusPart("last_runs", last_runs, _render_runs),
    StatusPart("sections", section_counts, _render_sections),
    StatusPart("totals", totals, _render_totals),
    StatusPart("jobs", lambda c, db: runner.status_jobs(c, db, runner.utcnow()), render_jobs),
    StatusPart("delivery_backlog", lambda c, db: runner.delivery_backlog(db), render_backlog),
]


def build_status(config: Config, db: Database) -> dict[str, Any]:
    return {part.name: part.collect(config, db) for part in STATUS_PARTS}


@click.command("status")
@json_option
@pass_app
def status_cmd(app, as_json: bool) -> None:
    """Show the last run per source, paper counts per section, each job's last and next run, and the delivery backlog."""
    config = app.config
    exists = config.store.path.exists()
    data = build_status(config, open_store(config.store.path if exists else ":memory:"))
    if not exists:
        click.echo(f"no database yet at {config.store.path} (the first `tracker poll` creates it)", err=True)
    if as_json:
        print_json(data)
        return
    for part in STATUS_PARTS:
        click.echo(f"{part.name.replace('_', ' ')}:")
        for line in part.render(data[part.name]):
            click.echo(f"  {line}")


COMMANDS = [poll_cmd, export_cmd, status_cmd]
