"""forge: git in a cache clone (argument lists only) and the GitHub client against the stand-in."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

from forge_support import git, make_remote, reject_pushes, remote_file
from tracker.propose import forge
from tracker.errors import ConfigError, ForgeError
from tracker.standins.github import GitHubStandin

SURVEY = "# List\n\n## Section\n1.  **Old paper.** `arXiv`  \n    *A. Author.* [[PDF](https://arxiv.org/abs/2001.00001)], 2020.\n"
NOW = datetime(2025, 11, 3, 9, 0, tzinfo=timezone.utc)
TOKEN = "ghp_forgeTestSecretToken123"


def simple_patch(old: str, line: str) -> str:
    n = old.count("\n")
    return (
        "--- a/README.md\n+++ b/README.md\n"
        f"@@ -{n},1 +{n},2 @@\n {old.splitlines()[-1]}\n+{line}\n"
    )


@pytest.mark.parametrize("name", ["tracker/proposals", "bot/weekly-2025.11", "proposals"])
def test_good_branch_names_pass(name):
    assert forge.check_ref_name(name, "github.branch") == name


@pytest.mark.parametrize(
    "name",
    ["-f", "--upload-pack=touch /tmp/x", "a;rm -rf /", "$(touch /tmp/pwned)", "`id`", "a b", "a\nb", "a..b",
     "x.lock", "tracker/", "refs/heads/../x", "a//b", ""],
)
def test_odd_branch_names_are_config_errors_naming_the_key(name):
    with pytest.raises(ConfigError) as err:
        forge.check_ref_name(name, "github.branch", "cfg.toml")
    assert "github.branch" in str(err.value)


def test_repo_dir_name_cannot_escape_the_cache_folder():
    assert "/" not in forge.repo_dir_name("../../etc")
    assert not forge.repo_dir_name("../x").startswith(".")
    assert forge.repo_dir_name("owner/survey") == "owner__survey"


@pytest.mark.parametrize("name,mail", [("a\nb", "x@y"), ("ok", "x@y>"), ("<x>", "x@y"), ("", "x@y")])
def test_identity_with_control_or_angle_characters_is_refused(name, mail):
    with pytest.raises(ConfigError):
        forge.check_identity(name, mail)


def test_clone_commit_push_with_hostile_message_stays_literal(tmp_path):
    bare = make_remote(tmp_path, SURVEY)
    clone = tmp_path / "data" / "forge" / "owner__survey"
    g = forge.Git(clone, forge.Identity("tracker", "tracker@localhost"))
    forge.prepare_clone(str(bare), clone, g)
    forge.fetch(g)
    pwned = tmp_path / "pwned"
    message = f"Add $(touch {pwned}) ; rm -rf {tmp_path} `touch {pwned}`\n\n- --force\n"
    sha = forge.commit_patch(g, "tracker/proposals", "refs/remotes/origin/main", simple_patch(SURVEY, "new line"), message, NOW)
    forge.push(g, "tracker/proposals", forge.remote_sha(g, "tracker/proposals"))
    assert not pwned.exists() and bare.exists()
    assert git("log", "-1", "--format=%B", "refs/heads/tracker/proposals", cwd=bare) == message + "\n"
    assert git("rev-parse", "refs/heads/tracker/proposals", cwd=bare).strip() == sha
    assert git("log", "-1", "--format=%an <%ae> %cn %aI", "tracker/proposals", cwd=bare).strip() == (
        "tracker <tracker@localhost> tracker 2025-11-03T09:00:00+00:00"
    )
    assert remote_file(bare, "tracker/proposals", "README.md") == SURVEY + "new line\n"
    assert remote_file(bare, "main", "README.md") == SURVEY


def test_url_starting_with_dash_is_refused(tmp_path):
    g = forge.Git(tmp_path / "c")
    with pytest.raises(ConfigError, match="github.remote_url"):
        forge.prepare_clone("--upload-pack=touch /tmp/x", tmp_path / "c", g)


def test_missing_remote_is_a_clear_forge_error(tmp_path):
    clone = tmp_path / "c"
    with pytest.raises(ForgeError, match="git clone failed"):
        forge.prepare_clone(str(tmp_path / "nope.git"), clone, forge.Git(clone))


def _break_index_lock(clone):
    (clone / ".git" / "index.lock").write_text("")


def _break_dirty(clone):
    (clone / "README.md").write_text("half-applied patch\n")


def _break_untracked(clone):
    (clone / "README.md.rej").write_text("x\n")


def _break_ref_lock(clone):
    (clone / ".git" / "refs" / "heads" / "tracker").mkdir(parents=True, exist_ok=True)
    (clone / ".git" / "refs" / "heads" / "tracker" / "proposals.lock").write_text("")


def _break_objects(clone):
    """A clone killed while writing objects: the commit HEAD names is gone."""
    head = git("rev-parse", "HEAD", cwd=clone).strip()
    for pack in (clone / ".git" / "objects" / "pack").glob("*"):
        pack.unlink()
    loose = clone / ".git" / "objects" / head[:2] / head[2:]
    if loose.exists():
        loose.unlink()


def _break_no_head(clone):
    """A clone killed before its checkout: .git exists, HEAD names nothing yet."""
    (clone / ".git" / "HEAD").write_text("ref: refs/heads/nothing-yet\n")


@pytest.mark.parametrize("breakage", [_break_index_lock, _break_dirty, _break_untracked, _break_ref_lock, _break_objects,
                                      _break_no_head])
def test_broken_cache_clone_is_cloned_again_and_logged_once(tmp_path, caplog, breakage):
    bare = make_remote(tmp_path, SURVEY)
    clone = tmp_path / "c"
    g = forge.Git(clone)
    forge.prepare_clone(str(bare), clone, g)
    breakage(clone)
    assert forge.clone_problem(clone, g) is not None
    with caplog.at_level("WARNING", logger="tracker.propose.forge"):
        forge.prepare_clone(str(bare), clone, g)
    assert [r.getMessage() for r in caplog.records].count("forge.reclone") == 1
    assert forge.clone_problem(clone, g) is None and (clone / "README.md").read_text() == SURVEY
    forge.fetch(g)
    forge.commit_patch(g, "tracker/proposals", "refs/remotes/origin/main", simple_patch(SURVEY, "x"), "m\n", NOW)
    caplog.clear()
    with caplog.at_level("WARNING", logger="tracker.propose.forge"):
        forge.prepare_clone(str(bare), clone, g)  # a healthy clone is kept as it is
    assert caplog.records == []


def test_a_git_command_past_its_deadline_is_killed_with_its_children(tmp_path):
    """A git that never ends (here an ssh command that hangs) is stopped at the deadline,
    its helper processes too, and says which setting bounds it."""
    import time

    hang = tmp_path / "hang.sh"
    pidfile = tmp_path / "helper.pid"
    hang.write_text(f"#!/bin/sh\nsleep 600 &\necho $! > {pidfile}\nwait\n")
    hang.chmod(0o755)
    g = forge.Git(tmp_path, extra_env={"GIT_SSH_COMMAND": str(hang)}, timeout=1.5)
    started = time.monotonic()
    with pytest.raises(ForgeError, match="timed out after 1.5s") as err:
        g.run("ls-remote", "ssh://example.invalid/repo.git", cwd=tmp_path)
    assert time.monotonic() - started < 30 and "git_timeout_seconds" in str(err.value)
    helper = int(pidfile.read_text())
    for _ in range(50):
        try:
            os.kill(helper, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the hanging helper outlived the git command's deadline")


def test_folder_that_is_not_a_clone_is_refused(tmp_path):
    clone = tmp_path / "c"
    clone.mkdir()
    (clone / "notes.txt").write_text("mine")
    with pytest.raises(ForgeError, match="not a git clone"):
        forge.prepare_clone("/nowhere", clone, forge.Git(clone))


def test_cache_clone_inside_the_users_repo_never_touches_it(tmp_path):
    """The data dir often sits inside the user's own checkout: git must not climb into it."""
    user = tmp_path / "user"
    git("init", "--quiet", "-b", "main", str(user))
    (user / "README.md").write_text("mine\n")
    git("add", "README.md", cwd=user)
    git("commit", "--quiet", "-m", "mine", cwd=user)
    (user / "README.md").write_text("uncommitted work\n")
    before = (git("status", "--porcelain", cwd=user), git("branch", "--list", cwd=user), git("rev-parse", "HEAD", cwd=user))
    bare = make_remote(tmp_path, SURVEY)
    clone = user / "data" / "forge" / "owner__survey"
    (clone).mkdir(parents=True)
    g = forge.Git(clone)
    forge.prepare_clone(str(bare), clone, g)
    forge.fetch(g)
    forge.commit_patch(g, "tracker/proposals", "refs/remotes/origin/main", simple_patch(SURVEY, "x"), "m\n", NOW)
    after = (git("status", "--porcelain", "--", "README.md", cwd=user), git("branch", "--list", cwd=user),
             git("rev-parse", "HEAD", cwd=user))
    assert after == (before[0], before[1], before[2])
    assert (user / "README.md").read_text() == "uncommitted work\n"


