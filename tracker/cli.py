"""The `tracker` command: a thin layer over the library.

Each command lives in `tracker/commands/<stage>.py` and exports `COMMANDS` (shared
options in `tracker/commands/common.py`); this module only builds the group and turns TrackerError
into a one-line message with exit 1 (click's own usage errors exit 2).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Any

import click

import tracker.commands as pkg
from tracker.commands.common import App
from tracker.config import resolve_config_path
from tracker.errors import TrackerError
from tracker.logs import scrub, setup_logging


class Interrupted(TrackerError):
    """Ctrl-C (SIGINT) stopped a command; what it had committed stays, the rest is redone by the next run."""


class TrackerGroup(click.Group):
    """The command group; Ctrl-C inside a command becomes one `error:` line, not click's "Aborted."."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            name = ctx.invoked_subcommand or "tracker"
            raise Interrupted(
                f"{name} interrupted (Ctrl-C)", "work already saved is kept; run the command again to finish"
            ) from None


# The module of each command, so running one imports only that module: start-up time
# (`tracker classify` skips the poll pipeline, the scheduler and the HTTP clients).
# A command missing here still works (then every module is imported); test_cli checks the table.
COMMAND_MODULES = {
    "check": "check",
    "classify": "classify", "explain": "classify", "eval": "classify",
    "demo": "demo",
    "digest": "digest", "decide": "digest", "bot": "digest",
    "suggest": "learn", "tune": "learn", "train": "learn",
    "poll": "poll", "export": "poll", "status": "poll",
    "propose": "propose",
    "run": "run",
    "survey": "survey", "patch": "survey", "init": "survey",
}


CONFIG_HELP = "Config file (default: $TRACKER_CONFIG or config/tracker.toml)."


def _config_after_command(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    """`tracker check --config FILE` means what `tracker --config FILE check` does."""
    if value is not None:
        app = ctx.find_object(App)  # made by the group before any command's options are read
        assert app is not None
        app.config_path = resolve_config_path(value)


class LazyGroup(TrackerGroup):
    """The group, importing a command's module only when that command is asked for."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Every command also takes `--config` after its name (unless it has its own)."""
        if not any("--config" in getattr(p, "opts", ()) for p in cmd.params):
            cmd.params.append(click.Option(["--config"], type=click.Path(dir_okay=False, path_type=Path), default=None,
                                           expose_value=False, callback=_config_after_command, help=CONFIG_HELP))
        super().add_command(cmd, name)

    def _load(self, module_name: str) -> None:
        module = importlib.import_module(f"tracker.commands.{module_name}")
        for command in getattr(module, "COMMANDS", ()):
            self.add_command(command)

    def load_all(self) -> None:
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            self._load(info.name)

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        self.load_all()
        return sorted(self.commands)

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            self._load(COMMAND_MODULES[cmd_name])
        if cmd_name not in self.commands:
            self.load_all()
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=CONFIG_HELP,
)
@click.version_option(package_name="tracker")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Keep a survey-style reading list current with new arXiv papers."""
    setup_logging()
    ctx.obj = App(config_path=resolve_config_path(config_path))


def main(argv: list[str] | None = None) -> None:
    """Entry point: TrackerError -> `error: ...` on stderr and exit 1."""
    try:
        cli.main(args=argv, prog_name="tracker", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:
        from tracker.store import store_failure  # start-up time: most commands never load the store

        error = exc if isinstance(exc, TrackerError) else store_failure(exc)
        if error is None:
            raise
        click.echo(f"error: {scrub(str(error))}", err=True)
        sys.exit(1)
    sys.exit(0)
