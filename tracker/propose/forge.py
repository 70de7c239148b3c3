"""git and the GitHub REST API: the only module that runs git or talks to GitHub.

git always runs as an argument list (never a shell) inside a cache clone under
the data directory, so a title or branch name is only ever data, and the user's
own working copy is never touched. Secrets (the API token) are registered with
tracker.logs so no error or log line can show them.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

import httpx

from tracker.config.lines import locate
from tracker.errors import ConfigError, ForgeError
from tracker.logs import log, register_secret, scrub
from tracker.net.http import bounded_transport, deadline
from tracker.net.retry import RetryPolicy, Transient, over_cap_hint
from tracker.sources import retry_after_seconds

logger = logging.getLogger("tracker.propose.forge")

SAFE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/\-]*$")
SAFE_IDENT = re.compile(r"^[^\x00-\x1f<>\x7f]+$")
USERINFO = re.compile(r"://[^/@\s]+@")
GIT_TIMEOUT = 300.0


class ApiError(ForgeError):
    """GitHub answered with an HTTP error; `status` lets callers tell 404 from 5xx."""

    def __init__(self, message: str, hint: str | None, status: int) -> None:
        super().__init__(message, hint)
        self.status = status


def redact(text: str) -> str:
    """Registered secrets and any `user:password@` in a URL become ***."""
    return USERINFO.sub("://***@", scrub(text))


def check_ref_name(name: str, key: str, config_file: Path | str = "config") -> str:
    """A branch name git accepts and that cannot be read as an option or shell text."""
    if not isinstance(name, str) or not SAFE_REF.match(name) or name.endswith("/") or ".." in name or "//" in name:
        raise ConfigError(
            f"{locate(config_file, key)}: key '{key}': {name!r} is not a safe branch name",
            "use letters, digits, '.', '_', '-' and '/' (e.g. tracker/proposals)",
        )
    try:
        proc = subprocess.run(
            ["git", "check-ref-format", "--branch", name],
            capture_output=True, text=True, env=git_env(), timeout=30, check=False,
        )
    except FileNotFoundError:
        raise ForgeError("git is not installed (needed for `propose --pr`)") from None
    if proc.returncode != 0:
        raise ConfigError(f"{locate(config_file, key)}: key '{key}': {name!r} is not a valid git branch name")
    return name


def check_identity(name: str, email: str, config_file: Path | str = "config") -> tuple[str, str]:
    """Author name and email for commits: one line each, no angle brackets."""
    for key, value in (("github.author_name", name), ("github.author_email", email)):
        if not value or not SAFE_IDENT.match(value) or value.strip() != value:
            raise ConfigError(f"{locate(config_file, key)}: key '{key}': {value!r} must be one line without '<', '>' or control characters")
    return name, email


def repo_dir_name(repo: str) -> str:
    """`owner/name` -> a folder name that cannot climb out of the cache folder."""
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", repo.replace("/", "__")).lstrip(".")
    return safe or "repo"


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for git: never prompt, never inherit a caller's repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in ("GIT_SSH", "GIT_SSH_COMMAND")}
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1"})
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Identity:
    name: str = "tracker"
    email: str = "tracker@localhost"


def run_bounded(argv: list[str], cwd: Path, env: Mapping[str, str], stdin: bytes | None, timeout: float) -> tuple[int, bytes, bytes]:
    """Run one command with a total deadline. It gets a process group of its own, so on the
    deadline (or Ctrl-C, or any error here) the whole group goes: git's helpers
    (git-remote-https, ssh, index-pack) die with it and cannot keep the pipes open."""
    proc = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except BaseException:
        _kill_group(proc)
        raise
    return proc.returncode, out, err


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        pass


class Git:
    """git commands inside one folder, as argument lists, with a clean environment and a
    total deadline per command (`github.git_timeout_seconds`)."""

    SAFETY = ("-c", "protocol.ext.allow=never", "-c", "credential.interactive=false", "-c", "commit.gpgsign=false")

    def __init__(self, workdir: Path, identity: Identity = Identity(), extra_env: Mapping[str, str] | None = None,
                 timeout: float = GIT_TIMEOUT) -> None:
        self.workdir = workdir
        self.identity = identity
        self.extra_env = dict(extra_env or {})
        self.timeout = timeout

    def raw(self, *args: str, stdin: str | None = None, env: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> tuple[int, bytes, bytes]:
        """(exit code, stdout, stderr) as bytes; a missing git or the deadline is a ForgeError."""
        argv = ["git", *self.SAFETY, "-c", f"user.name={self.identity.name}", "-c", f"user.email={self.identity.email}", *args]
        ceiling = str((cwd or self.workdir).resolve().parent)
        log(logger, logging.DEBUG, "git.run", command=args[0], dir=str(cwd or self.workdir))
        try:
            return run_bounded(argv, cwd or self.workdir, git_env({"GIT_CEILING_DIRECTORIES": ceiling, **self.extra_env, **(env or {})}),
                               stdin.encode("utf-8") if stdin is not None else None, self.timeout)
        except FileNotFoundError:
            raise ForgeError("git is not installed (needed for `propose --pr`)") from None
        except subprocess.TimeoutExpired:
            raise ForgeError(f"git {args[0]} timed out after {self.timeout:g}s in {self.workdir}",
                             "raise github.git_timeout_seconds, or check the remote and the network") from None

    def run(self, *args: str, stdin: str | None = None, env: Mapping[str, str] | None = None, check: bool = True,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        code, out, err = self.raw(*args, stdin=stdin, env=env, cwd=cwd)
        proc = subprocess.CompletedProcess(args, code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
        if check and proc.returncode != 0:
            detail = redact(" ".join((proc.stderr or proc.stdout).split()))
            raise ForgeError(f"git {args[0]} failed in {self.workdir} (exit {proc.returncode}): {detail[-800:]}")
        return proc

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()


def https_auth_env(remote_url: str, token: str | None) -> dict[str, str]:
    """For an https remote, hand git the token as a header through GIT_CONFIG_* variables,
    which (unlike -c) never show up in the process list."""
    if not token or not remote_url.startswith("https://"):
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    register_secret(basic)
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}


def prepare_clone(remote_url: str, clone_dir: Path, git: Git) -> None:
    """Clone into `clone_dir` if it is missing. An existing clone is checked first (see
    `clone_problem`); a broken one, as a kill during clone, checkout, apply or commit
    leaves it, is deleted and cloned again, with one log line saying why. The clone is
    only a cache: every proposal is rebuilt from the fetched base branch. A folder that
    was never a git clone is not ours and is refused, never deleted."""
    if remote_url.startswith("-"):
        raise ConfigError(f"key 'github.remote_url': {remote_url!r} must not start with '-'")
    if clone_dir.exists() and not (clone_dir.is_dir() and not any(clone_dir.iterdir())):
        if not (clone_dir / ".git").is_dir():
            raise ForgeError(f"{clone_dir} exists but is not a git clone", "remove that folder; tracker will clone the remote again")
        problem = clone_problem(clone_dir, git)
        if problem is None:
            current = git.run("config", "--get", "remote.origin.url", check=False).stdout.strip()
            if current != remote_url:
                git.run("config", "remote.origin.url", remote_url)
            return
        log(logger, logging.WARNING, "forge.reclone", dir=str(clone_dir), reason=problem)
        shutil.rmtree(clone_dir)
    clone_dir.parent.mkdir(parents=True, exist_ok=True)
    git.run("clone", "--quiet", "--", remote_url, str(clone_dir), cwd=clone_dir.parent)
    log(logger, logging.INFO, "forge.cloned", dir=str(clone_dir))


LOCK_FILES = ("index.lock", "HEAD.lock", "config.lock", "packed-refs.lock", "shallow.lock", "ORIG_HEAD.lock", "FETCH_HEAD.lock")


def clone_problem(clone_dir: Path, git: Git) -> str | None:
    """Why the cache clone cannot be used as it is, or None. Run under the propose lock,
    so a git lock file here is always a leftover of a killed git, never a live one."""
    dot = clone_dir / ".git"
    stale = [str(p.relative_to(dot)) for p in (dot / name for name in LOCK_FILES) if p.exists()]
    stale += [str(p.relative_to(dot)) for p in (dot / "refs").rglob("*.lock")] if (dot / "refs").is_dir() else []
    if stale:
        return f"stale git lock file {stale[0]} (a git command was killed)"
    top = git.run("rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != clone_dir.resolve():
        return "not a usable git clone"
    if git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).returncode != 0:
        return "no commit checked out (a clone was interrupted)"
    fsck = git.run("fsck", "--connectivity-only", "--no-progress", check=False)
    if fsck.returncode != 0:
        return "git fsck --connectivity-only failed: " + redact(" ".join((fsck.stderr or fsck.stdout).split()))[:200]
    dirty = git.run("status", "--porcelain", "--untracked-files=all", check=False)
    if dirty.returncode != 0:
        return "git status failed: " + redact(" ".join(dirty.stderr.split()))[:200]
    if dirty.stdout.strip():
        return f"uncommitted changes ({dirty.stdout.splitlines()[0].strip()})"
    return None


def fetch(git: Git) -> None:
    git.run("fetch", "--quiet", "--prune", "origin", "+refs/heads/*:refs/remotes/origin/*")


def remote_sha(git: Git, branch: str) -> str | None:
    """The fetched tip of origin/<branch>, or None when the remote has no such branch."""
    proc = git.run("rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}^{{commit}}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def show_file(git: Git, ref: str, path: str) -> str:
    """A file's text at a fetched ref (bytes decoded as UTF-8, newlines kept exactly)."""
    code, out, _ = git.raw("show", f"{ref}:{path}")
    if code != 0:
        raise ForgeError(f"{path} not found on {ref} of the remote", "check github.survey_path and github.base")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ForgeError(f"{path} on {ref} is not UTF-8 (byte {exc.start})") from None