def test_push_rejected_by_remote_hook_is_a_forge_error(tmp_path):
    bare = make_remote(tmp_path, SURVEY)
    reject_pushes(bare)
    clone = tmp_path / "c"
    g = forge.Git(clone)
    forge.prepare_clone(str(bare), clone, g)
    forge.fetch(g)
    forge.commit_patch(g, "tracker/proposals", "refs/remotes/origin/main", simple_patch(SURVEY, "x"), "m\n", NOW)
    with pytest.raises(ForgeError, match="rejected"):
        forge.push(g, "tracker/proposals", None)
    assert "tracker/proposals" not in git("branch", "--list", cwd=bare)


def test_push_with_stale_lease_is_refused(tmp_path):
    bare = make_remote(tmp_path, SURVEY)
    clone = tmp_path / "c"
    g = forge.Git(clone)
    forge.prepare_clone(str(bare), clone, g)
    forge.fetch(g)
    forge.commit_patch(g, "tracker/proposals", "refs/remotes/origin/main", simple_patch(SURVEY, "x"), "m\n", NOW)
    forge.push(g, "tracker/proposals", None)
    first = git("rev-parse", "refs/heads/tracker/proposals", cwd=bare)
    forge.commit_patch(g, "tracker/proposals", "refs/remotes/origin/main", simple_patch(SURVEY, "y"), "m2\n", NOW)
    with pytest.raises(ForgeError, match="stale info"):
        forge.push(g, "tracker/proposals", None)
    assert git("rev-parse", "refs/heads/tracker/proposals", cwd=bare) == first


