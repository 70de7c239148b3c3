"""arXiv API source: query building, page checks on real recorded bodies, HTTP politeness."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from poll_support import API

from tracker.classify.terms import parse_term
from tracker.config import ArxivConfig
from tracker.errors import SourceError
from tracker.sources import Http, arxiv_api, retry_after_seconds
from tracker.standins.arxiv import ArxivReplay

T0, T1 = datetime(2025, 10, 25, tzinfo=timezone.utc), datetime(2025, 11, 1, tzinfo=timezone.utc)


def body(name: str) -> bytes:
    return (API / name).read_bytes()


@pytest.fixture(scope="module")
def server():
    with ArxivReplay() as s:
        yield s


def cfg_for(server, **kw) -> ArxivConfig:
    return ArxivConfig(api_url=server.api_url, rss_url=server.rss_url, delay_seconds=0, timeout_seconds=2, **kw)


def test_queries_split_by_url_length_and_keep_every_term():
    terms = [f"term number {i}" for i in range(300)] + ["BERT", "encoder-only", 'say "hi"']
    cfg = ArxivConfig(api_url="https://export.arxiv.org/api/query")
    queries = arxiv_api.build_queries(cfg, [c for t in terms for c in arxiv_api.term_clauses(parse_term(t))])
    assert len(queries) > 1
    client = arxiv_api.client_for(cfg)
    for q in queries:
        url = client._format_url(arxiv_api._search(f"{q} AND {arxiv_api.date_clause(T0, T1)}"), 29_000, cfg.page_size)
        assert len(url) <= arxiv_api.MAX_URL
        assert q.startswith("(cat:cs.CL OR cat:cs.LG OR cat:cs.AI) AND (")
    joined = " ".join(queries)
    for i in range(300):
        assert joined.count(f'all:"term number {i}"') == 1
    assert "all:BERT" in joined and 'all:"encoder only"' in joined and "all:encoderonly" in joined and 'all:"say hi"' in joined
    assert arxiv_api.build_queries(cfg, []) == ["(cat:cs.CL OR cat:cs.LG OR cat:cs.AI)"]


def test_date_clause_is_minutes_in_utc():
    assert arxiv_api.date_clause(T0, T1) == "submittedDate:[202510250000 TO 202511010000]"


def test_real_record_maps_to_paper():
    page = arxiv_api.parse_page(body("lukasschwab__arxiv.py__id_2104.12255v1_s0_m100_6ae69987ffe1.body.xml"), "u")
    (p,) = page.papers
    assert (p.id, p.version, page.total) == ("2104.12255", 1, 1)
    assert "  " not in p.title and "\n" not in p.abstract and p.authors and p.primary_category
    assert p.published[:4].isdigit() and p.categories


def test_old_style_ids_and_legacy_2016_format():
    (p,) = arxiv_api.parse_page(body("lukasschwab__arxiv.py__id_quant-ph_0201082v1_s0_m100_86989fe779ef.body.xml"), "u").papers
    assert (p.id, p.version) == ("quant-ph/0201082", 1)
    legacy = arxiv_api.parse_page(body("lukasschwab__arxiv.py__2016__0820a048.xml"), "u")
    assert len(legacy.papers) == 10 and all(x.version for x in legacy.papers)


def test_error_feed_is_an_error_not_zero_papers():
    with pytest.raises(SourceError, match="incorrect id format for abc"):
        arxiv_api.parse_page(body("lukasschwab__arxiv.py__id_abc_s0_m100_b79c8dcf6bc3.body.xml"), "u")


def test_truncated_and_html_bodies_fail():
    raw = body("lukasschwab__arxiv.py__q_testing_s0_m10_bc5a6c384fe9.body.xml")
    with pytest.raises(SourceError, match="malformed Atom body"):
        arxiv_api.parse_page(raw[: len(raw) // 2], "u")
    with pytest.raises(SourceError, match="HTML page"):
        arxiv_api.parse_page(b"<!DOCTYPE html><html><head><title>Bad Gateway</title></head><body></body></html>", "u")


def test_real_empty_results_are_fine():
    assert arxiv_api.parse_page(body("james-akl__xiv__arxiv_empty.xml"), "u").total == 0
    assert arxiv_api.parse_page(body("autobib__rsxiv__query_empty.xml"), "u").papers == []


def test_paging_respects_page_size_and_total(server):
    cfg = cfg_for(server, page_size=40)
    http = Http(timeout=2)
    before = len(server.requests)
    got = [p.id for batch in arxiv_api.fetch(cfg, http, [], T0, T1) for p in batch]
    reqs = server.requests[before:]
    starts = [int(r.params["start"]) for r in reqs]
    assert starts == list(range(0, len(got), 40))
    assert all(int(r.params["max_results"]) <= 40 for r in reqs)
    assert "submittedDate:[202510250000 TO 202511010000]" in reqs[0].params["search_query"]
    assert len(got) == len(set(got)) == len(server.matching(reqs[0].params["search_query"]))


def test_window_split_when_results_exceed_cap(server, monkeypatch):
    monkeypatch.setattr(arxiv_api, "RESULTS_CAP", 100)
    cfg = cfg_for(server, page_size=50)
    got = [p.id for batch in arxiv_api.fetch(cfg, Http(timeout=2), [], T0, T1) for p in batch]
    monkeypatch.setattr(arxiv_api, "RESULTS_CAP", 30_000)
    full = [p.id for batch in arxiv_api.fetch(cfg, Http(timeout=2), [], T0, T1) for p in batch]
    assert sorted(got) == sorted(full) and len(got) == len(set(got)) > 100


def test_fetch_ids_served_from_recorded_response(server):
    (p,) = arxiv_api.fetch_ids(cfg_for(server), ["1605.08386"])
    assert p.id == "1605.08386" and p.title
    assert server.requests[-1].params["id_list"] == "1605.08386"


def test_search_title_uses_a_title_phrase(server):
    listed = server.papers[0]
    found = arxiv_api.search_title(cfg_for(server), listed.title)
    assert listed.id in [p.id for p in found]
    assert server.requests[-1].params["search_query"].startswith('ti:"')


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_delay_between_requests_uses_the_injected_clock(server):
    fake = FakeClock()
    http = Http(timeout=2, delay_seconds=3.0, sleep=fake.sleep, clock=fake.clock)
    url = server.api_url + "?" + urlencode({"search_query": "cat:cs.CL", "max_results": "1"})
    http.get(url)
    fake.now += 1.0
    http.get(url)
    http.get(url)
    assert fake.sleeps == [2.0, 3.0]
    assert http.requests == 3


def test_retry_after_and_backoff(server):
    fake = FakeClock()
    http = Http(timeout=2, retries=3, backoff_seconds=1.0, sleep=fake.sleep, clock=fake.clock)
    server.inject("503", times=1, route="api", retry_after="7")
    server.inject("500", times=2, route="api")
    http.get(server.api_url + "?search_query=cat:cs.CL&max_results=1")
    assert fake.sleeps == [7.0, 2.0, 4.0] and http.requests == 4


def test_gives_up_after_retries_with_the_reason(server):
    fake = FakeClock()
    http = Http(timeout=2, retries=2, sleep=fake.sleep, clock=fake.clock)
    server.inject("429", times=3, route="api", retry_after="5")
    with pytest.raises(SourceError, match=r"HTTP 429 \(gave up after 3 tries\)"):
        http.get(server.api_url + "?search_query=cat:cs.CL")
    assert fake.sleeps == [5.0, 5.0]


def test_retry_after_http_date():
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 30) == 30
    assert retry_after_seconds("soon") is None and retry_after_seconds("12") == 12
