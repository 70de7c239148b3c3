"""`tracker check` against the stand-ins: every configured service asked for real,
one line per check with the fix, exit 1 if any fails; `run` refuses to start on a
missing secret or a heading typo; status and poll catch the typo too."""

from __future__ import annotations

import json
import shutil
import time
import tomllib

import pytest

from conftest import REPEATED_HEADINGS, ROOT, repeated_layer
from tracker.config import load_config
from tracker.propose.forge import init_bare_remote
from tracker.run.check import check_survey
from tracker.standins.arxiv import ArxivReplay
from tracker.standins.github import GitHubStandin
from tracker.standins.server import SilentPort, closed_port
from tracker.standins.smtp import SmtpStandin
from tracker.standins.telegram import TelegramStandin

TOKEN = "4242:check-token"
SECTIONS = (ROOT / "config" / "tracker.toml").read_text(encoding="utf-8").split("[[sections]]", 1)[1]


def shipped_from_sections(text: str = SECTIONS) -> dict:
    """The shipped config from its first [[sections]] on (sections, digest, propose, schedule)."""
    return tomllib.loads("[[sections]]" + text)


CHECK = {"survey": {"path": "llm-survey.md"}, **shipped_from_sections()}  # the layer of these tests (conftest write_config)


@pytest.fixture(autouse=True)
def survey_copy(tmp_path):
    shutil.copy(ROOT / "config" / "llm-survey.md", tmp_path / "llm-survey.md")


def arxiv_table(url: str, rss_url: str | None = None) -> dict:
    return {"arxiv": {"api_url": url, "rss_url": rss_url or url, "delay_seconds": 0}}


@pytest.fixture
def standins(tmp_path, monkeypatch):
    monkeypatch.setenv("TG_TOKEN", TOKEN)
    monkeypatch.setenv("SMTP_USER", "maintainer")
    monkeypatch.setenv("SMTP_PASSWORD", "app-password")
    monkeypatch.setenv("GH_TOKEN", "ghp_check")
    remote = tmp_path / "survey.git"
    init_bare_remote(remote, {"README.md": "# survey\n"})
    with ArxivReplay(limit=20) as arxiv, TelegramStandin(token=TOKEN) as tg, \
            SmtpStandin(credentials=("maintainer", "app-password")) as smtp, GitHubStandin(token="ghp_check") as gh:
        yield {"arxiv": arxiv, "tg": tg, "smtp": smtp, "gh": gh, "remote": remote}


def services(s, arxiv_url: str | None = None, tg_url: str | None = None, smtp_port: int | None = None) -> dict:
    return {
        **arxiv_table(arxiv_url or s["arxiv"].api_url, arxiv_url or s["arxiv"].rss_url),
        "telegram": {"api_url": tg_url or s["tg"].url, "token_env": "TG_TOKEN", "chat_ids": [1001, -2002]},
        "email": {"host": "127.0.0.1", "port": smtp_port or s["smtp"].port, "security": "none",
                  "username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD", "from": "t@localhost", "to": ["m@localhost"]},
        "github": {"remote_url": str(s["remote"]), "repo": "owner/survey", "api_url": s["gh"].url, "token_env": "GH_TOKEN"},
    }


def lines_of(out: str, name: str) -> list[str]:
    return [l for l in out.splitlines() if l[2:].startswith(name)]


def test_every_service_answers(tmp_path, standins, run_cli, write_config):
    config = write_config(CHECK, services(standins))
    code, out, err = run_cli("--config", str(config), "check", "--timeout", "5")
    assert code == 0, out + err
    assert out.splitlines()[-1] == "all checks passed"
    assert all(l.startswith("✓") for l in out.splitlines()[:-1]), out
    assert len(lines_of(out, "telegram")) == 3  # getMe + one getChat per chat
    assert [c.method for c in standins["tg"].requests if c.method == "getChat"] == ["getChat", "getChat"]
    assert standins["smtp"].logins == ["maintainer"] and standins["smtp"].received == []  # logged in, sent nothing
    assert [r.path for r in standins["gh"].requests] == ["/repos/owner/survey"]
    assert "survey file README.md on main: found" in out
    assert any("search_query" in r.params for r in standins["arxiv"].requests)
    assert not (tmp_path / "data").exists(), "check creates nothing"


