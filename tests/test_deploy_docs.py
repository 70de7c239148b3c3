"""The deployment walkthrough stays true: its example config loads with every table,
the bundled config shows the delivery tables (commented) and they load when
uncommented, and the README links the walkthrough and the shipped design notes."""

from __future__ import annotations

import re
import shutil

from conftest import ROOT
from tracker.config import load_config


def test_walkthrough_config_loads_with_every_table(tmp_path):
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", text, re.S).group(1)
    (tmp_path / "README.md").write_text("# List\n\n## Efficiency\n\n1. **A paper.** x\n", encoding="utf-8")
    (tmp_path / "tracker.toml").write_text(block, encoding="utf-8")
    config = load_config(tmp_path / "tracker.toml")
    assert config.telegram and config.telegram.run_bot and config.email and config.github
    assert config.email.password_env == "SMTP_PASSWORD" and config.github.token_env == "GITHUB_TOKEN"
    tables = set(re.findall(r"^\[+([a-z_]+)\]+", block, re.M))
    assert {"survey", "store", "output", "arxiv", "scope", "sections", "telegram", "email", "github", "citations",
            "digest", "propose", "schedule", "log"} <= tables


def test_bundled_config_shows_the_delivery_tables(tmp_path):
    text = (ROOT / "config" / "tracker.toml").read_text(encoding="utf-8")
    for table in ("telegram", "email", "github"):
        assert f"\n# [{table}]\n" in text
    head, sep, delivery = text.partition("# ---- Delivery")
    uncommented = head + sep + re.sub(r"^# (\[(telegram|email|github)\]|[a-z_]+ = .*)$", r"\1", delivery, flags=re.M)
    (tmp_path / "tracker.toml").write_text(uncommented, encoding="utf-8")
    for name in ("llm-survey.md", "relevance.tsv"):
        shutil.copy(ROOT / "config" / name, tmp_path / name)
    config = load_config(tmp_path / "tracker.toml")
    assert config.telegram and config.email and config.github


def test_readme_links_what_users_have():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "shared/DESIGN" not in readme and "(docs/deploy.md)" in readme and "(docs/design.md)" in readme
    for link in re.findall(r"\]\(((?:docs|deploy)/[^)#]+)\)", readme):
        assert (ROOT / link).exists(), link
