"""`tracker survey`, `tracker patch` and `tracker init`: the survey file in, text or a diff out.

All three are stateless: they read files, call one library function and print.
Nothing is printed on stdout until the whole result is ready, so a failed run
leaves no partial output.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from pathlib import Path

import click

from tracker.commands.common import App, json_option, pass_app, print_json
from tracker.config import DEFAULT_CONFIG
from tracker.errors import SourceError, TrackerError
from tracker.models import Paper, open_input, read_papers
from tracker.survey.parse import Survey, load_survey

SURVEY_ARG = click.argument("survey_path", metavar="SURVEY.md", type=click.Path(path_type=Path))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cut(text: str, width: int) -> str:
    out, used = "", 0
    for c in text:
        w = _width(c)
        if used + w > width - 1:
            return out + "…"
        out, used = out + c, used + w
    return out


def format_survey(survey: Survey) -> str:
    """A readable table per section: number, year, venue, arXiv id, title."""
    total = sum(len(s.entries) for s in survey.sections)
    lines = [f"{survey.path}: {len(survey.sections)} sections, {total} entries, {len(survey.skipped)} skipped lines"]
    for section in survey.sections:
        marker = "#" * section.level if section.level else "(before the first heading)"
        lines.append("")
        lines.append(f"{marker} {section.heading}  [{section.id}]  line {section.line}, {len(section.entries)} entries")
        for e in section.entries:
            number = f"{e.number}." if e.number is not None else "-"
            venue = _cut(e.venue or "", 14)
            venue += " " * (14 - _width(venue))
            lines.append(f"  {number:>4} {e.year or '':<4}  {venue}  {e.arxiv_id or '':<16} {_cut(e.title, 70)}  (line {e.line})")
    if survey.skipped:
        lines.append("")
        lines.append("skipped (list-like lines not read as entries):")
        lines += [f"  line {s.line}: {_cut(s.text, 100)}" for s in survey.skipped]
    return "\n".join(lines)


@click.command("survey")
@SURVEY_ARG
@json_option
def survey_cmd(survey_path: Path, as_json: bool) -> None:
    """Parse SURVEY.md and show its sections and entries."""
    survey = load_survey(survey_path)
    if as_json:
        print_json(survey.to_json())
    else:
        click.echo(format_survey(survey))


def _read_input(source: str) -> list[Paper]:
    stream = open_input(source)
    try:
        name = "<stdin>" if source == "-" else source
        return list(read_papers(stream, name))
    finally:
        if stream is not sys.stdin:
            stream.close()


def _section_headings(app: App) -> dict[str, str]:
    """Config section id -> heading; without a config (the default file simply absent) there are none."""
    ctx = click.get_current_context()
    explicit = ctx.find_root().params.get("config_path") is not None or bool(os.environ.get("TRACKER_CONFIG"))
    if not explicit and app.config_path == DEFAULT_CONFIG and not app.config_path.exists():
        return {}
    return {s.id: s.heading for s in app.config.sections}


def _display_path(path: Path) -> str:
    """The path for the diff headers: relative to the current folder when the file is under it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix() if not path.is_absolute() else path.name


@click.command("patch")
@SURVEY_ARG
@click.option("--input", "input_path", required=True, metavar="PAPERS.jsonl",
              help="Papers to add, one JSON object per line with a `section` (config id or exact heading); `-` reads stdin.")
@pass_app
def patch_cmd(app: App, survey_path: Path, input_path: str) -> None:
    """Print a unified diff that adds each input paper to its section of SURVEY.md."""
    from tracker.survey.patch import add_papers, unified_diff  # start-up: only patch writes

    survey = load_survey(survey_path)
    papers = _read_input(input_path)
    result = add_papers(survey, papers, _section_headings(app))
    diff = unified_diff(survey.render(), result.text, _display_path(survey_path))
    for paper, reason in result.skipped:
        click.echo(f"skipped {paper.id}: {reason}", err=True)
    if diff:
        click.echo(diff, nl=False)


@click.command("init")
@SURVEY_ARG
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the config to this file (default: print it).")
@click.option("--force", is_flag=True, help="Overwrite --out if it already exists.")
@click.option("--background", "background_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Listings file (PAPERS.jsonl or .jsonl.gz) the entries are contrasted with (default: the bundled sample).")
@click.option("--abstracts", is_flag=True,
              help="Fetch the entries' abstracts from the arXiv API by id (cached in the new config's store) and learn from them too.")
@click.option("--api-url", default=None, help="arXiv API endpoint for --abstracts (default: export.arxiv.org).")
def init_cmd(survey_path: Path, out: Path | None, force: bool, background_path: Path | None, abstracts: bool,
             api_url: str | None) -> None:
    """Write a starter config for SURVEY.md: its sections with keyword rules learned from its entries."""
    from tracker.classify.background import bundled_background, read_papers_file  # start-up: heavy only for init
    from tracker.fsutil import atomic_write  # start-up: only init writes
    from tracker.survey.init import learn_starter  # start-up: pulls in the classifier

    survey = load_survey(survey_path)
    if not any(True for _ in survey.entries()):
        raise TrackerError(f"{survey_path}: no entries found, so there are no sections to configure")
    if out is not None and out.exists() and not force:
        raise TrackerError(f"{out}: already exists", "pass --force to overwrite it")
    if out is not None and out.is_dir():
        raise TrackerError(f"{out}: is a directory")
    background = read_papers_file(background_path) if background_path else bundled_background()
    fetched = _entry_abstracts(survey, out, api_url) if abstracts else None
    starter = learn_starter(survey, survey_path, background, out, fetched)
    if out is None:
        click.echo(starter.text, nl=False)
    else:
        try:
            atomic_write(out, starter.text)
        except OSError as exc:
            raise TrackerError(f"{out}: cannot write the config ({exc.strerror or exc}: {exc.filename or out})") from None
    for warning in starter.warnings:
        click.echo(f"warning: {warning}", err=True)
    if out is not None:
        click.echo(f"wrote {out} ({starter.text.count(chr(10) + '[[sections]]')} sections)", err=True)


def _entry_abstracts(survey: Survey, out: Path | None, api_url: str | None) -> dict[str, str]:
    """Abstracts by arXiv id, cached in the store the written config will use (so `suggest` finds them)."""
    from dataclasses import replace  # start-up: only for --abstracts

    from tracker.config import ArxivConfig  # start-up: only for --abstracts
    from tracker.run.learn import entry_abstracts  # start-up: pulls in the store and the API client
    from tracker.store import open_store  # start-up: only for --abstracts

    cfg = ArxivConfig() if api_url is None else replace(ArxivConfig(), api_url=api_url)
    db = open_store(out.parent / "data" / "tracker.db" if out is not None else ":memory:")
    try:
        found, requests = entry_abstracts(db, cfg, [e.arxiv_id for _, e in survey.entries() if e.arxiv_id])
    except SourceError as exc:  # there is no config yet: the URL came from --api-url or the default
        raise SourceError(exc.message, f"check --api-url ({cfg.api_url}) and the network, or run init without "
                          "--abstracts (titles only)") from None
    finally:
        db.conn.close()
    click.echo(f"abstracts: {sum(1 for a in found.values() if a)} of {len(found)} entries with an arXiv id"
               f" ({requests} requests)", err=True)
    return found


COMMANDS = [survey_cmd, patch_cmd, init_cmd]
