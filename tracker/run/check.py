"""`tracker check`: is this deployment ready? The config, the survey headings, the
store folder, and every configured service asked for real (arXiv one cheap query,
Telegram getMe and getChat per chat, SMTP connect + TLS + login without sending,
GitHub `git ls-remote`, the survey file on the base branch, and the repository call
with its push permission).

Each probe makes one attempt with a short timeout and becomes one `Check` line: what
was found, and on failure the fix. `tracker run` runs the checks that need no
network at start (config, schedule, store, survey headings, every configured service's
secret) and refuses to start on a `blocking` failure; the services themselves are
probed by `tracker check` (a service down at 3 a.m. is the jobs' retries' business,
not a reason for a daemon to exit).
"""

from __future__ import annotations

import asyncio
import errno
import os
import smtplib
import socket
import ssl
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import httpx

from tracker.config import ArxivConfig, Config
from tracker.config.lines import locate
from tracker.deliver.email import SmtpSession, credentials
from tracker.deliver.telegram import WHOAMI, TelegramClient, TelegramRefused
from tracker.errors import ConfigError, TrackerError
from tracker.links.match import known_works
from tracker.logs import scrub
from tracker.propose import forge
from tracker.run.schedule import job_specs
from tracker.sources.arxiv_rss import feed_url
from tracker.survey.headings import HEADINGS_HINT, unknown_headings
from tracker.survey.parse import Survey, load_survey

DEFAULT_TIMEOUT = 10.0  # `tracker check --timeout` has the same default


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    blocking: bool = False
    skipped: bool = False

    def line(self) -> str:
        mark = "-" if self.skipped else ("✓" if self.ok else "✗")
        fix = f"\n    fix: {self.fix}" if self.fix and not self.ok else ""
        return f"{mark} {self.name:<9} {self.detail}{fix}"

    def to_json(self) -> dict[str, object]:
        return {"check": self.name, "ok": self.ok, "skipped": self.skipped, "detail": self.detail, "fix": self.fix}


def network_failure(exc: BaseException, where: str, timeout: float) -> str | None:
    """A refused connection or a silent server, in words (None for anything else)."""
    if isinstance(exc, (httpx.TimeoutException, socket.timeout, TimeoutError)) or "timed out" in str(exc).lower():
        return f"no answer from {where} within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED or (
        isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower()
    ):
        return f"nothing listens at {where} (connection refused)"
    if isinstance(exc, socket.gaierror) or (isinstance(exc, httpx.ConnectError) and "name" in str(exc).lower()):
        return f"cannot resolve the host of {where}"
    if isinstance(exc, (httpx.HTTPError, OSError)):
        return f"cannot reach {where}: {scrub(str(exc)) or type(exc).__name__}"
    return None


def _secret(config: Config, service: str, key: str, env: str | None) -> tuple[str | None, Check | None]:
    try:
        return config.secret(key, env), None
    except TrackerError as exc:
        return None, Check(service, False, exc.message, f"set {env} in the environment (deploy/tracker.env, or the "
                           "workflow's secrets); `run` refuses to start without it", blocking=True)


def check_survey(config: Config, survey: Survey | None = None) -> Check:
    """The survey (`survey`, when `run_checks` has read it) has every configured heading and alias."""
    try:
        survey = survey or load_survey(config.survey.path)
    except TrackerError as exc:
        return Check("survey", False, str(exc), "fix survey.path in the config")
    problems = unknown_headings(survey, ((s.id, s.heading) for s in config.sections))
    if problems:
        return Check("survey", False, "; ".join(problems), HEADINGS_HINT, blocking=True)
    try:
        known_works(survey, config)  # `sections.<id>.aliases` name the survey's works: a poll would stop on a bad one
    except ConfigError as exc:
        return Check("survey", False, exc.message, exc.hint or "fix the alias in the config", blocking=True)
    entries = sum(len(s.entries) for s in survey.sections)
    return Check("survey", True, f"{config.survey.path}: {entries} entries; all {len(config.sections)} "
                                 "configured headings found")


