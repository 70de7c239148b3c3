"""Digest selection and rendering: grouping, priority, escaping, splitting at 4,096."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delivery_fixtures import DELIVERY, fill_store, sample_papers
from tracker.config import load_config
from tracker.deliver import digest as dg
from tracker.timeutil import iso
from tracker.models import LEARNED, Match, Paper, SectionScore, WorkLink
from tracker.deliver import telegram_html as th
from tracker.store import deliveries as outbox
from tracker.store import open_store
from tracker.store.links import save_links
from tracker.store.papers import upsert_papers
from tracker.store.classifications import save_classifications

NOW = datetime(2025, 10, 31, 12, tzinfo=timezone.utc)
SEEN = "2025-10-31T06:00:00+00:00"
TELEGRAM_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote"}


class TagChecker(HTMLParser):
    """Fails on tags Telegram rejects and on unbalanced nesting."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        assert tag in TELEGRAM_TAGS, tag
        self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_html(text: str) -> str:
    checker = TagChecker()
    checker.feed(text)
    checker.close()
    assert checker.stack == []
    assert not re.search(r"&(?!(lt|gt|amp|quot|#\d+);)", text), "bare & in Telegram HTML"
    return "".join(checker.text)


@pytest.fixture
def store(tmp_path, write_config):
    config = load_config(write_config(DELIVERY))
    db = open_store(config.store.path)
    return config, db


def candidates(config, db, period="day"):
    start, end = dg.window(period, NOW)
    return dg.build_digest(outbox.undelivered(db, "telegram", iso(start), iso(end)), config.sections, period, start, end)


def test_real_listing_grouped_in_config_order_best_first(store):
    config, db = store
    ids = fill_store(db, sample_papers(), SEEN)
    digest = candidates(config, db)
    assert digest.count == len(ids) > 50
    order = [s.id for s in config.sections]
    assert [s.id for s in digest.sections] == sorted((s.id for s in digest.sections), key=order.index)
    for section in digest.sections:
        prios = [e.priority for e in section.entries]
        assert prios == sorted(prios, reverse=True)
    assert [e.number for e in digest.entries] == list(range(1, digest.count + 1))
    entry = digest.entries[0]
    assert entry.url == f"https://arxiv.org/abs/{entry.id}"
    assert entry.terms


def test_only_classified_undelivered_papers_in_window(store):
    config, db = store
    papers = sample_papers(40)
    ids = fill_store(db, papers[:20], SEEN)
    fill_store(db, papers[20:], "2025-10-20T06:00:00+00:00")  # outside the day window
    digest = candidates(config, db)
    assert set(digest.paper_ids) == set(ids)
    outbox.queue_digest(db, "telegram", "day", ("a", "b"), [], ids[:2])
    assert set(candidates(config, db).paper_ids) == set(ids[2:])
    assert set(candidates(config, db, "week").paper_ids) >= set(ids[2:])


def test_links_raise_priority_and_render_as_extends_and_cites(store):
    config, db = store
    a = Paper("2510.00001", "A state space model study", "We study Mamba. It is fast.", ("X",))
    b = Paper("2510.00002", "Another state space model study", "We study RWKV. It is slow.", ("Y",))
    upsert_papers(db, [a, b], "api", seen=SEEN)
    score = SectionScore("non_transformer", "h", 3.0, (Match("state space model", "title"),))
    save_classifications(db, [(a.id, [score]), (b.id, [score])], "fp")
    db["works"].insert_all([{"id": "2312.00752", "title": "Mamba"}, {"id": "2302.13971", "title": "LLaMA"}])
    save_links(db, [WorkLink(b.id, "2312.00752", "extends"), WorkLink(b.id, "2302.13971", "cites")])
    digest = candidates(config, db)
    first = digest.entries[0]
    assert first.id == b.id and first.priority > digest.entries[1].priority
    assert first.links == ("extends: Mamba (2312.00752)", "cites: LLaMA (2302.13971)")
    html = str(dg.environment().get_template("telegram.html.j2").module.entry(first))
    assert "extends: Mamba (2312.00752)" in html and "cites: LLaMA (2302.13971)" in html