def test_each_broken_service_is_named_with_its_fix(tmp_path, standins, run_cli, monkeypatch, write_config):
    monkeypatch.setenv("TG_TOKEN", "4242:revoked")                 # Telegram rejects the token
    monkeypatch.setenv("SMTP_PASSWORD", "account-password")        # SMTP refuses the login
    standins["gh"].push = False                                     # read-only token
    shutil.rmtree(standins["remote"])                               # the git remote is gone
    config = write_config(CHECK, services(standins, arxiv_url=f"http://127.0.0.1:{closed_port()}/api/query"))
    code, out, err = run_cli("--config", str(config), "check", "--timeout", "5")
    assert code == 1
    arxiv, = lines_of(out, "arxiv")
    assert arxiv.startswith("✗") and "connection refused" in arxiv
    rss, = lines_of(out, "rss")  # the feed `poll --source rss` reads is asked too (it was never probed)
    assert rss.startswith("✗") and "connection refused" in rss and "fix: check arxiv.rss_url" in out
    telegram = "\n".join(lines_of(out, "telegram"))
    assert telegram.startswith("✗") and "rejected the token" in telegram
    assert "fix: create a token with @BotFather" in out
    email, = lines_of(out, "email")
    assert email.startswith("✗") and "refused the login" in email and "fix: use an app password" in out
    git, api = lines_of(out, "github")
    assert git.startswith("✗ github    git ls-remote") and "fix: check github.remote_url" in out
    assert api.startswith("✗") and "not push" in api and "Contents: read and write" in out
    assert out.splitlines()[-1] == "6 of 10 checks failed"


def test_a_survey_path_missing_on_the_base_branch_fails_check(tmp_path, standins, run_cli, write_config):
    """`propose --pr` would fail on it ("not found on refs/remotes/origin/main"): check says so first."""
    table = services(standins)
    table["github"]["survey_path"] = "docs/README.md"
    code, out, err = run_cli("--config", str(write_config(CHECK, table)), "check", "--timeout", "5")
    assert code == 1
    survey, = [l for l in lines_of(out, "github") if "survey file" in l]
    assert survey.startswith("✗") and "docs/README.md on main: not found" in survey
    assert "fix: set github.survey_path" in out and out.splitlines()[-1] == "1 of 13 checks failed"