def check_schedule(config: Config) -> Check:
    """The crontab lines and time zone `tracker run` would refuse to start with."""
    try:
        specs = job_specs(config)
    except ConfigError as exc:
        return Check("schedule", False, exc.message, exc.hint or "see docs/deploy.md for the crontab fields", blocking=True)
    on = [s.name for s in specs if s.enabled]
    return Check("schedule", True, f"{config.schedule.timezone}: {', '.join(on) if on else 'no job'} scheduled")


def check_store(config: Config) -> Check:
    folder = config.store.path.parent
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is not a folder")
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".tracker-check-"):
            pass
        if config.store.path.exists() and not os.access(config.store.path, os.W_OK):
            raise PermissionError(f"{config.store.path} is read-only")
    except OSError as exc:
        return Check("store", False, f"{folder} is not writable: {exc.strerror or exc}",
                     f"make it writable by uid {os.getuid()} (Docker: chown -R 10001:10001 the volume or bind mount), "
                     "or set TRACKER_DATA_DIR or store.path", blocking=True)
    state = "exists" if config.store.path.exists() else "will be created"
    return Check("store", True, f"{config.store.path} ({state}), folder writable; outputs in {config.out_dir}")


def _feed_probe(name: str, key: str, url: str, params: dict[str, str], tags: tuple[bytes, ...], kind: str,
                timeout: float) -> Check | None:
    """One GET of an arXiv feed: a failing Check naming `key` and its default, or None when a feed came back."""
    try:
        resp = httpx.get(url, params=params, timeout=timeout, headers={"User-Agent": "tracker check"})
    except httpx.HTTPError as exc:
        return Check(name, False, network_failure(exc, url, timeout) or str(exc), f"check {key} and the network")
    if resp.status_code != 200 or not any(tag in resp.content[:4000] for tag in tags):
        default = getattr(ArxivConfig(), key.split(".")[1])
        return Check(name, False, f"{url} answered {resp.status_code} with no {kind} feed", f"check {key} (default {default})")
    return None


def check_arxiv(config: Config, timeout: float) -> Check:
    url, category = config.arxiv.api_url, config.arxiv.categories[0]
    failed = _feed_probe("arxiv", "arxiv.api_url", url, {"search_query": f"cat:{category}", "max_results": "1"},
                         (b"<feed",), "Atom", timeout)
    return failed or Check("arxiv", True, f"{url} answered a query for {category}")


def check_rss(config: Config, timeout: float) -> Check:
    """The announcement feed `poll --source rss` reads, asked once as the poll asks it."""
    url = feed_url(config.arxiv)
    failed = _feed_probe("rss", "arxiv.rss_url", url, {}, (b"<rss", b"<rdf", b"<feed"), "RSS", timeout)
    return failed or Check("rss", True, f"{url} answered with a feed")


WELL_KNOWN = "1706.03762"  # a work every citations provider knows, for a survey that links no arXiv paper


def check_citations(config: Config, timeout: float, survey: Survey | None) -> Check:
    """The citations provider `poll --source citations` asks, asked once for a listed work's citing papers."""
    from tracker.sources import citations  # start-up: only when a provider is configured

    cfg = replace(config.citations, retries=0, timeout_seconds=timeout)
    probe_config = replace(config, citations=cfg)
    work = next((e.arxiv_id for _, e in survey.entries() if e.arxiv_id), WELL_KNOWN) if survey else WELL_KNOWN
    http = citations.http_for(probe_config)
    try:
        next(iter(citations.provider_for(probe_config, http).fetch_citing(work, None)), None)
    except citations.NotFound:
        pass  # the service answered; it does not know this work
    except TrackerError as exc:
        keyed = any(code in exc.message for code in ("HTTP 401", "HTTP 403", "HTTP 429"))
        return Check("citations", False, exc.message,
                     f"set the key in the variable citations.api_key_env names ({cfg.api_key_env})" if keyed
                     else f"check citations.api_url ({cfg.api_url}) and the network")
    finally:
        http.close()
    return Check("citations", True, f"{cfg.provider} at {cfg.api_url} answered for ARXIV:{work}")


