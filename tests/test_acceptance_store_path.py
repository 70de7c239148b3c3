"""Acceptance finding: a store.path whose folder cannot be created (under a regular file,
or without permission) was an OSError traceback from every command that opens the store
or takes a lock in the data folder. It is a one-line error naming the path and the key."""

from __future__ import annotations

import pytest

from delivery_fixtures import DELIVERY
from tracker.config import load_config


@pytest.mark.parametrize(
    "args",
    [
        ("digest", "--channel", "stdout"),
        ("decide", "2510.24626", "accept"),
        ("propose",),
        ("run", "--once"),
    ],
)
def test_store_under_a_regular_file_is_a_clean_error(tmp_path, run_cli, args, write_config):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be\n", encoding="utf-8")
    config = load_config(write_config(DELIVERY))  # store.path = data/tracker.db
    (tmp_path / "survey.md").write_text("# A list\n\n## Section\n\n1. **A paper.** `arXiv`\n", encoding="utf-8")
    code, out, err = run_cli("--config", str(config.file), *args)
    assert code == 1 and "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and str(blocker) in last and "store.path" in last, last
    assert blocker.read_text(encoding="utf-8").startswith("a file")  # left as it was
