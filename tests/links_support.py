"""Shared by the links tests: the seed's section ids and config aliases, and the config layer for them."""

from __future__ import annotations

from typing import Any

from conftest import SEED

SEED_ALIASES = {
    "scaling": {"2203.15556": ["Chinchilla"]},
    "encoder_decoder": {"1910.10683": ["T5"], "Scaling Instruction-Finetuned Language Models": ["Flan-T5"]},
    "decoder_only": {
        "Language models are few-shot learners": ["GPT-3"],
        "Introducing chatgpt": ["ChatGPT"],
        "Visual instruction tuning": ["LLaVA", "arXiv:2304.08485"],
        "2305.14201": ["!Goat"],
    },
    "non_transformer": {"2111.00396": ["S4"]},
}
SECTIONS = [
    ("scaling", "大数据+大模型→新智能"),
    ("architecture", "大语言模型架构概览"),
    ("encoder_only", "基于 Encoder-only 架构的大语言模型"),
    ("encoder_decoder", "基于 Encoder-Decoder 架构的大语言模型"),
    ("decoder_only", "基于 Decoder-only 架构的大语言模型"),
    ("non_transformer", "非 Transformer 架构"),
]


def seed_layer(aliases: dict[str, dict[str, list[str]]] | None = None) -> dict[str, Any]:
    """The config layer of the links tests (`write_config(seed_layer(aliases))`, conftest): the seed
    survey and one section per seed heading, with the given aliases."""
    aliases = aliases or {}
    sections = [{"id": sid, "heading": heading, "any": [sid], **({"aliases": aliases[sid]} if sid in aliases else {})}
                for sid, heading in SECTIONS]
    return {"survey": {"path": str(SEED)}, "store": {"path": "t.db"}, "sections": sections}
