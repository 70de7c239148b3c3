"""The `tracker` command group: help everywhere, exit codes, `python -m tracker`."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from conftest import ROOT
from tracker.cli import COMMAND_MODULES, cli

COMMANDS = cli.list_commands(None)


def test_the_contract_commands_are_registered():
    assert {"survey", "patch", "init"} <= set(COMMANDS)


def test_each_command_is_found_in_its_own_module():
    """The lazy group's table names every command's module (else that command imports them all)."""
    assert COMMAND_MODULES == {name: cli.commands[name].callback.__module__.rsplit(".", 1)[1] for name in COMMANDS}


def test_classify_does_not_import_the_poll_pipeline(tmp_path):
    papers = tmp_path / "papers.jsonl"
    papers.write_text('{"id": "2401.00001", "title": "A language model", "abstract": "x"}\n', encoding="utf-8")
    code = ("import sys; from tracker.cli import main\n"
            "try:\n    main(['classify', '--input', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('tracker.run', 'tracker.commands.poll', 'httpx'))))")
    out = subprocess.run([sys.executable, "-c", code, str(papers)],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_and_option_has_help(name):
    command = cli.commands[name]
    assert (command.help or "").strip(), f"command {name} has no help text"
    for param in command.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"option {param.opts} of {name} has no help text"


def test_group_options_have_help():
    for param in cli.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"option {param.opts} has no help text"


@pytest.mark.parametrize("name", COMMANDS)
def test_command_help_exits_zero(run_cli, name):
    code, out, err = run_cli(name, "--help")
    assert code == 0 and "Usage:" in out


def test_top_level_help_lists_commands(run_cli):
    code, out, _ = run_cli("--help")
    assert code == 0
    for name in ("survey", "patch", "init"):
        assert name in out


def test_unknown_command_is_a_usage_error(run_cli):
    code, out, err = run_cli("no-such-command")
    assert code == 2 and out == "" and "No such command" in err


def test_missing_argument_is_a_usage_error(run_cli):
    code, out, err = run_cli("patch", "x.md")
    assert code == 2 and "--input" in err


def test_tracker_error_is_one_line_and_exit_1(run_cli, tmp_path):
    code, out, err = run_cli("survey", str(tmp_path / "missing.md"))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "missing.md" in err


def test_python_dash_m_tracker():
    done = subprocess.run([sys.executable, "-m", "tracker", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "survey" in done.stdout
    done = subprocess.run([sys.executable, "-m", "tracker", "survey", "missing-file.md"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == "" and done.stderr.strip().startswith("error: ")


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_takes_config_after_its_name(name):
    """`tracker check --config FILE` was a usage error (exit 2): the option was the group's only."""
    command = cli.commands[name]
    assert any("--config" in getattr(p, "opts", ()) for p in command.params), name


def test_config_after_the_command_is_the_config_used(run_cli, tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)
    missing = tmp_path / "elsewhere.toml"
    for args in (("--config", str(missing), "status"), ("status", "--config", str(missing))):
        code, out, err = run_cli(*args)
        assert code == 1 and err.startswith(f"error: {missing}: config file not found"), (args, err)
