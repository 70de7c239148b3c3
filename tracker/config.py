"""Load and validate the one TOML config file into frozen dataclasses.

Validation happens once, here; every error names the file, the key and what was
expected. Secrets are never read from the file: `*_env` keys name environment
variables, resolved only when a service is actually used (`Config.secret`).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from tracker.errors import ConfigError

DEFAULT_CONFIG = Path("config/tracker.toml")
T = TypeVar("T")

DEFAULT_WEIGHTS = {"title": 3.0, "abstract": 1.0, "comment": 0.5, "journal_ref": 0.5}


class _Table:
    """A view of one TOML table that knows its dotted key path, for error messages."""

    def __init__(self, file: Path, path: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: [{path}] must be a table, got {type(data).__name__}")
        self.file, self.path, self.data, self.used = file, path, data, set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, expected: str) -> ConfigError:
        return ConfigError(f"{self.file}: key '{self.key(name)}': expected {expected}, got {self.data.get(name)!r}")

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ..., expected: str = "") -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is ...:
                raise ConfigError(f"{self.file}: key '{self.key(name)}' is required ({expected or _kind_name(kind)})")
            return default
        value = self.data[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            raise self.fail(name, expected or _kind_name(kind))
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(name, "a finite number")
        return value

    def url(self, name: str, default: str) -> str:
        """An http(s) URL: a missing scheme or host would only fail at the first request."""
        value = self.get(name, str, default)
        if not re.match(r"^https?://[^/\s?#]+", value):
            raise self.fail(name, "an http:// or https:// URL")
        return value

    def strings(self, name: str, default: list[str] | None = None, nonempty: bool = False) -> tuple[str, ...]:
        value = self.get(name, list, [] if default is None else default, "a list of strings")
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(name, "a list of non-empty strings")
        if nonempty and not value:
            raise self.fail(name, "a non-empty list of strings")
        return tuple(value)

    def table(self, name: str) -> "_Table | None":
        self.used.add(name)
        return _Table(self.file, self.key(name), self.data[name]) if name in self.data else None

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(f"{self.file}: unknown key '{self.key(unknown[0])}'" + _known_hint(self.used))


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _known_hint(used: set[str]) -> str:
    return f" (known keys: {', '.join(sorted(used))})" if used else ""


@dataclass(frozen=True)
class SurveyConfig:
    path: Path


@dataclass(frozen=True)
class StoreConfig:
    path: Path


@dataclass(frozen=True)
class ArxivConfig:
    api_url: str = "https://export.arxiv.org/api/query"
    rss_url: str = "https://rss.arxiv.org/rss"
    categories: tuple[str, ...] = ("cs.CL", "cs.LG", "cs.AI")
    delay_seconds: float = 3.0
    timeout_seconds: float = 30.0
    retries: int = 3
    page_size: int = 500
    overlap_days: int = 2
    first_poll_days: int = 7


@dataclass(frozen=True)
class Rule:
    """The terms of one section (or of the global scope), uncompiled.

    `all_` holds groups: each group is a list of alternatives of which one must
    match. `case_sensitive` lists terms matched exactly as written (e.g. T5).
    """

    any: tuple[str, ...] = ()
    all_: tuple[tuple[str, ...], ...] = ()
    not_: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    case_sensitive: tuple[str, ...] = ()
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    min_score: float = 1.0


@dataclass(frozen=True)
class SectionConfig:
    id: str
    heading: str
    rule: Rule
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class CitationsConfig:
    provider: str = "none"
    api_url: str = "https://api.semanticscholar.org"
    api_key_env: str = "S2_API_KEY"
    page_size: int = 100
    delay_seconds: float = 1.0


@dataclass(frozen=True)
class TelegramConfig:
    token_env: str
    chat_ids: tuple[int, ...]
    api_url: str = "https://api.telegram.org"
    allowed_user_ids: tuple[int, ...] = ()
    send_empty: bool = False
    timeout_seconds: float = 30.0
    retries: int = 3
    run_bot: bool = False


@dataclass(frozen=True)
class EmailConfig:
    host: str
    from_: str
    to: tuple[str, ...]
    port: int = 587
    security: str = "starttls"
    username_env: str | None = None
    password_env: str | None = None
    timeout_seconds: float = 30.0
    send_empty: bool = False


@dataclass(frozen=True)
class GithubConfig:
    remote_url: str
    repo: str
    base: str = "main"
    survey_path: str = "README.md"
    branch: str = "tracker/proposals"
    api_url: str = "https://api.github.com"
    token_env: str = "GITHUB_TOKEN"
    author_name: str = "tracker"
    author_email: str = "tracker@localhost"


@dataclass(frozen=True)
class ProposeConfig:
    auto_accept_score: float = 0.0


@dataclass(frozen=True)
class ScheduleConfig:
    timezone: str = "America/New_York"
    poll: str = "30 20 * * sun-thu"
    catch_up: str = "0 12 * * *"
    digest: str = "0 8 * * *"
    email: str = "0 8 * * mon"
    propose: str = "0 9 * * mon"
    misfire_grace_seconds: int = 6 * 3600


@dataclass(frozen=True)
class LogConfig:
    level: str = "INFO"
    format: str = "keyvalue"


@dataclass(frozen=True)
class Config:
    file: Path
    survey: SurveyConfig
    store: StoreConfig
    out_dir: Path
    arxiv: ArxivConfig
    scope: Rule
    sections: tuple[SectionConfig, ...]
    citations: CitationsConfig
    telegram: TelegramConfig | None
    email: EmailConfig | None
    github: GithubConfig | None
    propose: ProposeConfig
    schedule: ScheduleConfig
    log: LogConfig
    templates_dir: Path | None = None

    @property
    def data_dir(self) -> Path:
        return self.store.path.parent

    def section(self, key: str) -> SectionConfig | None:
        """Find a section by id or by exact heading text."""
        for s in self.sections:
            if key in (s.id, s.heading):
                return s
        return None

    def secret(self, env_key_name: str, env_name: str | None) -> str:
        """Read a secret from the environment; the error names the config key, never the value."""
        if not env_name:
            raise ConfigError(f"{self.file}: key '{env_key_name}' is not set")
        value = os.environ.get(env_name)
        if not value:
            raise ConfigError(f"environment variable {env_name} (named by '{env_key_name}' in {self.file}) is not set")
        return value


SLUG = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
CATEGORY = re.compile(r"^[A-Za-z][A-Za-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?$")


def _rule(t: _Table) -> Rule:
    weights = dict(DEFAULT_WEIGHTS)
    wt = t.table("weights")
    if wt is not None:
        for name in list(wt.data):
            if name not in DEFAULT_WEIGHTS:
                raise ConfigError(f"{t.file}: unknown key '{wt.key(name)}' (fields: {', '.join(DEFAULT_WEIGHTS)})")
            weights[name] = wt.get(name, float, expected="a number")
            if weights[name] < 0:
                raise wt.fail(name, "a number >= 0")
    groups = t.get("all", list, [], "a list of lists of strings")
    all_: list[tuple[str, ...]] = []
    for group in groups:
        if isinstance(group, str):
            group = [group]
        if not isinstance(group, list) or not group or not all(isinstance(g, str) and g.strip() for g in group):
            raise t.fail("all", "a list of non-empty lists of strings")
        all_.append(tuple(group))
    regex = t.strings("regex")
    for pattern in regex:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{t.file}: key '{t.key('regex')}': bad regular expression {pattern!r}: {exc}") from None
    any_ = t.strings("any")
    if "any" in t.data and not any_:
        raise t.fail("any", "a non-empty list of strings")
    min_score = t.get("min_score", float, 1.0)
    if min_score < 0:
        raise t.fail("min_score", "a number >= 0")
    return Rule(
        any=any_,
        all_=tuple(all_),
        not_=t.strings("not"),
        regex=regex,
        case_sensitive=t.strings("case_sensitive"),
        weights=weights,
        min_score=min_score,
    )


def _sections(file: Path, raw: Any) -> tuple[SectionConfig, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{file}: [[sections]] must be an array of tables")
    out: list[SectionConfig] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        t = _Table(file, f"sections[{i}]", item)
        sid = t.get("id", str, expected="a section id (lower-case letters, digits, - or _)")
        if not SLUG.match(sid):
            raise t.fail("id", "a section id of lower-case letters, digits, - or _")
        if sid in seen:
            raise ConfigError(f"{file}: key 'sections[{i}].id': duplicate section id {sid!r}")
        seen.add(sid)
        t.path = f"sections.{sid}"
        heading = t.get("heading", str, expected="the section's heading text in the survey")
        rule = _rule(t)
        if not (rule.any or rule.all_ or rule.regex):
            raise ConfigError(f"{file}: section {sid!r}: key 'sections.{sid}.any' is required (a non-empty list of terms)")
        aliases: dict[str, tuple[str, ...]] = {}
        at = t.table("aliases")
        if at is not None:
            for work in list(at.data):
                aliases[work] = at.strings(work, nonempty=True)
        t.used.add("aliases")
        t.done()
        out.append(SectionConfig(id=sid, heading=heading, rule=rule, aliases=aliases))
    return tuple(out)


def _optional(root: _Table, name: str, build: Callable[[_Table], T]) -> T | None:
    t = root.table(name)
    if t is None:
        return None
    value = build(t)
    t.done()
    return value


def _arxiv(t: _Table) -> ArxivConfig:
    d = ArxivConfig()
    cfg = ArxivConfig(
        api_url=t.url("api_url", d.api_url),
        rss_url=t.url("rss_url", d.rss_url),
        categories=t.strings("categories", list(d.categories), nonempty=True),
        delay_seconds=t.get("delay_seconds", float, d.delay_seconds),
        timeout_seconds=t.get("timeout_seconds", float, d.timeout_seconds),
        retries=t.get("retries", int, d.retries),
        page_size=t.get("page_size", int, d.page_size),
        overlap_days=t.get("overlap_days", int, d.overlap_days),
        first_poll_days=t.get("first_poll_days", int, d.first_poll_days),
    )
    bad = next((c for c in cfg.categories if not CATEGORY.match(c)), None)
    if bad is not None:
        raise t.fail("categories", f"arXiv category names such as \"cs.CL\" or \"hep-th\" ({bad!r} is not one)")
    if cfg.delay_seconds < 0:
        raise t.fail("delay_seconds", "a number >= 0")
    if cfg.timeout_seconds <= 0:
        raise t.fail("timeout_seconds", "a number > 0")
    for name in ("retries", "overlap_days", "first_poll_days"):
        if getattr(cfg, name) < 0:
            raise t.fail(name, "an integer >= 0")
    if not 1 <= cfg.page_size <= 2000:
        raise t.fail("page_size", "an integer from 1 to 2000")
    return cfg


def _citations(t: _Table) -> CitationsConfig:
    d = CitationsConfig()
    provider = t.get("provider", str, d.provider)
    if provider not in ("none", "semantic_scholar"):
        raise t.fail("provider", '"none" or "semantic_scholar"')
    cfg = CitationsConfig(
        provider=provider,
        api_url=t.url("api_url", d.api_url),
        api_key_env=t.get("api_key_env", str, d.api_key_env),
        page_size=t.get("page_size", int, d.page_size),
        delay_seconds=t.get("delay_seconds", float, d.delay_seconds),
    )
    if not 1 <= cfg.page_size <= 1000:
        raise t.fail("page_size", "an integer from 1 to 1000")
    if cfg.delay_seconds < 0:
        raise t.fail("delay_seconds", "a number >= 0")
    return cfg


def _int_list(t: _Table, name: str, nonempty: bool) -> tuple[int, ...]:
    value = t.get(name, list, [] if not nonempty else ..., "a list of integer ids")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value) or (nonempty and not value):
        raise t.fail(name, "a non-empty list of integer ids" if nonempty else "a list of integer ids")
    return tuple(value)


def _telegram(t: _Table) -> TelegramConfig:
    d = TelegramConfig(token_env="", chat_ids=())
    cfg = TelegramConfig(
        token_env=t.get("token_env", str, "TELEGRAM_BOT_TOKEN"),
        chat_ids=_int_list(t, "chat_ids", nonempty=True),
        api_url=t.url("api_url", d.api_url),
        allowed_user_ids=_int_list(t, "allowed_user_ids", nonempty=False),
        send_empty=t.get("send_empty", bool, d.send_empty),
        timeout_seconds=t.get("timeout_seconds", float, d.timeout_seconds),
        retries=t.get("retries", int, d.retries),
        run_bot=t.get("run_bot", bool, d.run_bot),
    )
    if cfg.timeout_seconds <= 0:
        raise t.fail("timeout_seconds", "a number > 0")
    if cfg.retries < 0:
        raise t.fail("retries", "an integer >= 0")
    return cfg


def _email(t: _Table) -> EmailConfig:
    security = t.get("security", str, "starttls")
    if security not in ("ssl", "starttls", "none"):
        raise t.fail("security", '"ssl", "starttls" or "none"')
    port = t.get("port", int, 465 if security == "ssl" else 587)
    if not 0 < port < 65536:
        raise t.fail("port", "a port number from 1 to 65535")
    cfg = EmailConfig(
        host=t.get("host", str),
        from_=t.get("from", str, expected="the sender address"),
        to=t.strings("to", nonempty=True),
        port=port,
        security=security,
        username_env=t.get("username_env", str, None),
        password_env=t.get("password_env", str, None),
        timeout_seconds=t.get("timeout_seconds", float, 30.0),
        send_empty=t.get("send_empty", bool, False),
    )
    if cfg.timeout_seconds <= 0:
        raise t.fail("timeout_seconds", "a number > 0")
    return cfg


def _github(t: _Table) -> GithubConfig:
    d = GithubConfig(remote_url="", repo="")
    repo = t.get("repo", str, expected='"owner/name"')
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+", repo):
        raise t.fail("repo", '"owner/name"')
    return GithubConfig(
        remote_url=t.get("remote_url", str, expected="a git URL or a local path"),
        repo=repo,
        base=t.get("base", str, d.base),
        survey_path=t.get("survey_path", str, d.survey_path),
        branch=t.get("branch", str, d.branch),
        api_url=t.url("api_url", d.api_url),
        token_env=t.get("token_env", str, d.token_env),
        author_name=t.get("author_name", str, d.author_name),
        author_email=t.get("author_email", str, d.author_email),
    )


def _schedule(t: _Table) -> ScheduleConfig:
    d = ScheduleConfig()
    values = {name: t.get(name, str, getattr(d, name)) for name in ("timezone", "poll", "catch_up", "digest", "email", "propose")}
    return ScheduleConfig(**values, misfire_grace_seconds=t.get("misfire_grace_seconds", int, d.misfire_grace_seconds))


def _log(t: _Table) -> LogConfig:
    level = t.get("level", str, "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise t.fail("level", '"debug", "info", "warning" or "error"')
    fmt = t.get("format", str, "keyvalue")
    if fmt not in ("keyvalue", "json"):
        raise t.fail("format", '"keyvalue" or "json"')
    return LogConfig(level=level, format=fmt)


def resolve_config_path(path: str | Path | None) -> Path:
    if path:
        return Path(path)
    env = os.environ.get("TRACKER_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate the config; relative paths resolve against the config's folder."""
    file = resolve_config_path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found", "create one with `tracker init SURVEY.md --out FILE`") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a directory, expected a TOML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not valid UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return parse_config(raw, file)


