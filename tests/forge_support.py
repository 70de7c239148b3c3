"""Helpers for the forge and propose tests: a local bare remote seeded with a survey,
and a config pointing at it and at the GitHub stand-in. (No tests in this file.)"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

SEED_COMMITTER = ["-c", "user.name=Upstream Maintainer", "-c", "user.email=maintainer@example.org",
                  "-c", "commit.gpgsign=false"]


def git(*args: str, cwd: Path | None = None, stdin: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"})
    proc = subprocess.run(["git", *SEED_COMMITTER, *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                          env=env, check=False)
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def make_remote(tmp_path: Path, survey_text: str, survey_path: str = "README.md") -> Path:
    """A bare repository on `main` holding `survey_text` at `survey_path`, like a GitHub repo."""
    bare = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", "-b", "main", str(bare))
    work = tmp_path / "upstream"
    git("clone", "--quiet", str(bare), str(work))
    git("checkout", "--quiet", "-b", "main", cwd=work)
    (work / survey_path).parent.mkdir(parents=True, exist_ok=True)
    (work / survey_path).write_bytes(survey_text.encode("utf-8"))
    git("add", "--", survey_path, cwd=work)
    git("commit", "--quiet", "-m", "Seed the survey", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    return bare


def upstream_edit(tmp_path: Path, survey_path: str, edit) -> str:
    """Someone pushes a change to the survey on main; returns the new text."""
    work = tmp_path / "upstream"
    git("pull", "--quiet", "--ff-only", "origin", "main", cwd=work)
    target = work / survey_path
    new = edit(target.read_bytes().decode("utf-8"))
    target.write_bytes(new.encode("utf-8"))
    git("commit", "--quiet", "-am", "Upstream edit", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    return new


def remote_file(bare: Path, ref: str, path: str) -> str:
    return git("show", f"{ref}:{path}", cwd=bare)


def reject_pushes(bare: Path) -> None:
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'push refused by policy' >&2\nexit 1\n")
    hook.chmod(0o755)


SHIPPED = tomllib.loads((Path(__file__).resolve().parent.parent / "config" / "tracker.toml").read_text(encoding="utf-8"))
# The config layer of the propose tests (`write_config(PROPOSE, survey={"path": ...})`, conftest):
# the shipped sections and digest, output in the test folder, every candidate auto-accepted.
PROPOSE = {
    "output": {"path": "out"},
    "scope": {"any": ["language model", "LLM", "transformer"]},
    "sections": SHIPPED["sections"],
    "digest": SHIPPED["digest"],
    "propose": {"auto_accept_score": 0},
}


def github_at(remote: Path, api_url: str = "http://127.0.0.1:9", **changes) -> dict:
    """The [github] table pointed at the bare remote and the GitHub stand-in."""
    return {"remote_url": str(remote), "repo": "owner/survey", "base": "main", "survey_path": "README.md",
            "branch": "tracker/proposals", "api_url": api_url, "token_env": "TRACKER_TEST_GH_TOKEN", **changes}