def test_learned_words_are_shown_apart_from_matched_terms(store):
    config, db = store
    both = Paper("2510.00003", "A Hyena study", "We study it. More.", ("X",))
    alone = Paper("2510.00004", "A study", "We study it. More.", ("Y",))
    upsert_papers(db, [both, alone], "api", seen=SEEN)
    words = (Match(LEARNED, "abstract", "language"), Match(LEARNED, "title", "study"))
    save_classifications(db, [
        (both.id, [SectionScore("non_transformer", "h", 3.0, (Match("Hyena", "title", "Hyena"), *words), relevance=0.95)]),
        (alone.id, [SectionScore("decoder_only", "h", 0.0, words, relevance=0.92)]),
    ], "fp")
    entries = {e.id: e for e in candidates(config, db).entries}
    assert (entries[both.id].terms, entries[both.id].learned) == (("Hyena",), ("language", "study"))
    assert (entries[alone.id].terms, entries[alone.id].learned) == ((), ("language", "study"))
    env = dg.environment()
    telegram = {i: check_html(str(env.get_template("telegram.html.j2").module.entry(e))) for i, e in entries.items()}
    assert "🔎 Hyena · learned: language, study\n" in telegram[both.id]
    assert "🔎 learned: language, study\n" in telegram[alone.id]
    rule_only = dg.DigestEntry(1, "1", "T", "u", "a", ("Mamba",), (), "First sentence.", "x", 1.0, 1.0)
    assert "🔎 Mamba\nFirst sentence." in str(env.get_template("telegram.html.j2").module.entry(rule_only))
    text = dg.render_email(candidates(config, db), dg.weekly_summary(config.sections, {}, {}, []), env).text
    assert "matched: Hyena\n   learned: language, study" in text


def test_a_section_the_config_no_longer_has_is_not_shown(store):
    config, db = store
    gone = Paper("2510.00005", "A medical study", "We study it. More.", ("X",))
    both = Paper("2510.00006", "A Mamba study", "We study it. More.", ("Y",))
    upsert_papers(db, [gone, both], "api", seen=SEEN)
    save_classifications(db, [
        (gone.id, [SectionScore("medical", "h", 9.0, (Match("clinical", "title"),))]),
        (both.id, [SectionScore("medical", "h", 9.0, ()), SectionScore("non_transformer", "h", 3.0, (Match("Mamba", "title"),))]),
    ], "old-rules")
    digest = candidates(config, db)
    assert [(e.id, e.section) for e in digest.entries] == [(both.id, "non_transformer")]
    assert "medical" not in {s.id for s in digest.sections}


def test_authors_and_first_sentence():
    assert dg.short_authors(["A", "B", "C"]) == "A, B, C"
    assert dg.short_authors(["A", "B", "C", "D"]) == "A, B, C et al."
    text = "Large models, e.g. GPT-4, work well (Smith et al. 2020). We show more.\nSecond line."
    assert dg.first_sentence(text) == "Large models, e.g. GPT-4, work well (Smith et al. 2020)."
    assert dg.first_sentence("No full stop at all") == "No full stop at all"
    assert len(dg.first_sentence("word " * 400)) <= dg.MAX_SENTENCE


def _paper_with_title(title: str) -> Paper:
    return Paper("2510.09999", title, 'Abstract with <tags> & "quotes". Second.', ("Ann <Lee>", "B & C"))


def test_every_interpolated_value_is_escaped(store):
    config, db = store
    nasty = 'Attention <script>alert(1)</script> & "GPT" > BERT <b>bold'
    p = _paper_with_title(nasty)
    upsert_papers(db, [p], "api", seen=SEEN)
    save_classifications(db, [(p.id, [SectionScore("architecture", "h", 1.0, (Match("<attention>", "title"),))])], "fp")
    digest = candidates(config, db)
    env = dg.environment()
    header, sections = th.render_parts(digest, env)
    text = th.compose(th.pack(header, sections)[0])
    visible = check_html(text)
    assert "<script>" not in text and "&lt;script&gt;" in text and "&amp;" in text
    assert nasty in visible and "Ann <Lee>" in visible and "<attention>" in visible
    summary = dg.weekly_summary(config.sections, {"architecture": 1}, {}, [])
    rendered = dg.render_email(digest, summary, env)
    assert "<script>" not in rendered.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert nasty in rendered.text


def _parts(sizes: list[int]) -> tuple[th.Part, list[tuple[th.Part, list[th.Part]]]]:
    header = th.Part("header", "H" * 10)
    heading = th.Part("section", "<b>S</b>")
    entries = [th.Part("entry", f"<i>{'x' * (n - 7)}</i>", f"id{i}", i) for i, n in enumerate(sizes)]
    return header, [(heading, entries)]


def test_split_at_exactly_4096():
    # header(10) + sep(2) + heading(8) + sep(2) + entry + sep(2) + entry
    fixed = 10 + 2 + 8 + 2 + 2
    first = 2000
    fits = 4096 - fixed - first
    header, sections = _parts([first, fits])
    messages = th.pack(header, sections, limit=4096)
    assert len(messages) == 1 and th.tg_len(th.compose(messages[0])) == 4096
    header, sections = _parts([first, fits + 1])
    messages = th.pack(header, sections, limit=4096)
    assert len(messages) == 2
    assert all(th.tg_len(th.compose(m)) <= 4096 for m in messages)
    assert [p.kind for p in messages[1]] == ["section", "entry"] and "(continued)" in messages[1][0].html


