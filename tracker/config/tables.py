"""Parsers for each TOML table: values checked and turned into the dataclasses of
`tracker.config.types`, errors naming the dotted key."""

from __future__ import annotations

import re
from email.utils import parseaddr
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, TypeVar

from tracker.classify.learned import read_model, unread_model
from tracker.classify.terms import Term, TermError, parse_term, unknown_case_sensitive
from tracker.config.reader import Table
from tracker.config.types import (
    DEFAULT_WEIGHTS,
    ArxivConfig,
    CitationsConfig,
    DigestConfig,
    EmailConfig,
    GithubConfig,
    LogConfig,
    ProposeConfig,
    RelevanceConfig,
    Rule,
    ScheduleConfig,
    SectionConfig,
    TelegramConfig,
)
from tracker.errors import ConfigError

T = TypeVar("T")

API_QUERIES = ("categories", "terms")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
CATEGORY = re.compile(r"^[A-Za-z][A-Za-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?$")


def _terms(t: Table, key: str, texts: Any, case_sensitive: tuple[str, ...]) -> tuple[Term, ...]:
    try:
        return tuple(parse_term(text, case_sensitive) for text in texts)
    except TermError as exc:
        raise ConfigError(f"{t.where(key)}: key '{t.key(key)}': {exc}") from None


def _term_groups(t: Table, key: str, case_sensitive: tuple[str, ...]) -> tuple[tuple[Term, ...], ...]:
    """`all`-style groups: a list of lists of terms (a bare string is a group of one)."""
    out: list[tuple[Term, ...]] = []
    for group in t.get(key, list, [], "a list of lists of strings"):
        if isinstance(group, str):
            group = [group]
        if not isinstance(group, list) or not group or not all(isinstance(g, str) and g.strip() for g in group):
            raise t.fail(key, "a list of non-empty lists of strings")
        out.append(_terms(t, key, group, case_sensitive))
    return tuple(out)


def parse_rule(t: Table) -> Rule:
    """One rule table; its terms are parsed here, once, into `Term` values."""
    weights = dict(DEFAULT_WEIGHTS)
    wt = t.table("weights")
    if wt is not None:
        for name in list(wt.data):
            if name not in DEFAULT_WEIGHTS:
                raise ConfigError(f"{wt.where(name)}: unknown key '{wt.key(name)}' (fields: {', '.join(DEFAULT_WEIGHTS)})")
            weights[name] = wt.get(name, float, expected="a number")
            if weights[name] < 0:
                raise wt.fail(name, "a number >= 0")
    case_sensitive = t.strings("case_sensitive")
    regex = t.strings("regex")
    for pattern in regex:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{t.where('regex')}: key '{t.key('regex')}': bad regular expression {pattern!r}: {exc}") from None
    any_ = t.strings("any")
    if "any" in t.data and not any_:
        raise t.fail("any", "a non-empty list of strings")
    title_any = t.strings("title_any")
    if "title_any" in t.data and not title_any:
        raise t.fail("title_any", "a non-empty list of strings")
    min_score = t.get("min_score", float, 1.0)
    if min_score < 0:
        raise t.fail("min_score", "a number >= 0")
    rule = Rule(
        any=_terms(t, "any", any_, case_sensitive),
        all_=_term_groups(t, "all", case_sensitive),
        not_=_terms(t, "not", t.strings("not"), case_sensitive),
        regex=regex,
        case_sensitive=case_sensitive,
        weights=weights,
        min_score=min_score,
        title_any=_terms(t, "title_any", title_any, case_sensitive),
        title_all=_term_groups(t, "title_all", case_sensitive),
        title_not=_terms(t, "title_not", t.strings("title_not"), case_sensitive),
        unless=_terms(t, "unless", t.strings("unless"), case_sensitive),
    )
    unknown = unknown_case_sensitive((*rule.positive_terms, *rule.not_, *rule.title_not, *rule.unless), case_sensitive)
    if unknown:
        raise ConfigError(f"{t.where('case_sensitive')}: key '{t.key('case_sensitive')}': term {unknown[0]!r} is not one of the rule's any/all/not terms")
    return rule