def test_a_bad_crontab_or_time_zone_fails_check_as_run_would(tmp_path, standins, run_cli, write_config):
    """`check` passed a crontab `tracker run` then refused to start with."""
    for schedule, words in (({"poll": "0 8 * * 9"}, "schedule.poll': bad crontab expression"),
                            ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'")):
        folder = tmp_path / words[:8].replace("'", "")
        folder.mkdir()
        config = write_config(CHECK, {**services(standins), "schedule": schedule}, folder=folder)
        code, out, err = run_cli("--config", str(config), "check", "--timeout", "5")
        line, = lines_of(out, "schedule")
        assert code == 1 and line.startswith("✗ schedule") and words in line, out


def test_unreachable_chat_and_silent_servers(tmp_path, standins, run_cli, write_config):
    standins["tg"].fail("getChat", 400, chat_id=-2002)
    config = write_config(CHECK, services(standins))
    code, out, _ = run_cli("--config", str(config), "check", "--json", "--timeout", "5")
    assert code == 1
    chats = [c for c in json.loads(out) if c["check"] == "telegram" and "chat" in c["detail"]]
    assert [c["ok"] for c in chats] == [True, False] and "tracker bot --whoami" in chats[1]["fix"]

    with SilentPort() as silent_http, SilentPort() as silent_smtp:
        config = write_config(CHECK, services(standins, arxiv_url=f"http://127.0.0.1:{silent_http}/api/query",
                                          tg_url=f"http://127.0.0.1:{silent_http}", smtp_port=silent_smtp))
        began = time.monotonic()
        code, out, _ = run_cli("--config", str(config), "check", "--timeout", "0.5")
        took = time.monotonic() - began
    assert code == 1
    arxiv, email = lines_of(out, "arxiv")[0], lines_of(out, "email")[0]
    assert arxiv.startswith("✗") and "no answer" in arxiv and "within 0.5 s" in arxiv, arxiv
    assert email.startswith("✗") and "sent no greeting in 0.5s" in email, email  # as an implicit-TLS port does
    assert 'needs email.security = "ssl"' in out
    assert lines_of(out, "telegram")[0].startswith("✗")
    assert took < 30, "each probe keeps to its timeout"


def test_missing_secret_fails_check_and_run_refuses_to_start(tmp_path, standins, run_cli, monkeypatch, write_config):
    monkeypatch.delenv("TG_TOKEN")
    config = write_config(CHECK, services(standins))
    code, out, _ = run_cli("--config", str(config), "check", "--timeout", "5")
    assert code == 1 and "TG_TOKEN" in lines_of(out, "telegram")[0]
    code, out, err = run_cli("--config", str(config), "run", "--once")
    assert code == 1 and "not starting" in err and "TG_TOKEN" in err
    assert all(r.params.get("max_results") == "1" for r in standins["arxiv"].api_requests()), "no poll ran"


def test_heading_typo_is_caught_by_check_status_poll_and_run(tmp_path, run_cli, standins, write_config):
    typo = SECTIONS.replace('heading = "大语言模型架构概览"', 'heading = "大语言模型架构概揽"', 1)
    assert typo != SECTIONS
    config = write_config(CHECK, arxiv_table(standins["arxiv"].api_url, standins["arxiv"].rss_url), shipped_from_sections(typo))
    code, out, _ = run_cli("--config", str(config), "check", "--timeout", "5")
    survey, = lines_of(out, "survey")
    assert code == 1 and survey.startswith("✗") and "did you mean '大语言模型架构概览'" in survey
    for args in (("poll", "--source", "rss"), ("run", "--once")):
        code, _, err = run_cli("--config", str(config), *args)
        assert code == 1 and "大语言模型架构概揽" in err and "did you mean" in err, args
    code, _, err = run_cli("--config", str(config), "status")  # warns, still shows the state (the healthcheck)
    assert code == 0 and err.startswith("warning: section 'architecture'") and "did you mean" in err
    asked = standins["arxiv"].requests  # only check's two probes: no poll ran
    assert all(r.params.get("max_results") == "1" for r in asked if not r.path.startswith("/rss"))
    assert len([r for r in asked if r.path.startswith("/rss")]) <= 1


def test_a_bad_alias_fails_check_and_run_as_the_first_poll_would(tmp_path, run_cli, standins, write_config):
    """An alias naming no listed work passed `check`, and the daemon then failed at its first poll."""
    bad = SECTIONS.replace('aliases."2203.15556" = ["Chinchilla"]', 'aliases."2203.99999" = ["Chinchilla"]', 1)
    assert bad != SECTIONS
    config = write_config(CHECK, arxiv_table(standins["arxiv"].api_url, standins["arxiv"].rss_url), shipped_from_sections(bad))
    line = next(n for n, text in enumerate(config.read_text(encoding="utf-8").splitlines(), 1) if "2203.99999" in text)
    code, out, _ = run_cli("--config", str(config), "check", "--timeout", "5")
    survey, = lines_of(out, "survey")
    assert code == 1 and survey.startswith(f"✗ survey    {config}:{line}: key 'sections.scaling.aliases.2203.99999'"), out
    assert "no listed work" in survey
    code, _, err = run_cli("--config", str(config), "run", "--once")
    assert code == 1 and "not starting" in err and "2203.99999" in err
    assert all(r.params.get("max_results") == "1" for r in standins["arxiv"].api_requests()), "no poll ran"


def test_a_configured_citations_service_is_asked(tmp_path, run_cli, standins, monkeypatch, write_config):
    """A dead Semantic Scholar, or one refusing a missing key, passed check; the poll then failed."""
    from tracker.standins.semantic_scholar import SemanticScholarStandin

    with SemanticScholarStandin(api_key="s2-key") as s2:
        table = {"citations": {"provider": "semantic_scholar", "api_url": s2.url, "api_key_env": "S2_TEST_KEY", "delay_seconds": 0}}
        config = write_config(CHECK, arxiv_table(standins["arxiv"].api_url, standins["arxiv"].rss_url), table)
        monkeypatch.setenv("S2_TEST_KEY", "s2-key")
        code, out, _ = run_cli("--config", str(config), "check", "--timeout", "5")
        line, = lines_of(out, "citations")
        assert code == 0 and line.startswith("✓ citations") and "ARXIV:" in line, out
        assert s2.requests and all("/citations" in r.path for r in s2.requests)
        monkeypatch.delenv("S2_TEST_KEY")
        code, out, _ = run_cli("--config", str(config), "check", "--timeout", "5")
        line, = lines_of(out, "citations")
        assert code == 1 and line.startswith("✗ citations") and "403" in line and "S2_TEST_KEY" in out, out
    table["citations"]["api_url"] = f"http://127.0.0.1:{closed_port()}"
    config = write_config(CHECK, arxiv_table(standins["arxiv"].api_url, standins["arxiv"].rss_url), table)
    code, out, _ = run_cli("--config", str(config), "check", "--timeout", "5")
    line, = lines_of(out, "citations")
    assert code == 1 and line.startswith("✗ citations") and "fix: check citations.api_url" in out, out
    code, out, _ = run_cli("--config", str(write_config(CHECK, arxiv_table(standins["arxiv"].api_url, standins["arxiv"].rss_url))),
                           "check", "--timeout", "5")
    assert lines_of(out, "citations") == []  # provider "none": nothing to ask


def test_unwritable_store_is_named(tmp_path, run_cli, standins, write_config):
    config = write_config(CHECK, arxiv_table(standins["arxiv"].api_url, standins["arxiv"].rss_url))
    (tmp_path / "data").write_text("a file where the data folder should be")
    code, out, _ = run_cli("--config", str(config), "check", "--timeout", "5")
    store, = lines_of(out, "store")
    assert code == 1 and store.startswith("✗") and "not writable" in store and "10001" in out


def test_a_heading_several_sections_share_fails_the_survey_check_unless_the_id_picks_one(tmp_path, write_config):
    """Check found the heading, so a config id naming neither `### Papers` passed and patches went to the first."""
    (tmp_path / "survey.md").write_text(REPEATED_HEADINGS, encoding="utf-8")
    bad = check_survey(load_config(write_config(repeated_layer("papers", "speech"))))
    assert not bad.ok and bad.blocking and bad.detail.startswith("section 'speech': heading 'Papers' is in ")
    assert "line 5 (id 'papers'), line 12 (id 'papers-2'); set the section id" in bad.detail
    assert check_survey(load_config(write_config(repeated_layer("papers", "papers-2")))).ok