def test_split_counts_utf16_units_and_reserve():
    header = th.Part("header", "H")
    entries = [th.Part("entry", "😀" * 1100, f"id{i}", i) for i in range(3)]  # 2,200 units each
    messages = th.pack(header, [(th.Part("section", "S"), entries)], limit=4096)
    assert len(messages) == 3
    entries = [th.Part("entry", "x" * 1100, f"id{i}", i) for i in range(3)]
    assert len(th.pack(header, [(th.Part("section", "S"), entries)], limit=4096)) == 1
    assert len(th.pack(header, [(th.Part("section", "S"), entries)], limit=4096, reserve=400)) == 2


def test_real_digest_messages_fit_and_carry_every_paper(store):
    config, db = store
    ids = fill_store(db, sample_papers(), SEEN)
    header, sections = th.render_parts(candidates(config, db), dg.environment())
    messages = th.pack(header, sections, reserve=th.STATUS_RESERVE)
    assert len(messages) > 1
    carried = [p.paper_id for m in messages for p in m if p.paper_id]
    assert sorted(carried) == sorted(ids)
    for m in messages:
        assert th.tg_len(th.compose(m)) + th.STATUS_RESERVE * sum(p.kind == "entry" for p in m) <= 4096
        assert sum(p.kind == "entry" for p in m) <= th.MAX_ENTRIES
        check_html(th.compose(m))


def test_entry_longer_than_limit_is_truncated_safely(store):
    config, db = store
    p = _paper_with_title("Very long &amp; title " * 400)
    upsert_papers(db, [p], "api", seen=SEEN)
    save_classifications(db, [(p.id, [SectionScore("architecture", "h", 1.0, ())])], "fp")
    header, sections = th.render_parts(candidates(config, db), dg.environment())
    messages = th.pack(header, sections, reserve=th.STATUS_RESERVE)
    assert len(messages) == 1
    text = th.compose(messages[0])
    assert th.tg_len(text) <= 4096 - th.STATUS_RESERVE
    assert "…" in text
    check_html(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="ab <&>😀\n", max_size=30).map(lambda t: t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")),
            st.sampled_from(["<b>", "</b>", '<a href="https://x.org/?a=1&amp;b=2">', "</a>", "&quot;", "&#39;"]),
        ),
        max_size=40,
    ),
    st.integers(min_value=12, max_value=200),
)
def test_truncate_html_never_breaks_markup(pieces, limit):
    # balance the generated markup first, as the templates always produce balanced HTML
    html, stack = "", []
    for piece in pieces:
        if piece in ("</b>", "</a>"):
            if stack and stack[-1] == piece[2:-1]:
                html += piece
                stack.pop()
            continue
        html += piece
        if piece.startswith("<b") or piece.startswith("<a"):
            stack.append(piece[1])
    html += "".join(f"</{t}>" for t in reversed(stack))
    cut = th.truncate_html(html, limit)
    assert th.tg_len(cut) <= max(limit, th.tg_len(html) if th.tg_len(html) <= limit else limit)
    check_html(cut)


def test_templates_dir_overrides_one_file(tmp_path, write_config):
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "stdout.txt.j2").write_text("CUSTOM {{ digest.count }}\n", encoding="utf-8")
    config = load_config(write_config(DELIVERY, templates={"path": "tpl"}))
    env = dg.environment(config.templates_dir)
    digest = dg.Digest("day", NOW, NOW, ())
    assert dg.render_stdout(digest, env) == "CUSTOM 0\n"
    assert "arXiv digest" in th.render_empty(digest, env)  # not overridden: the packaged one


def test_subject_is_one_line_even_with_a_newline_title():
    entry = dg.DigestEntry(1, "1", "Evil\r\nBcc: victim@example.org", "u", "a", (), (), "s", "x", 1.0, 1.0)
    digest = dg.Digest("week", NOW, NOW, (dg.DigestSection("x", "X", (entry,)),))
    rendered = dg.render_email(digest, dg.weekly_summary([], {}, {}, []), dg.environment())
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert "Evil Bcc: victim@example.org" in rendered.subject


def test_the_email_says_when_its_table_and_its_list_count_different_papers():
    """A reader saw "182 new papers" over a table whose Total was 225: the table counts the
    week's papers, the list those not emailed before. When they differ, the email says so."""
    entry = dg.DigestEntry(1, "1", "A paper", "u", "a", (), (), "s", "x", 1.0, 1.0)
    digest = dg.Digest("week", NOW, NOW, (dg.DigestSection("x", "X", (entry,)),))
    section = ()
    env = dg.environment()
    differ = dg.render_email(digest, dg.weekly_summary(section, {"x": 3}, None, []), env)
    assert "The table counts the 3 papers first seen this week; the list below holds the 1 not sent by email before." in differ.html
    assert "the list below holds the 1 not sent by email before" in differ.text
    same = dg.render_email(digest, dg.weekly_summary(section, {"x": 1}, None, []), env)
    assert "not sent by email before" not in same.html + same.text
