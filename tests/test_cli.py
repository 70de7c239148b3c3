"""The `tracker` command group: help everywhere, exit codes, `python -m tracker`."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from conftest import ROOT
from tracker.cli import cli

COMMANDS = sorted(cli.commands)


def test_the_contract_commands_are_registered():
    assert {"survey", "patch", "init"} <= set(COMMANDS)


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
