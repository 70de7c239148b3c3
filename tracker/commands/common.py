"""What every command shares: the App (config loaded on first use), `--json`, JSON
printing and the `--now` value. Commands import this, never tracker.cli (which imports them)."""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

import click

from tracker.config import DATA_DIR_ENV, Config, load_config, with_data_dir
from tracker.errors import TrackerError
from tracker.logs import log, setup_logging
from tracker.models import open_input
from tracker.timeutil import parse_utc


@dataclass
class App:
    """What every command gets: the config path (loaded on first use) and output mode."""

    config_path: Path
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        return self.load_config()

    def load_config(self, read_weights: bool = True) -> Config:
        """The config, loaded once; `read_weights=False` leaves the learned weights file unread
        (`tracker train` must run when that file is missing or broken: it writes a new one)."""
        if self._config is None:
            self._config = with_data_dir(load_config(self.config_path, read_weights), os.environ.get(DATA_DIR_ENV))
            setup_logging(self._config.log.level, self._config.log.format)
            log(logging.getLogger("tracker.cli"), logging.DEBUG, "config.loaded", file=str(self.config_path),
                sections=len(self._config.sections), store=str(self._config.store.path))
        return self._config


pass_app = click.make_pass_decorator(App)


class PapersInput(click.ParamType):
    """A PAPERS.jsonl path or `-`, plain or gzipped (see tracker.models.open_input)."""

    name = "PAPERS.jsonl"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            stream = open_input(value)
        except TrackerError as exc:
            self.fail(str(exc), param, ctx)
        if ctx is not None and stream is not sys.stdin:
            ctx.call_on_close(stream.close)
        return stream


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared `--json` flag for commands that print data."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of human-readable text.")(func)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def parse_now(text: str) -> datetime:
    """The `--now` option's value: an ISO date-time, UTC when it names no zone."""
    try:
        return parse_utc(text)
    except ValueError:
        raise click.BadParameter(f"expected an ISO date-time like 2025-11-01T00:00:00Z, got {text!r}", param_hint="'--now'") from None


def comma_list(text: str, known: Sequence[str], what: str, option: str) -> list[str]:
    """A comma list of `known` names (`--channel stdout,telegram`, `--period day,week`), each
    once, in the order given; anything else is a usage error naming the option."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise click.BadParameter(f"unknown {what} {(unknown or [text])[0]!r} (use {', '.join(known)})", param_hint=option)
    return list(dict.fromkeys(names))