def commit_patch(git: Git, branch: str, base_ref: str, patch: str, message: str, when: datetime) -> str:
    """Reset `branch` to `base_ref`, apply `patch` (checked, no fuzz), commit; returns the sha."""
    git.run("checkout", "--quiet", "-B", branch, base_ref, "--")
    git.run("apply", "--index", "--whitespace=nowarn", "-", stdin=patch)
    stamp = when.isoformat(timespec="seconds")
    git.run("commit", "--quiet", "--no-verify", "-F", "-", stdin=message,
            env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
    return git.out("rev-parse", "HEAD")


def push(git: Git, branch: str, expected: str | None) -> None:
    """Force-push HEAD to `branch`, but only over the tip we fetched (or onto no branch)."""
    lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
    proc = git.run("push", "--porcelain", lease, "origin", f"HEAD:refs/heads/{branch}", check=False)
    if proc.returncode != 0:
        detail = redact(" ".join((proc.stderr + " " + proc.stdout).split()))[-600:]
        raise ForgeError(f"git push to branch {branch} was rejected: {detail}", "nothing was recorded as proposed")


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    state: str
    merged: bool
    title: str
    body: str
    head: str

    @classmethod
    def from_json(cls, data: Any) -> "PullRequest":
        if not isinstance(data, dict) or not isinstance(data.get("number"), int):
            raise ForgeError("GitHub answered with something that is not a pull request")
        return cls(
            number=data["number"],
            url=data.get("html_url") or data.get("url") or "",
            state=data.get("state") or "",
            merged=bool(data.get("merged") or data.get("merged_at")),
            title=data.get("title") or "",
            body=data.get("body") or "",
            head=(data.get("head") or {}).get("ref") or "",
        )


class GitHub:
    """The four pull-request endpoints tracker uses; `api_url` points at GitHub, GHE or a stand-in."""

    def __init__(self, api_url: str, repo: str, token: str, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None, retries: int = 2, deadline_seconds: float = 60.0,
                 sleep: Callable[[float], None] | None = None) -> None:
        register_secret(token)
        self.repo, self.deadline_seconds = repo, deadline_seconds
        self.policy = RetryPolicy(retries=retries, sleep=sleep, on_retry=lambda exc, n, wait: log(
            logger, logging.WARNING, "forge.retry", problem=exc.problem, attempt=n, wait=round(wait, 2)))
        self.owner = repo.split("/", 1)[0]
        self._client = httpx.Client(
            base_url=api_url.rstrip("/"),
            timeout=timeout,
            transport=transport or bounded_transport(),
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "tracker",
            },
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "GitHub":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST call under the retry policy: a 429 (honouring Retry-After up to the
        cap) and a refused connection are retried; a GET also after a 502/503/504 or a
        timeout (a POST might have gone through). Each try has a total deadline."""
        what = f"{method} {path}"

        def attempt() -> httpx.Response:
            try:
                with deadline(self.deadline_seconds):
                    resp = self._client.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise Transient(f"connection failed: {scrub(str(exc))}") from None
            except httpx.TimeoutException as exc:
                if method == "GET":
                    raise Transient(f"timed out: {scrub(str(exc))}") from None
                raise ForgeError(f"GitHub API {what} timed out: {scrub(str(exc))}",
                                 "the request may have reached GitHub; check the pull request, then run propose again") from None
            except httpx.HTTPError as exc:
                raise ForgeError(f"GitHub API {what} failed: {type(exc).__name__}: {scrub(str(exc))}",
                                 "check github.api_url and the network") from None
            if resp.status_code == 429 or (method == "GET" and resp.status_code in (502, 503, 504)):
                raise Transient(f"HTTP {resp.status_code}", retry_after_seconds(resp.headers.get("retry-after")))
            return resp

        try:
            resp = self.policy.call(attempt)
        except Transient as exc:
            hint = over_cap_hint(exc, self.policy.max_wait) if exc.over_cap else "check github.api_url and the network"
            raise ForgeError(f"GitHub API {what} failed after {exc.attempts} tries: {exc.problem}", hint) from None
        if resp.status_code >= 400:
            raise ApiError(f"GitHub API {what} answered {resp.status_code}: {_api_message(resp)}", _hint(resp.status_code),
                           resp.status_code)
        try:
            return resp.json()
        except ValueError:
            raise ForgeError(f"GitHub API {what} answered {resp.status_code} with a body that is not JSON") from None

    def repository(self) -> dict[str, Any]:
        """The repository as the token sees it; `permissions.push` says whether it may push."""
        data = self._call("GET", f"/repos/{self.repo}")
        return data if isinstance(data, dict) else {}

    def find_open(self, branch: str) -> PullRequest | None:
        data = self._call("GET", f"/repos/{self.repo}/pulls", params={"state": "open", "head": f"{self.owner}:{branch}"})
        if not isinstance(data, list):
            raise ForgeError("GitHub answered the list of pull requests with something that is not a list")
        pulls = [PullRequest.from_json(d) for d in data]
        return pulls[0] if pulls else None

    def get(self, number: int) -> PullRequest:
        return PullRequest.from_json(self._call("GET", f"/repos/{self.repo}/pulls/{int(number)}"))

    def create(self, title: str, branch: str, base: str, body: str) -> PullRequest:
        payload = {"title": title, "head": branch, "base": base, "body": body, "draft": True}
        return PullRequest.from_json(self._call("POST", f"/repos/{self.repo}/pulls", json=payload))

    def update(self, number: int, title: str, body: str) -> PullRequest:
        return self._patch(number, {"title": title, "body": body})

    def close_pull(self, number: int) -> PullRequest:
        return self._patch(number, {"state": "closed"})

    def _patch(self, number: int, payload: dict[str, str]) -> PullRequest:
        return PullRequest.from_json(self._call("PATCH", f"/repos/{self.repo}/pulls/{int(number)}", json=payload))


def _api_message(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return scrub(resp.text.strip()[:200]) or resp.reason_phrase
    if not isinstance(data, dict):
        return resp.reason_phrase
    parts = [str(data.get("message") or resp.reason_phrase)]
    for err in data.get("errors") or []:
        if isinstance(err, dict) and err.get("message"):
            parts.append(str(err["message"]))
    return scrub("; ".join(parts))[:500]


def _hint(status: int) -> str | None:
    if status == 401:
        return "the token was refused: check the variable named by github.token_env"
    if status in (403, 404):
        return "check github.repo and that the token may write pull requests there"
    if status == 422:
        return "GitHub refused the request: check github.base and whether a pull request for the branch already exists"
    if status >= 500:
        return "GitHub had a server error; nothing was recorded, try again later"
    return None


def init_bare_remote(bare: Path, files: Mapping[str, str], branch: str = "main", identity: Identity = Identity()) -> str:
    """A bare repository whose `branch` holds `files` in one commit: the remote of `tracker demo`."""
    import tempfile

    check_ref_name(branch, "branch")
    bare.parent.mkdir(parents=True, exist_ok=True)
    Git(bare.parent, identity).run("init", "--quiet", "--bare", "-b", branch, "--", str(bare))
    with tempfile.TemporaryDirectory(prefix="tracker-seed-") as tmp:
        work = Path(tmp) / "work"
        Git(Path(tmp), identity).run("init", "--quiet", "-b", branch, "--", str(work))
        g = Git(work, identity)
        for rel, text in files.items():
            target = work / rel
            if not target.resolve().is_relative_to(work.resolve()):
                raise ForgeError(f"{rel!r} is outside the repository")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))
            g.run("add", "--", rel)
        g.run("commit", "--quiet", "--no-verify", "-m", "Seed the survey")
        g.run("push", "--quiet", "--", str(bare), f"HEAD:refs/heads/{branch}")
        return g.out("rev-parse", "HEAD")