def check_telegram(config: Config, timeout: float) -> list[Check]:

    cfg = config.telegram
    assert cfg is not None
    token = config.secret("telegram.token_env", cfg.token_env)
    probe_cfg = replace(cfg, retries=0, timeout_seconds=timeout, deadline_seconds=timeout + 1)

    async def probe() -> list[Check]:
        try:
            client = await TelegramClient(probe_cfg, token or "").__aenter__()
        except TelegramRefused as exc:
            return [Check("telegram", False, f"{cfg.api_url} rejected the token: {exc.message}",
                          f"create a token with @BotFather (/token) and put it in {cfg.token_env}")]
        except TrackerError as exc:
            return [Check("telegram", False, exc.message, "check telegram.api_url and the network")]
        out = [Check("telegram", True, f"token accepted: @{client.bot.username or '?'}"
                                      f"{'' if cfg.run_bot else ' (run_bot = false: no triage bot in `run`)'}")]
        try:
            for chat in cfg.chat_ids:
                try:
                    info = await client.get_chat(chat)
                except TrackerError as exc:
                    out.append(Check("telegram", False, f"chat {chat}: {exc.message}",
                                     f"add the bot to that chat (or press Start in a private chat); {WHOAMI}"))
                    continue
                name = info.get("title") or info.get("username") or info.get("first_name") or ""
                out.append(Check("telegram", True, f"chat {chat} reachable ({info.get('type', '?')} {name})".rstrip()))
        finally:
            await client.__aexit__(None, None, None)
        if not cfg.chat_ids:
            out.append(Check("telegram", False, f"{locate(config.file, 'telegram.chat_ids')}: telegram.chat_ids is empty: "
                             "the digest goes nowhere", WHOAMI))
        return out

    return asyncio.run(probe())


def check_email(config: Config, timeout: float) -> Check:

    cfg = config.email
    assert cfg is not None
    user, password = credentials(config)
    where = f"{cfg.host}:{cfg.port}"
    try:
        SmtpSession(replace(cfg, timeout_seconds=timeout), user, password, retries=0).probe()
    except TrackerError as exc:
        fix = ("use an app password (Gmail, Outlook, Fastmail: the account's security settings), not the account "
               "password" if "login" in exc.message else exc.hint)
        return Check("email", False, exc.message, fix)
    except ssl.SSLError as exc:
        return Check("email", False, f"TLS with {where} failed: {exc.reason or exc}",
                     'match email.security to the port: "ssl" for 465, "starttls" for 587')
    except (smtplib.SMTPException, OSError) as exc:
        return Check("email", False, network_failure(exc, where, timeout) or f"{where}: {scrub(str(exc))}",
                     "check email.host, email.port and email.security")
    how = {"ssl": "SSL", "starttls": "STARTTLS", "none": "no TLS"}.get(cfg.security, cfg.security)
    return Check("email", True, f"{where} {how}" + (f", logged in as {user}" if user else ", no login configured")
                 + " (no mail sent)")


def check_github(config: Config, timeout: float) -> list[Check]:

    gh = config.github
    assert gh is not None
    token = config.secret("github.token_env", gh.token_env)
    out = []
    with tempfile.TemporaryDirectory(prefix="tracker-check-") as tmp:
        git = forge.Git(Path(tmp), extra_env=forge.https_auth_env(gh.remote_url, token), timeout=timeout)
        try:
            heads = git.run("ls-remote", "--heads", "--", gh.remote_url, gh.base, cwd=Path(tmp)).stdout
        except TrackerError as exc:
            out.append(Check("github", False, f"git ls-remote {gh.remote_url}: {forge.redact(exc.message)[-300:]}",
                             "check github.remote_url and that the token (or SSH key) may read the repository"))
        else:
            found = f"branch {gh.base} found" if heads.strip() else f"no branch {gh.base!r} (github.base)"
            out.append(Check("github", bool(heads.strip()), f"git ls-remote {gh.remote_url}: {found}",
                             "set github.base to the survey repository's default branch"))
            if heads.strip():
                out.append(_survey_on_base(git, gh.remote_url, gh.base, gh.survey_path))
    try:
        with forge.GitHub(gh.api_url, gh.repo, token or "", timeout=timeout) as api:
            repo = api.repository()
    except TrackerError as exc:
        out.append(Check("github", False, exc.message,
                         "a fine-grained token for this repository with Contents and Pull requests: read and write"))
        return out
    push = (repo.get("permissions") or {}).get("push")
    out.append(Check("github", bool(push), f"API {gh.repo}: " + ("the token may push" if push else
                     "the token can read but not push (permissions.push is false)"),
                     f"give the token Contents: read and write on {gh.repo} (fine-grained) or the repo scope"))
    return out


