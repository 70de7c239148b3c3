"""The validated configuration as frozen dataclasses, one per TOML table."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tracker.classify.learned import LearnedModel
from tracker.classify.terms import Term, parse_term
from tracker.errors import ConfigError

DEFAULT_WEIGHTS = {"title": 3.0, "abstract": 1.0, "comment": 0.5, "journal_ref": 0.5}


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
    timeout_seconds: float = 20.0
    retries: int = 3
    deadline_seconds: float = 120.0
    max_response_mb: float = 32.0
    max_retry_wait_seconds: float = 600.0
    page_size: int = 2000
    overlap_days: int = 2
    first_poll_days: int = 7
    query: str = "categories"


@dataclass(frozen=True)
class Rule:
    """The terms of one section (or of the global scope), parsed into `Term`s.

    `all_` holds groups: each group is a list of alternatives of which one must
    match. `case_sensitive` is the config's list as written (each named term
    already carries it); plain strings given for terms are parsed here, so code
    that builds a rule (init, tune, tests) reads terms exactly as the config does.
    `title_any` / `title_all` / `title_not` are `any` / `all` / `not` terms that
    count only when they occur in the title (the paper's subject, not a word its
    abstract uses). `unless` terms, when in the title, lift the rule's
    `title_not` exclusions (a vision word drops a paper unless its title names a
    language model); `not` always excludes. A `fallback` section (sections only) comes after
    every other section the paper matched, whatever the scores: the broad
    catch-all never outranks a specific section.
    """

    any: tuple[Term, ...] = ()
    all_: tuple[tuple[Term, ...], ...] = ()
    not_: tuple[Term, ...] = ()
    regex: tuple[str, ...] = ()
    case_sensitive: tuple[str, ...] = ()
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    min_score: float = 1.0
    title_any: tuple[Term, ...] = ()
    title_all: tuple[tuple[Term, ...], ...] = ()
    title_not: tuple[Term, ...] = ()
    unless: tuple[Term, ...] = ()
    fallback: bool = False

    def __post_init__(self) -> None:
        def terms(values: tuple) -> tuple[Term, ...]:
            return tuple(v if isinstance(v, Term) else parse_term(v, self.case_sensitive) for v in values)

        object.__setattr__(self, "any", terms(self.any))
        object.__setattr__(self, "all_", tuple(terms(g) for g in self.all_))
        object.__setattr__(self, "not_", terms(self.not_))
        object.__setattr__(self, "title_any", terms(self.title_any))
        object.__setattr__(self, "title_all", tuple(terms(g) for g in self.title_all))
        object.__setattr__(self, "title_not", terms(self.title_not))
        object.__setattr__(self, "unless", terms(self.unless))

    @property
    def positive_terms(self) -> tuple[Term, ...]:
        """Terms that can put a paper in: `any`, `title_any` and every `all`/`title_all` group."""
        return self.any + self.title_any + tuple(t for group in self.all_ + self.title_all for t in group)


@dataclass(frozen=True)
class SectionConfig:
    """`min_relevance`: the learned score a paper needs to stay in this section (None:
    `[relevance] with_rules`)."""

    id: str
    heading: str
    rule: Rule
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min_relevance: float | None = None


@dataclass(frozen=True)
class RelevanceConfig:
    """The learned relevance gate (docs/classification.md): a section the rules pick is kept
    when the paper's learned score reaches the section's `min_relevance` (default
    `with_rules`); a paper no rule takes goes to the fallback section when its score
    reaches `alone` (1 or more: never)."""

    path: Path
    model: LearnedModel
    with_rules: float = 0.05
    alone: float = 0.7


@dataclass(frozen=True)
class CitationsConfig:
    provider: str = "none"
    api_url: str = "https://api.semanticscholar.org"
    api_key_env: str = "S2_API_KEY"
    page_size: int = 100
    delay_seconds: float = 1.0
    timeout_seconds: float = 20.0
    retries: int = 3


@dataclass(frozen=True)
class TelegramConfig:
    token_env: str
    chat_ids: tuple[int, ...]
    api_url: str = "https://api.telegram.org"
    allowed_user_ids: tuple[int, ...] = ()
    send_empty: bool = False
    timeout_seconds: float = 30.0
    retries: int = 3
    run_bot: bool = True  # the daemon answers the digest's buttons where the digest is sent
    deadline_seconds: float = 60.0
    max_retry_wait_seconds: float = 600.0


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
    deadline_seconds: float = 300.0


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
    git_timeout_seconds: float = 300.0


EXTENDS_PHRASES = ("based on", "builds on", "built on", "build on", "building on", "builds upon", "built upon",
                   "build upon", "we extend", "extends", "extending", "an extension of", "on top of", "-based")


@dataclass(frozen=True)
class LinksConfig:
    """`extends_phrases`: words before a listed work's name (or, starting with "-", right after
    it, as in "LLaMA-based") that make a mention an "extends"; otherwise it is a "mentions"."""

    extends_phrases: tuple[str, ...] = EXTENDS_PHRASES


@dataclass(frozen=True)
class DigestConfig:
    """`max_papers`: the most papers a daily digest shows (0 = no cap); see docs/delivery.md."""

    max_papers: int = 0


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
    digest: DigestConfig = field(default_factory=DigestConfig)
    links: LinksConfig = field(default_factory=LinksConfig)
    relevance: RelevanceConfig | None = None

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
