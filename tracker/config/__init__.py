"""Load and validate the one TOML config file into frozen dataclasses.

Validation happens once, here; every error names the file, the key and what was
expected. Secrets are never read from the file: `*_env` keys name environment
variables, resolved only when a service is actually used (`Config.secret`).
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from tracker.config.reader import Table, parse_toml
from tracker.config.tables import (
    optional_table,
    parse_arxiv,
    parse_citations,
    parse_digest,
    parse_relevance,
    parse_email,
    parse_github,
    parse_log,
    parse_propose,
    parse_rule,
    parse_schedule,
    parse_sections,
    parse_telegram,
)
from tracker.config.types import (
    DEFAULT_WEIGHTS,
    ArxivConfig,
    CitationsConfig,
    Config,
    DigestConfig,
    EXTENDS_PHRASES,
    EmailConfig,
    GithubConfig,
    LinksConfig,
    LogConfig,
    ProposeConfig,
    RelevanceConfig,
    Rule,
    ScheduleConfig,
    SectionConfig,
    StoreConfig,
    SurveyConfig,
    TelegramConfig,
)
from tracker.errors import ConfigError
from tracker.fsutil import read_failure

DEFAULT_CONFIG = Path("config/tracker.toml")
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
DATA_DIR_ENV = "TRACKER_DATA_DIR"

__all__ = [
    "DEFAULT_CONFIG", "DEFAULT_WEIGHTS", "ArxivConfig", "CitationsConfig", "Config", "DigestConfig", "EmailConfig", "GithubConfig",
    "LinksConfig", "LogConfig", "ProposeConfig", "RelevanceConfig", "Rule", "ScheduleConfig", "SectionConfig", "StoreConfig", "SurveyConfig",
    "TelegramConfig", "DATA_DIR_ENV", "load_config", "parse_config", "resolve_config_path", "with_data_dir",
]


def resolve_config_path(path: str | Path | None) -> Path:
    if path:
        return Path(path)
    env = os.environ.get("TRACKER_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def load_config(path: str | Path | None = None, read_weights: bool = True) -> Config:
    """Read and validate the config; relative paths resolve against the config's folder."""
    file = resolve_config_path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")  # a BOM some Windows editors write is not TOML
        raw = parse_toml(text, file)
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found", "create one with `tracker init SURVEY.md --out FILE`") from None
    except OSError as exc:
        raise ConfigError(read_failure(file, "config", exc)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not valid UTF-8 (byte {exc.start})") from None
    return parse_config(raw, file, read_weights, text)


def parse_config(raw: dict[str, Any], file: Path, read_weights: bool = True, text: str = "") -> Config:
    """`text`, the file's TOML, lets errors name the line of the key (`file:LINE:`)."""
    base = file.parent.absolute()  # a relative --config must not leave relative data paths (git runs in other folders)
    root = Table(file, "", raw, text=text)

    def where(t: Table | None, name: str, default: str | None) -> Path:
        value = t.get(name, str, default) if t is not None else default
        if value is None:
            raise ConfigError(f"{t.where(name) if t else file}: key '{t.key(name) if t else name}' is required"
                              + (t.typo_of(name) if t else ""))
        if t is not None and not value.strip():  # defaults are never empty: only the file can say ""
            raise t.fail(name, "a path, not an empty string")
        if t is not None:
            t.done()
        return resolve(value)

    def resolve(value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(os.path.normpath(base / p))

    survey_t = root.table("survey")
    if survey_t is None:
        raise ConfigError(f"{file}: table [survey] with key 'survey.path' is required" + root.typo_of("survey"))
    survey = SurveyConfig(path=where(survey_t, "path", None))
    store = StoreConfig(path=where(root.table("store"), "path", "../data/tracker.db"))
    out_dir = where(root.table("output"), "path", "../out")
    templates_t = root.table("templates")
    templates_dir = where(templates_t, "path", None) if templates_t is not None else None

    scope_t = root.table("scope")
    scope = parse_rule(scope_t) if scope_t is not None else Rule(min_score=0.0)
    if scope_t is not None:
        scope_t.done()
    sections = parse_sections(root)
    if not sections:
        raise ConfigError(f"{file}: at least one [[sections]] table is required" + root.typo_of("sections"),
                          "run `tracker init SURVEY.md` to bootstrap them")

    relevance_t = root.table("relevance")
    relevance = None
    if relevance_t is not None:
        model = resolve(relevance_t.get("model", str, expected="the learned weights file (`tracker train` writes one)"))
        relevance = parse_relevance(relevance_t, model, read_weights)
        relevance_t.done()

    config = Config(
        file=file,
        survey=survey,
        store=store,
        out_dir=out_dir,
        arxiv=optional_table(root, "arxiv", parse_arxiv) or ArxivConfig(),
        scope=scope,
        sections=sections,
        citations=optional_table(root, "citations", parse_citations) or CitationsConfig(),
        telegram=optional_table(root, "telegram", parse_telegram),
        email=optional_table(root, "email", parse_email),
        github=_local_remote(optional_table(root, "github", parse_github), base),
        propose=optional_table(root, "propose", parse_propose) or ProposeConfig(),
        schedule=optional_table(root, "schedule", parse_schedule) or ScheduleConfig(),
        log=optional_table(root, "log", parse_log) or LogConfig(),
        templates_dir=templates_dir,
        digest=optional_table(root, "digest", parse_digest) or DigestConfig(),
        links=optional_table(root, "links", lambda t: LinksConfig(
            extends_phrases=tuple(p.lower() for p in t.strings("extends_phrases", list(EXTENDS_PHRASES))))) or LinksConfig(),
        relevance=relevance,
    )
    root.done()
    return config


def _local_remote(github: GithubConfig | None, base: Path) -> GithubConfig | None:
    """git's reading of remote_url: `scheme://...` and scp-like `host:path` (a colon before any
    slash) are URLs; anything else is a local path, and a relative one means the config's folder."""
    url = github.remote_url if github is not None else ""
    if github is None or URL_SCHEME.match(url) or ":" in url.split("/", 1)[0]:
        return github
    path = Path(url).expanduser()
    return replace(github, remote_url=str(path if path.is_absolute() else Path(os.path.normpath(base / path))))
def with_data_dir(config: Config, data_dir: str | Path | None) -> Config:
    """`$TRACKER_DATA_DIR` (set by the Docker image, the systemd unit and the Actions
    workflow) puts the database and out/ there whatever the file says, so a config
    written by `tracker init` works unchanged in every deployment."""
    if not data_dir:
        return config
    folder = Path(data_dir).expanduser().absolute()
    return replace(config, store=StoreConfig(path=folder / "tracker.db"), out_dir=folder / "out")
