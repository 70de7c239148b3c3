"""Shared by the classifier tests: a config from rule text, a classifier, a paper, its sections."""

from __future__ import annotations

from pathlib import Path

from tracker.classify.matcher import Classifier
from tracker.config import load_config
from tracker.models import Paper

HEAD = """
[survey]
path = "survey.md"
[store]
path = "data/tracker.db"
"""


def config_file(tmp_path: Path, rules: str) -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text(HEAD + rules, encoding="utf-8")
    return path


def classifier(tmp_path: Path, rules: str) -> Classifier:
    return Classifier.from_config(load_config(config_file(tmp_path, rules)))


def paper(title: str, abstract: str = "", **kw) -> Paper:
    return Paper(id="2501.00001", title=title, abstract=abstract, **kw)


def sections(c: Classifier, p: Paper) -> list[str]:
    return [s.section for s in c.classify(p)]
