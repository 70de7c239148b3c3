"""`tracker propose [--pr]`: the Markdown patch of chosen papers, optionally as a draft PR."""

from __future__ import annotations

import click

from tracker.timeutil import utcnow
from tracker.commands.common import json_option, pass_app, print_json
from tracker.propose.proposals import one_line, run_propose
from tracker.store import open_store


@click.command("propose")
@click.option("--pr", "open_pr", is_flag=True,
              help="Also branch, commit, push to [github] remote_url and open or update the draft pull request.")
@json_option
@pass_app
def propose(app, open_pr: bool, as_json: bool) -> None:
    """Build out/proposal.patch and out/PR_BODY.md from accepted papers."""

    config = app.config
    db = open_store(config.store.path)
    try:
        report = run_propose(config, db, utcnow(), open_pr)
    finally:
        db.conn.close()
    if as_json:
        print_json(report.to_json())
        return
    for number, state in report.refreshed:
        click.echo(f"pull request #{number} was {state}" + (": its papers are done" if state == "merged" else ": its papers are pending again"))
    for c in report.proposed:
        click.echo(f"+ {c.paper.id}  {one_line(c.paper.title)[:90]}  -> {c.heading} ({c.why})")
    for paper, reason in report.skipped:
        click.echo(f"- {paper.id}  {one_line(paper.title)[:90]}: {reason}")
    click.echo(report.message)


COMMANDS = [propose]
