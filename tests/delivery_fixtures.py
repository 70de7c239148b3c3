"""Helpers for the digest/delivery tests: the config layer their [telegram]/[email] tables
(pointed at the local stand-ins) merge into, and a store filled with real arXiv listings classified by keyword."""

from __future__ import annotations

from typing import Any, Iterable

from tracker.run.demo import sample_papers  # noqa: F401  (re-exported for the delivery tests)
from tracker.models import Match, Paper, SectionScore
from tracker.store.classifications import save_classifications
from tracker.store.papers import upsert_papers

TOKEN = "987654:SECRET-token-value-xyz"

SECTIONS = [
    ("scaling", "大数据+大模型→新智能", ["scaling law", "compute-optimal"]),
    ("architecture", "大语言模型架构概览", ["attention", "transformer architecture"]),
    ("encoder_only", "基于 Encoder-only 架构的大语言模型", ["BERT", "RoBERTa", "encoder-only"]),
    ("decoder_only", "基于 Decoder-only 架构的大语言模型", ["GPT", "LLaMA", "decoder-only"]),
    ("non_transformer", "非 Transformer 架构", ["state space model", "Mamba", "RWKV"]),
]


# The config layer of the delivery tests: `load_config(write_config(DELIVERY, telegram={...}))` (conftest).
DELIVERY = {
    "output": {"path": "out"},
    "sections": [{"id": sid, "heading": heading, "any": terms} for sid, heading, terms in SECTIONS],
}


def keyword_scores(paper: Paper) -> list[SectionScore]:
    """A stand-in classifier: one point per section term found in the title or abstract."""
    scores = []
    for sid, heading, terms in SECTIONS:
        hits = [t for t in terms if t.lower() in f"{paper.title} {paper.abstract}".lower()]
        if hits:
            field = "title" if any(t.lower() in paper.title.lower() for t in hits) else "abstract"
            scores.append(SectionScore(sid, heading, float(len(hits)) + (2.0 if field == "title" else 0.0), tuple(Match(t, field) for t in hits)))
    return sorted(scores, key=lambda s: -s.score)


def fill_store(db: Any, papers: Iterable[Paper], seen: str) -> list[str]:
    """Store and classify; returns the ids that landed in at least one section."""
    papers = list(papers)
    upsert_papers(db, papers, "api", seen=seen)
    results = [(p.id, keyword_scores(p)) for p in papers]
    save_classifications(db, results, "test-rules", at=seen)
    return [pid for pid, scores in results if scores]
