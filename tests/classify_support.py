"""Shared by the classifier tests: a classifier from rule text, a paper, its sections."""

from __future__ import annotations

import tomllib

from tracker.classify.matcher import Classifier
from tracker.config import load_config
from tracker.models import Paper

def classifier(write_config, rules: str) -> Classifier:
    """A classifier from rule text (TOML tables: [scope], [[sections]]) written with the conftest fixture."""
    return Classifier.from_config(load_config(write_config(**tomllib.loads(rules))))


def paper(title: str, abstract: str = "", **kw) -> Paper:
    return Paper(id="2501.00001", title=title, abstract=abstract, **kw)


def sections(c: Classifier, p: Paper) -> list[str]:
    return [s.section for s in c.classify(p)]