def parse_sections(root: Table) -> tuple[SectionConfig, ...]:
    root.used.add("sections")
    raw = root.data.get("sections", [])
    if not isinstance(raw, list):
        raise ConfigError(f"{root.where('sections')}: [[sections]] must be an array of tables")
    out: list[SectionConfig] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        t = root.child(f"sections[{i}]", item, ("sections", i))
        sid = t.get("id", str, expected="a section id (lower-case letters, digits, - or _)")
        if not SLUG.match(sid):
            raise t.fail("id", "a section id of lower-case letters, digits, - or _")
        if sid in seen:
            raise ConfigError(f"{t.where('id')}: key 'sections[{i}].id': duplicate section id {sid!r}")
        seen.add(sid)
        t.path = f"sections.{sid}"
        heading = t.get("heading", str, expected="the section's heading text in the survey")
        rule = replace(parse_rule(t), fallback=t.get("fallback", bool, False))
        if not (rule.positive_terms or rule.regex):
            raise ConfigError(f"{t.where('any')}: section {sid!r}: key 'sections.{sid}.any' is required (a non-empty list of terms)"
                              + t.typo_of("any"))
        aliases: dict[str, tuple[str, ...]] = {}
        at = t.table("aliases")
        if at is not None:
            for work in list(at.data):
                aliases[work] = at.strings(work, nonempty=True)
        t.used.add("aliases")
        min_relevance = t.get("min_relevance", float, None)
        if min_relevance is not None and not 0 <= min_relevance <= 1:
            raise t.fail("min_relevance", "a number from 0 to 1")
        t.done()
        out.append(SectionConfig(id=sid, heading=heading, rule=rule, aliases=aliases, min_relevance=min_relevance))
    return tuple(out)


def optional_table(root: Table, name: str, build: Callable[[Table], T]) -> T | None:
    t = root.table(name)
    if t is None:
        return None
    value = build(t)
    t.done()
    return value


def positive(t: Table, cfg: object, *names: str) -> None:
    for name in names:
        if getattr(cfg, name) <= 0:
            raise t.fail(name, "a number > 0")


def parse_arxiv(t: Table) -> ArxivConfig:
    d = ArxivConfig()
    cfg = ArxivConfig(
        api_url=t.url("api_url", d.api_url),
        rss_url=t.url("rss_url", d.rss_url),
        categories=t.strings("categories", list(d.categories), nonempty=True),
        delay_seconds=t.get("delay_seconds", float, d.delay_seconds),
        timeout_seconds=t.get("timeout_seconds", float, d.timeout_seconds),
        retries=t.get("retries", int, d.retries),
        deadline_seconds=t.get("deadline_seconds", float, d.deadline_seconds),
        max_response_mb=t.get("max_response_mb", float, d.max_response_mb),
        max_retry_wait_seconds=t.get("max_retry_wait_seconds", float, d.max_retry_wait_seconds),
        page_size=t.get("page_size", int, d.page_size),
        overlap_days=t.get("overlap_days", int, d.overlap_days),
        first_poll_days=t.get("first_poll_days", int, d.first_poll_days),
        query=t.get("query", str, d.query),
    )
    if cfg.query not in API_QUERIES:
        raise t.fail("query", '"categories" (list the categories, the default) or "terms" (only papers naming a rule term)')
    bad = next((c for c in cfg.categories if not CATEGORY.match(c)), None)
    if bad is not None:
        raise t.fail("categories", f"arXiv category names such as \"cs.CL\" or \"hep-th\" ({bad!r} is not one)")
    delay_in_range(t, cfg.delay_seconds)
    positive(t, cfg, "timeout_seconds", "deadline_seconds", "max_response_mb")
    for name in ("retries", "overlap_days", "first_poll_days"):
        if getattr(cfg, name) < 0:
            raise t.fail(name, "an integer >= 0")
    if not 1 <= cfg.page_size <= 2000:
        raise t.fail("page_size", "an integer from 1 to 2000")
    return cfg


