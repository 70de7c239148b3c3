"""Known works from the seed survey, alias rules, and mention links on real listed papers."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPEATED_HEADINGS, SEED, repeated_layer
from links_support import SEED_ALIASES, seed_layer
from tracker.config import load_config
from tracker.run.demo import sample_papers
from tracker.errors import ConfigError
from tracker.links.match import CONFIG, NAME, Matcher, Work, derive_aliases, describe, find_mentions, known_works
from tracker.links.works import mentions_hook
from tracker.models import Entry, Paper, Section, WorkLink
from tracker.deliver.rank import priority
from tracker.store import open_store
from tracker.store.links import links_for
from tracker.store.papers import upsert_papers
from tracker.survey.parse import load_survey, parse_survey

@pytest.fixture
def seed_works(write_config) -> list[Work]:
    return known_works(load_survey(SEED), load_config(write_config(seed_layer(SEED_ALIASES))))


@pytest.fixture(scope="module")
def sample() -> dict[str, Paper]:
    return {p.id: p for p in sample_papers()}


def by_id(works: list[Work]) -> dict[str, Work]:
    return {w.id: w for w in works}


def linked(paper: Paper, works: list[Work]) -> set[str]:
    return {l.work_id for l in find_mentions(paper, works)}


def names(title: str) -> list[str]:
    return [a for a, _ in derive_aliases(title)]


def test_title_names_come_from_the_colon_not_from_the_works_a_title_mentions() -> None:
    assert names("BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding")[0] == "BERT"
    assert "BERT" not in names("RoBERTa: A Robustly Optimized BERT Pretraining Approach")
    assert "GPT-4" not in names("Goat: Fine-tuned LLaMA Outperforms GPT-4 on Arithmetic Tasks")
    assert "GPT-3" not in names("A Brief Report on LawGPT 1.0: A Virtual Legal Assistant Based on GPT-3")
    assert "LawGPT" in names("A Brief Report on LawGPT 1.0: A Virtual Legal Assistant Based on GPT-3")
    assert names("Gpt-4 technical report") == ["GPT-4"]
    assert names("PaLM 2 Technical Report.")[0] == "PaLM 2"
    assert "Llama 3" in names("Introducing Meta Llama 3: The most capable openly available LLM to date")
    assert names("Bart: Denoising sequence-to-sequence pre-training for natural language generation")[0] == "BART"
    assert names("Visual instruction tuning") == []
    assert names("Attention is all you need") == ["Attention is all you need"]
    assert names("Transformers: State-of-the-Art Natural Language Processing") == [
        "Transformers: State-of-the-Art Natural Language Processing"
    ]


def test_known_works_of_the_seed(seed_works: list[Work]) -> None:
    works = by_id(seed_works)
    assert len(seed_works) == 39  # 41 entries; the three "Gpt-4 technical report" entries are one work
    assert works["2312.00752"].name == "Mamba" and works["2312.00752"].section == "non_transformer"
    assert works["2312.00752"].year == 2023 and works["2312.00752"].resolved_by == "survey-link"
    bert = works["title:bert-pre-training-of-deep-bidirectional-transformers-for-language-understanding"]
    assert bert.arxiv_id is None and bert.resolved_by == "pending" and bert.section == "encoder_only"
    assert works["2203.15556"].name == "Chinchilla" and works["2203.15556"].strengths[0] == CONFIG
    llava = works["2304.08485"]
    assert llava.title == "Visual instruction tuning" and llava.resolved_by == "config" and llava.name == "LLaVA"
    assert "Goat" not in works["2305.14201"].aliases
    assert works["title:gpt-4-technical-report"].aliases[0] == "GPT-4"


def test_config_alias_errors_name_the_key_and_its_line(tmp_path: Path, write_config) -> None:
    survey = load_survey(SEED)
    config = write_config(seed_layer({"decoder_only": {"9999.99999": ["X"]}}))
    with pytest.raises(ConfigError, match=r"sections\.decoder_only\.aliases\.9999\.99999'.*no listed work") as caught:
        known_works(survey, load_config(config))
    line = next(n for n, text in enumerate(config.read_text(encoding="utf-8").splitlines(), 1) if "9999.99999" in text)
    assert caught.value.message.startswith(f"{config}:{line}: key "), caught.value.message
    with pytest.raises(ConfigError, match=r"sections\.architecture\.aliases\.1706\.03762'.*'Transformer' is a generic"):
        known_works(survey, load_config(write_config(seed_layer({"architecture": {"1706.03762": ["Transformer"]}}))))


def p(title: str, abstract: str = "", pid: str = "2501.00001") -> Paper:
    return Paper(id=pid, title=title, abstract=abstract)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("We fine-tune LLaMA-7B on math.", {"2302.13971"}),
        ("We fine-tune Llama-2-7b-chat.", {"2307.09288"}),
        ("We compare LLaMA 2 and Llama3-8B.", {"2307.09288", "title:introducing-meta-llama-3-the-most-capable-openly-available-llm-to-date"}),
        ("We use Llama 3.1 and Llama-3.2-1B.", set()),
        ("Code Llama writes code.", {"2308.12950"}),
        ("GPT-4 and GPT4 judge.", {"title:gpt-4-technical-report"}),
        ("GPT-4o, GPT-4.1, GPT-4V and GPT-4o-mini models.", set()),
        ("MiniGPT-4 sees.", {"2304.10592"}),
        ("GPT models and GPT-3.5 are popular.", set()),
        ("A Transformer with attention for large language models.", set()),
        ("Scaling laws (arXiv:2001.08361) and abs/2312.00752v2 are cited.", {"2001.08361", "2312.00752"}),
        ("Version 12001.083612 is not an id.", set()),
        ("Albert Gu and goat farmers use t5 files.", set()),
        ("ALBERT, BERT and RoBERTa baselines.", {"1909.11942", "1907.11692", "title:bert-pre-training-of-deep-bidirectional-transformers-for-language-understanding"}),
        ("XLM-RoBERTa and ModernBERT encoders.", set()),
        ("Mamba-2 and Mamba2 are newer.", set()),
        ("A Mamba block.", {"2312.00752"}),
        ("Semi-supervised segmentation (S4) improves; S4 methods scale.", set()),
        ("State space models such as S4 and Mamba.", {"2111.00396", "2312.00752"}),
        ("Flan-T5 is tuned; T5-XXL encodes.", {"title:scaling-instruction-finetuned-language-models", "1910.10683"}),
        ("We revisit Attention Is All You Need.", {"1706.03762"}),
    ],
)
def test_mention_rules(seed_works: list[Work], text: str, expected: set[str]) -> None:
    assert linked(p("A study", text), seed_works) == expected


def test_where_records_field_and_matched_text(seed_works: list[Work]) -> None:
    links = find_mentions(p("Mamba for vision", "Built on LLaMA-2-7B."), seed_works)
    assert {(l.work_id, l.kind, l.where) for l in links} == {
        ("2312.00752", "mentions", "title: Mamba"),
        ("2307.09288", "extends", "abstract: LLaMA-2"),  # "Built on" says the paper builds on it
    }


def test_a_listed_work_does_not_link_to_itself(seed_works: list[Work]) -> None:
    assert linked(p("Mamba: Linear-Time Sequence Modeling", pid="2312.00752"), seed_works) == set()


def test_shared_alias_links_to_none_unless_one_claim_is_stronger() -> None:
    a = Work("2401.00001", "Foo: one", "2401.00001", 2024, "s", ("Foo",), strengths=(NAME,))
    b = Work("2401.00002", "Foo: two", "2401.00002", 2024, "s", ("Foo",), strengths=(NAME,))
    matcher = Matcher([a, b])
    assert find_mentions(p("Foo works"), matcher) == [] and "foo" in matcher.ambiguous
    b_config = Work("2401.00002", "Foo: two", "2401.00002", 2024, "s", ("Foo",), strengths=(CONFIG,))
    assert linked(p("Foo works"), [a, b_config]) == {"2401.00002"}


def test_works_built_from_plain_entries() -> None:
    entry = Entry(1, "Hyena Hierarchy: Towards Larger Convolutional Language Models", (), None, 2023, (), "2302.10866", 3, 4)

    class Survey:
        sections = (Section("ssm", "SSM", 2, 1, (entry,)),)

    class Cfg:
        sections = ()
        file = Path("x.toml")

    works = known_works(Survey(), Cfg())
    assert works[0].section == "ssm" and "Hyena Hierarchy" in works[0].aliases
    assert linked(p("Faster Hyena Hierarchy operators"), works) == {"2302.10866"}


REAL = {
    "2510.24963": {"2312.00752", "2305.13048"},  # "Transformer, Mamba, RWKV" architectures
    "2510.25310": {"2307.09288"},  # LLaMA2, not LLaMA
    "2510.25460": {"2302.13971", "title:introducing-meta-llama-3-the-most-capable-openly-available-llm-to-date"},
    "2510.26001": {"2312.00752"},  # "Mamba-Based" in the title
    "2510.24214": {"2304.08485"},  # LLaVA, resolved by the config alias
    "2510.26481": {"title:introducing-chatgpt"},  # ChatGPT in the title, GPT-4o in the abstract
}
LOOK_ALIKES = ["2510.25933", "2510.24817", "2510.26143", "2510.26603", "2510.23691", "2510.24152"]


def test_real_papers_link_to_the_expected_works(seed_works: list[Work], sample: dict[str, Paper]) -> None:
    for pid, expected in REAL.items():
        assert pid in sample, pid  # a missing paper would skip its check unnoticed
        assert linked(sample[pid], seed_works) == expected, pid


def test_real_look_alikes_do_not_link(seed_works: list[Work], sample: dict[str, Paper]) -> None:
    """GPT-4o-Level, Llama 3.1/3.3, GPT-5, Qwen2.5-VL: none is a listed work."""
    for pid in LOOK_ALIKES:
        assert linked(sample[pid], seed_works) == set(), (pid, sample[pid].title)


def test_sample_link_volume_is_sane(seed_works: list[Work], sample: dict[str, Paper]) -> None:
    linked_papers = [pid for pid, paper in sample.items() if find_mentions(paper, seed_works)]
    assert 20 <= len(linked_papers) <= 60  # 33 of the 554 papers of three real days


def test_mentions_hook_stores_links(seed_works: list[Work], sample: dict[str, Paper]) -> None:
    db = open_store(":memory:")
    papers = [sample["2510.24963"], sample["2510.25310"], sample["2510.25933"]]
    upsert_papers(db, papers, "api")
    db["works"].insert_all([{"id": w.id, "title": w.title} for w in seed_works])
    mentions_hook(seed_works)(db, papers)
    links = links_for(db, [x.id for x in papers])
    assert {l.work_id for l in links["2510.24963"]} == {"2312.00752", "2305.13048"}
    assert [l.work_title for l in links["2510.25310"]] == ["Llama 2: Open Foundation and Fine-Tuned Chat Models"]
    assert "2510.25933" not in links


def test_describe(seed_works: list[Work]) -> None:
    mamba = WorkLink("2501.1", "2312.00752", "mentions", "title: Mamba", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces")
    llama = WorkLink("2501.1", "2302.13971", "cites", "semantic_scholar", "LLaMA: Open and Efficient Foundation Language Models")
    assert describe(mamba) == "mentions: Mamba (2312.00752)"
    assert describe(WorkLink("2501.1", "2312.00752", "extends", "abstract: Mamba", mamba.work_title)) == "extends: Mamba (2312.00752)"
    assert describe(llama) == "cites: LLaMA (2302.13971)"
    assert describe(llama, seed_works) == "cites: LLaMA (2302.13971)"
    chatgpt = WorkLink("2501.1", "title:introducing-chatgpt", "mentions", "title: ChatGPT", "Introducing chatgpt.")
    assert describe(chatgpt, seed_works) == "mentions: ChatGPT"
    assert describe(chatgpt) == "mentions: chatgpt"


def test_priority_prefers_cited_and_several_works() -> None:
    def link(work: str, kind: str) -> WorkLink:
        return WorkLink("x", work, kind)

    base = priority(1.0)
    one_named = priority(1.0, [link("a", "mentions")])
    one_cited = priority(1.0, [link("a", "cites")])
    two_named = priority(1.0, [link("a", "mentions"), link("b", "mentions")])
    assert base < one_named < one_cited and one_named < two_named
    assert priority(1.0, [link("a", "cites"), link("a", "mentions")]) == one_cited


def test_shipped_config_aliases_name_listed_works() -> None:
    from conftest import DEFAULT_CONFIG
    from tracker.config import load_config

    config = load_config(DEFAULT_CONFIG)
    works = by_id(known_works(load_survey(config.survey.path), config))
    assert works["2203.15556"].name == "Chinchilla" and works["1910.10683"].name == "T5"
    assert "Goat" not in works["2305.14201"].aliases
    assert Matcher(list(works.values())).ambiguous == {}


def test_works_under_a_repeated_heading_belong_to_the_config_section_with_their_survey_id(write_config) -> None:
    """By heading alone both `### Papers` sections went to the config's last `Papers` section."""
    config = load_config(write_config(repeated_layer("papers", "papers-2")))
    works = known_works(parse_survey(REPEATED_HEADINGS, "rep.md"), config)
    assert [(w.arxiv_id, w.section) for w in works] == [
        ("2401.09417", "papers"), ("2401.10166", "papers"), ("2403.18257", "papers-2"), ("2405.06573", "papers-2")]
