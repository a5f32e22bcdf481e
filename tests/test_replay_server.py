"""The replay wire server: conditional GET, scripted failures, serve-time rendering, the seed article."""

from __future__ import annotations

import socket

import feedparser
import httpx
import pytest

from pipeline.ops.replay import DEMO_ROOT, SEED_ROUTE, ReplayServer, seed_parts

pytestmark = pytest.mark.integration


@pytest.fixture
def wire():
    with ReplayServer(DEMO_ROOT, seed_path=None) as server:
        yield server


def test_demo_feeds_are_live_and_well_formed(wire):
    for path, count in (("/world.xml", 4), ("/canada.xml", 3)):
        response = httpx.get(wire.url(path))
        assert response.status_code == 200 and "rss" in response.headers["content-type"]
        parsed = feedparser.parse(response.content)
        assert not parsed.bozo and len(parsed.entries) == count
        assert all(e.link.startswith(wire.base_url) for e in parsed.entries)
        assert b"{{" not in response.content


def test_demo_articles_are_served(wire):
    links = [e.link for e in feedparser.parse(httpx.get(wire.url("/world.xml")).content).entries]
    for link in links:
        page = httpx.get(link)
        assert page.status_code == 200 and "NewsArticle" in page.text and " said" in page.text
        assert "{{" not in page.text


@pytest.mark.parametrize("header", ["If-None-Match", "If-Modified-Since"])
def test_conditional_get(wire, header):
    first = httpx.get(wire.url("/canada.xml"))
    value = first.headers["etag"] if header == "If-None-Match" else first.headers["last-modified"]
    again = httpx.get(wire.url("/canada.xml"), headers={header: value})
    assert again.status_code == 304 and again.content == b""
    assert wire.requests[-1].headers[header] == value


def test_changed_document_gets_new_validators(wire):
    wire.put("/live.xml", "<rss version='2.0'><channel><title>a</title></channel></rss>")
    first = httpx.get(wire.url("/live.xml"))
    wire.put("/live.xml", "<rss version='2.0'><channel><title>b</title></channel></rss>")
    headers = {"If-None-Match": first.headers["etag"], "If-Modified-Since": first.headers["last-modified"]}
    assert httpx.get(wire.url("/live.xml"), headers=headers).status_code == 200
    assert httpx.get(wire.url("/live.xml"), headers={"If-Modified-Since": first.headers["last-modified"]}).status_code == 200


@pytest.mark.parametrize(
    "kind, value, status, check",
    [
        ("status", 500, 500, None),
        ("status", 503, 503, None),
        ("garbage", None, 200, lambda r: not feedparser.parse(r.content).entries),
        ("html", None, 200, lambda r: r.headers["content-type"].startswith("text/html")),
        ("empty", None, 200, lambda r: r.content == b""),
        ("empty_feed", None, 200, lambda r: feedparser.parse(r.content).entries == []),
        ("moved", "/canada.xml", 301, lambda r: r.headers["location"] == "/canada.xml"),
        ("gone", None, 410, None),
        ("throttle", 90, 429, lambda r: r.headers["retry-after"] == "90"),
    ],
)
def test_scripted_failures(wire, kind, value, status, check):
    wire.fail("/world.xml", kind, value, times=1)
    response = httpx.get(wire.url("/world.xml"))
    assert response.status_code == status
    assert check is None or check(response)
    assert httpx.get(wire.url("/world.xml")).status_code == 200  # times=1: next answer is normal


def test_slow_answer_times_out_the_client(wire):
    wire.fail("/world.xml", "slow", 3)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(wire.url("/world.xml"), timeout=0.3)


def test_unknown_fault_is_refused(wire):
    with pytest.raises(ValueError):
        wire.fail("/world.xml", "explode")


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/nope.xml"])
def test_nothing_outside_the_root(wire, path):
    assert httpx.get(wire.base_url + path).status_code == 404


def test_robots_txt_default_allows(wire):
    assert "Allow: /" in httpx.get(wire.url("/robots.txt")).text


def test_server_releases_its_port():
    with ReplayServer(DEMO_ROOT) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_seed_article_absent_means_no_item(wire):
    entries = feedparser.parse(httpx.get(wire.url("/world.xml")).content).entries
    assert all(SEED_ROUTE not in e.link for e in entries)
    assert httpx.get(wire.url(SEED_ROUTE)).status_code == 404


def test_seed_article_served_when_present(shared_dir):
    seed = shared_dir / "seed" / "article.txt"
    if not seed.is_file():
        pytest.skip("seed article absent")
    with ReplayServer(DEMO_ROOT, seed_path=seed) as server:
        entries = feedparser.parse(httpx.get(server.url("/world.xml")).content).entries
        assert entries[0].link == server.url(SEED_ROUTE)
        page = httpx.get(server.url(SEED_ROUTE))
    headline, dateline, paragraphs = seed_parts(seed.read_text(encoding="utf-8"))
    assert page.status_code == 200 and "NewsArticle" in page.text
    assert headline and dateline and len(paragraphs) > 5
    assert page.text.count("<p>") >= len(paragraphs)


@pytest.mark.parametrize(
    "text, headline, dateline",
    [
        ("HALIFAX -- The mayor said buses will be electric by 2030, officials confirmed.\n\nMore.",
         "The mayor said buses will be electric by 2030", "HALIFAX"),
        ("No dateline here and a short lede.\nSecond.", "No dateline here and a short lede.", ""),
    ],
)
def test_seed_parts(text, headline, dateline):
    assert seed_parts(text)[:2] == (headline, dateline)