def parse_citations(t: Table) -> CitationsConfig:
    d = CitationsConfig()
    provider = t.get("provider", str, d.provider)
    if provider not in ("none", "semantic_scholar"):
        raise t.fail("provider", '"none" or "semantic_scholar"')
    cfg = CitationsConfig(
        provider=provider,
        api_url=t.url("api_url", d.api_url),
        api_key_env=env_name(t, "api_key_env", d.api_key_env),
        page_size=t.get("page_size", int, d.page_size),
        delay_seconds=t.get("delay_seconds", float, d.delay_seconds),
        timeout_seconds=t.get("timeout_seconds", float, d.timeout_seconds),
        retries=t.get("retries", int, d.retries),
    )
    positive(t, cfg, "timeout_seconds")
    if cfg.retries < 0:
        raise t.fail("retries", "an integer >= 0")
    if not 1 <= cfg.page_size <= 1000:
        raise t.fail("page_size", "an integer from 1 to 1000")
    delay_in_range(t, cfg.delay_seconds)
    return cfg


def int_list(t: Table, name: str, nonempty: bool) -> tuple[int, ...]:
    value = t.get(name, list, [] if not nonempty else ..., "a list of integer ids")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value) or (nonempty and not value):
        raise t.fail(name, "a non-empty list of integer ids" if nonempty else "a list of integer ids")
    return tuple(value)


def parse_telegram(t: Table) -> TelegramConfig:
    d = TelegramConfig(token_env="", chat_ids=())
    cfg = TelegramConfig(
        token_env=env_name(t, "token_env", "TELEGRAM_BOT_TOKEN"),
        chat_ids=int_list(t, "chat_ids", nonempty=False),  # empty until `tracker bot --whoami` tells the ids
        api_url=t.url("api_url", d.api_url),
        allowed_user_ids=int_list(t, "allowed_user_ids", nonempty=False),
        send_empty=t.get("send_empty", bool, d.send_empty),
        timeout_seconds=t.get("timeout_seconds", float, d.timeout_seconds),
        retries=t.get("retries", int, d.retries),
        run_bot=t.get("run_bot", bool, d.run_bot),
        deadline_seconds=t.get("deadline_seconds", float, d.deadline_seconds),
        max_retry_wait_seconds=t.get("max_retry_wait_seconds", float, d.max_retry_wait_seconds),
    )
    positive(t, cfg, "timeout_seconds", "deadline_seconds")
    if cfg.retries < 0:
        raise t.fail("retries", "an integer >= 0")
    return cfg


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_name(t: Table, name: str, default: str | None) -> str | None:
    """A `*_env` key: the NAME of an environment variable (the secret itself never goes in the file)."""
    value = t.get(name, str, default)
    if value is not None and not ENV_NAME.fullmatch(value):
        raise t.fail(name, 'the name of an environment variable, such as "TELEGRAM_BOT_TOKEN"')
    return value


def nonempty(t: Table, name: str, value: str) -> str:
    if not value.strip():
        raise t.fail(name, "a non-empty string")
    return value


MAX_DELAY_SECONDS = 600.0  # arXiv asks for 3 s between requests; an hour per request is a typo, not politeness


def delay_in_range(t: Table, delay: float) -> None:
    if not 0 <= delay <= MAX_DELAY_SECONDS:
        raise t.fail("delay_seconds", f"a number of seconds from 0 to {MAX_DELAY_SECONDS:g}")


ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")