def test_redact_hides_url_credentials_and_registered_secrets():
    forge.register_secret(TOKEN)
    text = forge.redact(f"fatal: could not read https://bot:{TOKEN}@github.com/o/r.git and {TOKEN}")
    assert TOKEN not in text and "bot" not in text and "https://***@github.com/o/r.git" in text


def test_https_token_goes_through_environment_not_arguments():
    env = forge.https_auth_env("https://github.com/o/r.git", TOKEN)
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader" and TOKEN not in env["GIT_CONFIG_VALUE_0"]
    assert forge.https_auth_env("/local/path", TOKEN) == {}
    assert forge.https_auth_env("git@github.com:o/r.git", TOKEN) == {}


def test_github_client_create_find_update_get_against_standin():
    with GitHubStandin(token=TOKEN) as gh, forge.GitHub(gh.url, "owner/survey", TOKEN) as api:
        assert api.find_open("tracker/proposals") is None
        pr = api.create("Add 2 papers", "tracker/proposals", "main", "body one")
        assert (pr.number, pr.state, pr.merged) == (1, "open", False)
        assert api.find_open("tracker/proposals").number == 1
        assert api.find_open("other") is None
        assert api.update(1, "Add 3 papers", "body two").body == "body two"
        gh.set_state(1, "merged")
        assert api.get(1).merged
        post = gh.calls("POST")[0]
        assert post.path == "/repos/owner/survey/pulls"
        assert post.json == {"title": "Add 2 papers", "head": "tracker/proposals", "base": "main", "body": "body one", "draft": True}
        assert post.headers["Authorization"] == f"Bearer {TOKEN}"
        assert gh.calls("GET")[0].query == {"state": ["open"], "head": ["owner:tracker/proposals"]}


@pytest.mark.parametrize(
    "status,message,expect",
    [(401, "Bad credentials", "401"), (422, "A pull request already exists for owner:tracker/proposals.", "already exists"),
     (500, "", "500"), (502, "", "502")],
)
def test_github_errors_are_clear_and_never_show_the_token(status, message, expect):
    with GitHubStandin(token=TOKEN) as gh, forge.GitHub(gh.url, "owner/survey", TOKEN) as api:
        gh.fail_next(status, message)
        with pytest.raises(ForgeError) as err:
            api.create("t", "tracker/proposals", "main", f"body mentioning {TOKEN}")
        text = str(err.value)
        assert expect in text and TOKEN not in text
        assert gh.pulls == {}


def test_wrong_token_is_refused_by_standin():
    with GitHubStandin(token=TOKEN) as gh, forge.GitHub(gh.url, "owner/survey", "ghp_wrongtoken999") as api:
        with pytest.raises(ForgeError, match="401") as err:
            api.find_open("tracker/proposals")
        assert "ghp_wrongtoken999" not in str(err.value)
        assert "token_env" in str(err.value)


def test_unreachable_api_is_a_forge_error():
    waits: list[float] = []
    with pytest.raises(ForgeError, match="github.api_url"):
        with forge.GitHub("http://127.0.0.1:9", "owner/survey", TOKEN, timeout=2, sleep=waits.append) as api:
            api.get(1)
    assert waits == [1.0, 2.0]  # the one retry policy, its sleep injected


def test_init_bare_remote_for_the_demo(tmp_path):
    bare = tmp_path / "demo" / "survey.git"
    sha = forge.init_bare_remote(bare, {"README.md": SURVEY, "docs/x.md": "x\n"})
    assert git("rev-parse", "main", cwd=bare).strip() == sha
    assert remote_file(bare, "main", "README.md") == SURVEY
    with pytest.raises(ForgeError, match="outside"):
        forge.init_bare_remote(tmp_path / "b2.git", {"../evil.md": "x"})
