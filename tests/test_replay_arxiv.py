"""The arXiv replay server itself: query language, verbatim recordings, faults, control API."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlencode

import httpx
import pytest
from poll_support import API

from tracker.standins.arxiv import ArxivReplay, recorded_responses
from tracker.standins.arxiv_feeds import QueryError, parse_query


@pytest.fixture(scope="module")
def server():
    with ArxivReplay() as s:
        yield s


def ids(server, query: str) -> set[str]:
    return {p.id for p in server.matching(query)}


def test_query_language(server):
    cl = ids(server, "cat:cs.CL")
    cv = ids(server, "cat:cs.CV")
    assert cl and cv
    assert ids(server, "cat:cs.CL OR cat:cs.CV") == cl | cv
    assert ids(server, "cat:cs.CL AND cat:cs.CV") == cl & cv
    assert ids(server, "cat:cs.CL ANDNOT cat:cs.CV") == cl - cv
    day = ids(server, "cat:cs.CL AND submittedDate:[202510280000 TO 202510282359]")
    assert day and day == {p.id for p in server.papers if "cs.CL" in p.categories and p.announced == "2025-10-29"}
    phrase = ids(server, '(cat:cs.CL OR cat:cs.AI) AND (all:"large language model")')
    assert phrase and all("large language model" in (p.title + " " + p.abstract).lower().replace("-", " ").replace("\n", " ")
                          for p in server.papers if p.id in phrase)
    with pytest.raises(QueryError):
        parse_query("cat:cs.CL AND (")


def test_every_recorded_request_is_served_verbatim(server):
    recorded = recorded_responses()
    assert len(recorded) >= 15
    for (query, id_list, start, size), path in recorded.items():
        args = {"search_query": query, "id_list": id_list, "sortBy": "relevance", "start": start, "max_results": size}
        got = httpx.get(f"{server.api_url}?{urlencode(args)}")
        assert got.status_code == 200 and got.content == path.read_bytes()
    assert (API / "lukasschwab__arxiv.py__id_abc_s0_m100_b79c8dcf6bc3.body.xml") in recorded.values()


def test_bad_query_gets_arxivs_error_feed(server):
    got = httpx.get(server.api_url, params={"search_query": "cat:cs.CL AND ("})
    assert got.status_code == 200 and b"<title>Error</title>" in got.content


def test_faults_and_control_endpoint(server):
    httpx.get(f"{server.url}/_control/inject", params={"kind": "503", "times": "1", "route": "rss"})
    got = httpx.get(f"{server.rss_url}/cs.CL")
    assert got.status_code == 503 and got.headers["retry-after"] == "1"
    assert httpx.get(f"{server.rss_url}/cs.CL").status_code == 200
    assert httpx.get(f"{server.url}/_control/inject", params={"kind": "nope"}).status_code == 400
    before = len(server.requests)
    httpx.get(server.api_url, params={"search_query": "cat:cs.CL"})
    assert server.requests[before].params["search_query"] == "cat:cs.CL"


def test_standalone_entry_point_serves(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "tracker.standins.arxiv", "--port", "0", "--limit", "50"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "50 papers" in line
        api_url = line.split("api_url = ")[1].split(";")[0]
        got = httpx.get(api_url, params={"search_query": "cat:cs.CV", "max_results": "5"})
        assert got.status_code == 200 and got.text.count("<entry>") == 5
    finally:
        proc.terminate()
        proc.wait(timeout=10)
