"""atomic_write: whole files only, and the permissions a user expects."""

from __future__ import annotations

import os
import stat

import pytest

from tracker.fsutil import atomic_write


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_mode_not_0600(tmp_path, umask_022):
    target = atomic_write(tmp_path / "sub" / "out.jsonl", "x\n")
    assert target.read_text() == "x\n" and mode(target) == 0o644


def test_a_replaced_file_keeps_its_mode_and_no_temp_is_left(tmp_path, umask_022):
    target = tmp_path / "secret.toml"
    target.write_text("old")
    target.chmod(0o600)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new" and mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.toml"]


def test_a_failed_rename_leaves_what_was_there_and_no_temp(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep").write_text("old")
    with pytest.raises(OSError):
        atomic_write(target, "new")
    assert (target / "keep").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out"]
