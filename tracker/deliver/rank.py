"""Digest priority: how much a paper matters to this survey."""

from __future__ import annotations

import math
from typing import Sequence

from tracker.links.match import NAMED
from tracker.models import WorkLink

CITE_BONUS = 2.0
MENTION_BONUS = 1.0
RELEVANCE_WEIGHT = 10.0


def priority(section_score: float, links: Sequence[WorkLink] = (), relevance: float | None = None) -> float:
    """log(1 + the section score), plus ten times the learned score when there is one (on
    held-out judged days it put more kept papers in the top 20 than the rule score alone,
    see docs/classification.md), plus a bonus per distinct listed work the paper cites or
    names; a work both cited and named counts once, as cited.

    The log: a catch-all section with many generic terms (`decoder_only`) scores 11 for an
    application paper that names LLM words eleven ways, which outranked a 0.97-relevant
    paper of a small section scoring 2, and the daily cap sent the small sections, the
    list's own topics, to the weekly email. More matched words is weak evidence of more
    importance; the order within a section and without a gate stays the rule score's."""
    cited = {l.work_id for l in links if l.kind == "cites"}
    named = {l.work_id for l in links if l.kind in NAMED} - cited
    learned = RELEVANCE_WEIGHT * relevance if relevance is not None else 0.0
    return math.log1p(max(section_score, 0.0)) + learned + CITE_BONUS * len(cited) + MENTION_BONUS * len(named)