def parse_email(t: Table) -> EmailConfig:
    security = t.get("security", str, "starttls")
    if security not in ("ssl", "starttls", "none"):
        raise t.fail("security", '"ssl", "starttls" or "none"')
    port = t.get("port", int, 465 if security == "ssl" else 587)
    if not 0 < port < 65536:
        raise t.fail("port", "a port number from 1 to 65535")
    cfg = EmailConfig(
        host=nonempty(t, "host", t.get("host", str)),
        from_=t.get("from", str, expected="the sender address"),
        to=t.strings("to", nonempty=True),
        port=port,
        security=security,
        username_env=env_name(t, "username_env", None),
        password_env=env_name(t, "password_env", None),
        timeout_seconds=t.get("timeout_seconds", float, 30.0),
        send_empty=t.get("send_empty", bool, False),
        deadline_seconds=t.get("deadline_seconds", float, 300.0),
    )
    positive(t, cfg, "timeout_seconds", "deadline_seconds")
    if not ADDRESS.fullmatch(parseaddr(cfg.from_)[1]):
        raise t.fail("from", "a mail address such as \"tracker@example.org\" (or \"Tracker <tracker@example.org>\")")
    bad = next((a for a in cfg.to if not ADDRESS.fullmatch(parseaddr(a)[1])), None)
    if bad is not None:
        raise t.fail("to", f"mail addresses such as \"you@example.org\" ({bad!r} is not one)")
    return cfg


def parse_github(t: Table) -> GithubConfig:
    d = GithubConfig(remote_url="", repo="")
    repo = t.get("repo", str, expected='"owner/name"')
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+", repo):
        raise t.fail("repo", '"owner/name"')
    cfg = GithubConfig(
        remote_url=t.get("remote_url", str, expected="a git URL or a local path"),
        repo=repo,
        base=nonempty(t, "base", t.get("base", str, d.base)),
        survey_path=nonempty(t, "survey_path", t.get("survey_path", str, d.survey_path)),
        branch=t.get("branch", str, d.branch),
        api_url=t.url("api_url", d.api_url),
        token_env=env_name(t, "token_env", d.token_env),
        author_name=t.get("author_name", str, d.author_name),
        author_email=t.get("author_email", str, d.author_email),
        git_timeout_seconds=t.get("git_timeout_seconds", float, d.git_timeout_seconds),
    )
    positive(t, cfg, "git_timeout_seconds")
    return cfg


def parse_schedule(t: Table) -> ScheduleConfig:
    d = ScheduleConfig()
    values = {name: t.get(name, str, getattr(d, name)) for name in ("timezone", "poll", "catch_up", "digest", "email", "propose")}
    return ScheduleConfig(**values, misfire_grace_seconds=t.get("misfire_grace_seconds", int, d.misfire_grace_seconds))


def parse_digest(t: Table) -> DigestConfig:
    cfg = DigestConfig(max_papers=t.get("max_papers", int, 0))
    if cfg.max_papers < 0:
        raise t.fail("max_papers", "an integer >= 0 (0 = no cap)")
    return cfg


def parse_relevance(t: Table, model_path: Path, read_weights: bool = True) -> RelevanceConfig:
    d = RelevanceConfig
    cfg = RelevanceConfig(
        path=model_path,
        model=read_model(model_path, t.key("model")) if read_weights else unread_model(model_path),
        with_rules=t.get("with_rules", float, d.with_rules),
        alone=t.get("alone", float, d.alone),
    )
    if not 0 <= cfg.with_rules <= 1:
        raise t.fail("with_rules", "a number from 0 to 1")
    if cfg.alone < 0:
        raise t.fail("alone", "a number >= 0 (1 or more: a paper no rule takes is never kept)")
    return cfg


def parse_log(t: Table) -> LogConfig:
    level = t.get("level", str, "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise t.fail("level", '"debug", "info", "warning" or "error"')
    fmt = t.get("format", str, "keyvalue")
    if fmt not in ("keyvalue", "json"):
        raise t.fail("format", '"keyvalue" or "json"')
    return LogConfig(level=level, format=fmt)


def parse_propose(t: Table) -> ProposeConfig:
    cfg = ProposeConfig(auto_accept_score=t.get("auto_accept_score", float, 0.0))
    if cfg.auto_accept_score < 0:
        raise t.fail("auto_accept_score", "a rule score >= 0 (0: accept nothing automatically)")
    return cfg
