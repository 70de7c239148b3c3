"""`tracker check`: the config, the survey headings, the store and every configured service, for real."""

from __future__ import annotations

import click

from tracker.commands.common import json_option, pass_app, print_json
from tracker.errors import TrackerError

DEFAULT_TIMEOUT = 10.0


@click.command("check")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds each probe may take (one attempt, no retries).")
@json_option
@pass_app
def check_cmd(app, timeout: float, as_json: bool) -> None:
    """Verify the config, the survey headings, the store folder and each configured service:
    arXiv (one query, and the announcement feed), the citations provider when one is set, Telegram (getMe, getChat per chat), SMTP (connect, TLS, login; no mail
    sent), GitHub (git ls-remote, the repository call and its push permission).
    One line per check with the fix; exit 1 if any fails."""
    from tracker.run.check import run_checks  # start-up time: it loads the Telegram, SMTP and git clients

    checks = run_checks(app.config, timeout)
    failed = [c for c in checks if not c.ok]
    if as_json:
        print_json([c.to_json() for c in checks])
    else:
        for c in checks:
            click.echo(c.line())
        click.echo(f"{len(failed)} of {len(checks)} checks failed" if failed else "all checks passed")
    if failed:
        names = ", ".join(dict.fromkeys(c.name for c in failed))
        raise TrackerError(f"{len(failed)} of {len(checks)} checks failed: {names}", "see the lines above for each fix")


COMMANDS = [check_cmd]