def parse_config(raw: dict[str, Any], file: Path) -> Config:
    base = file.parent.absolute()  # a relative --config must not leave relative data paths (git runs in other folders)
    root = _Table(file, "", raw)

    def where(t: _Table | None, name: str, default: str | None) -> Path:
        value = t.get(name, str, default) if t is not None else default
        if value is None:
            raise ConfigError(f"{file}: key '{t.key(name) if t else name}' is required")
        if t is not None:
            t.done()
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(os.path.normpath(base / p))

    survey_t = root.table("survey")
    if survey_t is None:
        raise ConfigError(f"{file}: table [survey] with key 'survey.path' is required")
    survey = SurveyConfig(path=where(survey_t, "path", None))
    store = StoreConfig(path=where(root.table("store"), "path", "../data/tracker.db"))
    out_dir = where(root.table("output"), "path", "../out")
    templates_t = root.table("templates")
    templates_dir = where(templates_t, "path", None) if templates_t is not None else None

    scope_t = root.table("scope")
    scope = _rule(scope_t) if scope_t is not None else Rule(min_score=0.0)
    if scope_t is not None:
        scope_t.done()
    root.used.add("sections")
    sections = _sections(file, raw.get("sections", []))
    if not sections:
        raise ConfigError(f"{file}: at least one [[sections]] table is required", "run `tracker init SURVEY.md` to bootstrap them")

    config = Config(
        file=file,
        survey=survey,
        store=store,
        out_dir=out_dir,
        arxiv=_optional(root, "arxiv", _arxiv) or ArxivConfig(),
        scope=scope,
        sections=sections,
        citations=_optional(root, "citations", _citations) or CitationsConfig(),
        telegram=_optional(root, "telegram", _telegram),
        email=_optional(root, "email", _email),
        github=_optional(root, "github", _github),
        propose=_optional(root, "propose", lambda t: ProposeConfig(auto_accept_score=t.get("auto_accept_score", float, 0.0))) or ProposeConfig(),
        schedule=_optional(root, "schedule", _schedule) or ScheduleConfig(),
        log=_optional(root, "log", _log) or LogConfig(),
        templates_dir=templates_dir,
    )
    root.done()
    return config
