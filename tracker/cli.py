"""The `tracker` command: a thin layer over the library.

Each command lives in `tracker/commands/<stage>.py` and exports `COMMANDS`; this
module only builds the group, holds the shared options and turns TrackerError
into a one-line message with exit 1 (click's own usage errors exit 2).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click

from tracker.config import Config, load_config, resolve_config_path
from tracker.errors import TrackerError
from tracker.logs import scrub, setup_logging


@dataclass
class App:
    """What every command gets: the config path (loaded on first use) and output mode."""

    config_path: Path
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
            setup_logging(self._config.log.level, self._config.log.format)
        return self._config


pass_app = click.make_pass_decorator(App)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared `--json` flag for commands that print data."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of human-readable text.")(func)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file (default: $TRACKER_CONFIG or config/tracker.toml).",
)
@click.version_option(package_name="tracker")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Keep a survey-style reading list current with new arXiv papers."""
    setup_logging()
    ctx.obj = App(config_path=resolve_config_path(config_path))


def _register() -> None:
    import tracker.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"tracker.commands.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: TrackerError -> `error: ...` on stderr and exit 1."""
    try:
        cli.main(args=argv, prog_name="tracker", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except TrackerError as exc:
        click.echo(f"error: {scrub(str(exc))}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(1)
    sys.exit(0)
