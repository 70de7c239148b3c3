"""`tracker demo`: the whole cycle offline on the bundled survey and recorded arXiv data."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from tracker.commands.common import json_option, print_json
from tracker.logs import setup_logging
from tracker.run.demo import run_demo


@click.command("demo")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True,
              help="Folder for the demo's config, database and everything the stand-ins received.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Preview your own list and rules (survey, [scope], [[sections]], [arxiv] categories) instead of "
                   "the bundled ones; its services are replaced by the stand-ins, so no credential is needed.")
@json_option
def demo(out: Path, config_file: Path | None, as_json: bool) -> None:
    """Run poll, digest, email, triage and a PR draft against local stand-ins (no network).

    With --config, the same offline cycle on your own survey and rules, against the
    recorded listings: the digest, the weekly email and the patch as they would look."""

    setup_logging("WARNING")
    console = Console(stderr=as_json, highlight=False)

    def say(text: str) -> None:
        bold = text.startswith("[bold]") or text.startswith("\n[bold]")
        console.print(text if bold else escape(text), soft_wrap=True)

    with Progress(TextColumn("  polling {task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("papers"),
                  console=console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(source: str, fetched: int) -> None:
            if source not in tasks:
                tasks[source] = bar.add_task(source, total=None)
            bar.update(tasks[source], completed=fetched)

        summary = run_demo(out.resolve(), say, progress, config_file)
    if as_json:
        print_json(summary)
        return
    console.print(f"\n[bold]Done.[/] Outputs under {escape(str(out))}/:")
    for name in summary["outputs"]:
        console.print(f"  {escape(name)}")
    console.print(f"Inspect the state with: tracker --config {escape(summary['config'])} status", soft_wrap=True)


COMMANDS = [demo]