def _survey_on_base(git: forge.Git, remote_url: str, base: str, path: str) -> Check:
    """Whether `github.survey_path` is a file on the base branch: `propose --pr` patches it.
    One shallow fetch without file contents (`--filter=blob:none`), so a big repository
    costs little; a server that ignores the filter sends the last commit's files."""
    where = f"{path} on {base}"
    try:
        git.run("init", "-q")
        git.run("fetch", "-q", "--depth", "1", "--filter=blob:none", "--", remote_url, base)
        kind = git.run("cat-file", "-t", f"FETCH_HEAD:{path}", check=False).stdout.strip()
    except TrackerError as exc:
        return Check("github", False, f"git fetch {remote_url} {base}: {forge.redact(exc.message)[-300:]}",
                     "check github.remote_url and github.base")
    return Check("github", kind == "blob", f"survey file {where}: " + ("found" if kind == "blob" else "not found"),
                 "set github.survey_path to the survey's path inside the repository (e.g. README.md)")


def missing_secrets(config: Config) -> list[Check]:
    """A configured service whose secret is not in the environment (no network)."""
    wanted = []
    if config.telegram is not None:
        wanted.append(("telegram", "telegram.token_env", config.telegram.token_env))
    if config.email is not None and config.email.username_env:
        wanted.append(("email", "email.username_env", config.email.username_env))
        if config.email.password_env:
            wanted.append(("email", "email.password_env", config.email.password_env))
    if config.github is not None:
        wanted.append(("github", "github.token_env", config.github.token_env))
    return [c for c in (_secret(config, *w)[1] for w in wanted) if c is not None]


def run_checks(config: Config, timeout: float = DEFAULT_TIMEOUT, network: bool = True) -> list[Check]:
    """Every check for `config`, in order; never raises for a failed probe. Without
    `network` (`run` at start) only what needs no service: config, schedule, store, survey, secrets."""
    gate = (f"; learned gate: {len(config.relevance.model.weights)} weighted words from {config.relevance.path}"
            if config.relevance else "")
    checks = [Check("config", True, f"{config.file}: {len(config.sections)} sections{gate}"), check_schedule(config),
              check_store(config)]
    try:
        survey: Survey | None = load_survey(config.survey.path)
    except TrackerError:
        survey = None  # check_survey reads it again to say why
    checks.append(check_survey(config, survey))
    if not network:
        return checks + missing_secrets(config)
    checks += [check_arxiv(config, timeout), check_rss(config, timeout)]
    if config.citations.provider != "none":
        checks.append(check_citations(config, timeout, survey))
    services: list[tuple[str, object, Callable[[], Check | list[Check]]]] = [
        ("telegram", config.telegram, lambda: check_telegram(config, timeout)),
        ("email", config.email, lambda: check_email(config, timeout)),
        ("github", config.github, lambda: check_github(config, timeout)),
    ]
    missing = {c.name: c for c in reversed(missing_secrets(config))}
    for name, table, probe in services:
        if table is None:
            checks.append(Check(name, True, f"not configured (no [{name}] table): skipped", skipped=True))
            continue
        if name in missing:
            checks.append(missing[name])
            continue
        try:
            found = probe()
        except Exception as exc:  # a probe's bug must not hide the other checks
            found = Check(name, False, f"{type(exc).__name__}: {scrub(str(exc))}", "report this as a bug")
        checks.extend(found if isinstance(found, list) else [found])
    return checks
