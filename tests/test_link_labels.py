"""Issue 13 point 8: "extends:" only for a paper that builds on a listed work (words such as
"based on", "we extend", "built upon", configurable, or a citation), "mentions:" otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.config import load_config
from tracker.deliver.digest import link_labels
from tracker.links.match import Matcher, Work
from tracker.models import Paper, WorkLink

WORKS = [
    Work("2312.00752", "Mamba: Linear-Time Sequence Modeling", "2312.00752", 2023, "s", ("Mamba",)),
    Work("2302.13971", "LLaMA: Open and Efficient Foundation Language Models", "2302.13971", 2023, "s", ("LLaMA",)),
    Work("title:redpajama", "RedPajama", None, 2023, "s", ("RedPajama",)),
]


def kinds(abstract: str, matcher: Matcher | None = None) -> dict[str, str]:
    paper = Paper("2501.00001", "A study", abstract, ("A",))
    return {l.work_id: l.kind for l in (matcher or Matcher(WORKS)).find(paper)}


@pytest.mark.parametrize(
    "abstract,expected",
    [
        ("We train on RedPajama and compare with LLaMA.", {"title:redpajama": "mentions", "2302.13971": "mentions"}),
        ("Our model is based on LLaMA. Data comes from RedPajama.", {"2302.13971": "extends", "title:redpajama": "mentions"}),
        ("We extend Mamba to images.", {"2312.00752": "extends"}),
        ("A LLaMA-based agent.", {"2302.13971": "extends"}),
        ("This work is built upon the Mamba architecture.", {"2312.00752": "extends"}),
        ("Unlike Mamba, our design is based on attention.", {"2312.00752": "mentions"}),
        ("Based on extensive experiments. Mamba is slow.", {"2312.00752": "mentions"}),  # another sentence
    ],
)
def test_extends_only_when_the_words_say_so(abstract, expected):
    assert kinds(abstract) == expected


def test_labels_in_the_digest_are_honest():
    links = [WorkLink("2501.1", "title:redpajama", "mentions", "abstract: RedPajama", "RedPajama"),
             WorkLink("2501.1", "2312.00752", "extends", "abstract: Mamba", WORKS[0].title),
             WorkLink("2501.1", "2302.13971", "cites", "semantic_scholar", WORKS[1].title),
             WorkLink("2501.1", "2302.13971", "mentions", "abstract: LLaMA", WORKS[1].title)]
    assert link_labels(links) == ("extends: Mamba (2312.00752)", "mentions: RedPajama", "cites: LLaMA (2302.13971)")


def test_extends_phrases_come_from_the_config(tmp_path: Path, write_config):
    tables = {"survey": {"path": "s.md"}, "sections": [{"id": "a", "heading": "A", "any": ["x"]}]}
    config = load_config(write_config(tables, links={"extends_phrases": ["Fine-tune", "-style"]}))
    assert config.links.extends_phrases == ("fine-tune", "-style")
    matcher = Matcher(WORKS, config.links.extends_phrases)
    assert kinds("We fine-tune LLaMA on code.", matcher) == {"2302.13971": "extends"}
    assert kinds("A Mamba-style block.", matcher) == {"2312.00752": "extends"}
    assert kinds("Our model is based on LLaMA.", matcher) == {"2302.13971": "mentions"}
    bad = write_config(tables, links={"extends_phrases": "based on"})
    with pytest.raises(Exception, match="links.extends_phrases"):
        load_config(bad)


@pytest.mark.parametrize("fails", [False, True])
def test_a_title_listed_twice_in_different_case_is_looked_up_once(fails):
    """Issue 13: the survey lists "GPT-4 Technical Report" and "Gpt-4 technical report.";
    one title look-up per poll for both, and none at the next poll (found, or failed and backing off)."""
    from datetime import datetime, timedelta, timezone

    from tracker.errors import SourceError
    from tracker.links.match import title_key
    from tracker.links.works import resolve_works
    from tracker.store import open_store

    db = open_store(":memory:")
    works = [Work(title_key(t), t, None, 2023, "s", ("GPT-4",)) for t in ("GPT-4 Technical Report", "Gpt-4 technical report.")]
    calls: list[str] = []

    def search(title: str) -> list[Paper]:
        calls.append(title)
        if fails:
            raise SourceError("arXiv is down")
        return [Paper("2303.08774", "GPT-4 Technical Report")]

    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    first = resolve_works(db, works, now, search)
    assert calls == ["GPT-4 Technical Report"]
    assert [w.arxiv_id for w in first] == ([None] if fails else ["2303.08774"])
    resolve_works(db, works, now + timedelta(minutes=30), search)
    assert calls == ["GPT-4 Technical Report"]
