"""Parsing every feed format into normalised items; the feedparser robustness corpus in ../shared."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.feeds.parse import feed_ttl_minutes, parse_feed

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BASE = "https://wire.example/feeds/world.xml"

RSS091 = """<?xml version="1.0"?><rss version="0.91"><channel><title>Old Wire</title><link>https://wire.example/</link>
<description>d</description><language>en-us</language>
<item><title>Harbour reopens</title><link>https://wire.example/a/harbour</link><description>Ships return.</description></item>
</channel></rss>"""
RSS20 = """<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Wire</title><link>https://wire.example/</link><description>d</description><ttl>30</ttl>
<item><title>Harbour reopens</title><link>/a/harbour?utm_source=rss</link><guid isPermaLink="false">w-1</guid>
<pubDate>Wed, 25 Nov 2026 09:30:00 -0500</pubDate><dc:creator>Ana Ruiz</dc:creator><category>Ports</category>
<description>&lt;p&gt;Ships &lt;b&gt;return&lt;/b&gt; to the harbour.&lt;/p&gt;</description></item>
</channel></rss>"""
RSS10_RDF = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
<channel rdf:about="https://wire.example/"><title>RDF Wire</title><link>https://wire.example/</link><description>d</description>
<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency></channel>
<item rdf:about="https://wire.example/a/harbour"><title>Harbour reopens</title><link>https://wire.example/a/harbour</link>
<dc:date>2026-11-25T14:30:00Z</dc:date><dc:creator>Ana Ruiz</dc:creator></item>
</rdf:RDF>"""
ATOM03 = """<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Atom 0.3 Wire</title>
<link rel="alternate" type="text/html" href="https://wire.example/"/><modified>2026-11-25T14:30:00Z</modified>
<entry><title>Harbour reopens</title><link rel="alternate" type="text/html" href="https://wire.example/a/harbour"/>
<id>tag:wire.example,2026:1</id><issued>2026-11-25T14:30:00Z</issued><modified>2026-11-25T14:30:00Z</modified>
<author><name>Ana Ruiz</name></author></entry></feed>"""
ATOM10 = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://wire.example/">
<title>Atom Wire</title><id>urn:wire</id><updated>2026-11-25T14:30:00Z</updated>
<entry><title type="html">Harbour &amp;amp; port reopen</title><link href="a/harbour"/><id>urn:wire:1</id>
<published>2026-11-25T15:30:00+01:00</published><updated>2026-11-25T15:30:00+01:00</updated>
<author><name>Ana Ruiz</name></author><author><name>Ben Okafor</name></author><category term="Ports"/>
<summary>Ships return.</summary></entry>
<entry><title>No link here</title><id>urn:wire:2</id><updated>2026-11-25T14:30:00Z</updated></entry></feed>"""
JSON_FEED = json.dumps({
    "version": "https://jsonfeed.org/version/1.1", "title": "JSON Wire", "home_page_url": "https://wire.example/",
    "items": [{"id": "1", "url": "https://wire.example/a/harbour", "title": "Harbour reopens",
               "content_html": "<p>Ships return.</p>", "date_published": "2026-11-25T14:30:00Z",
               "authors": [{"name": "Ana Ruiz"}], "tags": ["Ports"]},
              {"id": "2", "title": "no url"}],
})


@pytest.mark.parametrize(
    "body, version",
    [(RSS091, "rss091u"), (RSS20, "rss20"), (RSS10_RDF, "rss10"), (ATOM03, "atom03"), (ATOM10, "atom10"),
     (JSON_FEED, "json1")],
)
def test_every_format_yields_the_story(body, version):
    parsed = parse_feed(body.encode(), "wire", BASE, now=NOW)
    assert parsed.version == version and parsed.is_feed
    item = parsed.items[0]
    assert item.canonical_url == "https://wire.example/a/harbour"
    assert item.feed == "wire" and item.title.startswith("Harbour")


@pytest.mark.parametrize("body", [RSS20, RSS10_RDF, ATOM03, ATOM10, JSON_FEED])
def test_dates_are_utc(body):
    item = parse_feed(body.encode(), "wire", BASE, now=NOW).items[0]
    assert item.published_at == "2026-11-25T14:30:00+00:00"


def test_rss_item_fields():
    [item] = parse_feed(RSS20.encode(), "wire", BASE, now=NOW).items
    assert item.url == "https://wire.example/a/harbour?utm_source=rss"  # as linked, resolved against the feed
    assert item.guid == "w-1" and item.authors == ["Ana Ruiz"] and item.tags == ["Ports"]
    assert item.summary == "Ships return to the harbour."


def test_atom_authors_relative_links_and_skipped_entries():
    parsed = parse_feed(ATOM10.encode(), "wire", BASE, now=NOW)
    [item] = parsed.items
    assert item.authors == ["Ana Ruiz", "Ben Okafor"] and item.title == "Harbour & port reopen"
    assert parsed.skipped == {"no_link": 1}


def test_json_feed_skips_items_without_url():
    parsed = parse_feed(JSON_FEED.encode(), "wire", BASE, now=NOW)
    assert len(parsed.items) == 1 and parsed.skipped == {"no_link": 1}
    assert parsed.items[0].summary == "Ships return." and parsed.items[0].authors == ["Ana Ruiz"]


def test_bozo_feed_yields_what_parses_and_records_error():
    broken = RSS20.replace("</channel></rss>", "<item><title>Second & unescaped</title><link>https://wire.example/b</link></item>")
    parsed = parse_feed(broken.encode(), "wire", BASE, now=NOW)
    assert parsed.error  # the bozo exception is recorded
    assert [i.canonical_url for i in parsed.items][:1] == ["https://wire.example/a/harbour"]


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00\xff\xfe garbage \x01", b"<!DOCTYPE html><html><body>Please enable cookies</body></html>", b"{not json"],
)
def test_not_a_feed(body):
    parsed = parse_feed(body, "wire", BASE, now=NOW)
    assert not parsed.is_feed and parsed.items == []


def test_future_and_ancient_dates_are_dropped():
    future = RSS20.replace("Wed, 25 Nov 2026 09:30:00 -0500", "Wed, 25 Nov 2099 09:30:00 -0500")
    ancient = RSS20.replace("Wed, 25 Nov 2026 09:30:00 -0500", "Thu, 01 Jan 1970 00:00:00 GMT")
    for body in (future, ancient):
        assert parse_feed(body.encode(), "wire", BASE, now=NOW).items[0].published_at is None


@pytest.mark.parametrize(
    "feed, minutes",
    [({"ttl": "30"}, 30), ({"sy_updateperiod": "hourly", "sy_updatefrequency": "2"}, 30),
     ({"sy_updateperiod": "daily"}, 1440), ({"ttl": "bogus"}, None), ({}, None),
     ({"ttl": "5", "sy_updateperiod": "hourly"}, 60)],
)
def test_feed_ttl_minutes(feed, minutes):
    assert feed_ttl_minutes(feed) == minutes


def test_feed_parser_corpus(shared_dir):
    """Every file of feedparser's own corpus parses without an exception escaping."""
    root = shared_dir / "eval" / "feeds"
    if not root.is_dir():
        pytest.skip("../shared/eval/feeds is absent")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "LICENSE")
    with_items = with_entries = 0
    for path in files:
        parsed = parse_feed(path.read_bytes(), "corpus", f"http://corpus.example/{path.name}", now=NOW)
        with_items += bool(parsed.items)
        with_entries += bool(parsed.items or parsed.skipped)
    print(f"\nfeed corpus: {len(files)} files, {with_entries} with at least one entry, "
          f"{with_items} with at least one item that has a usable link")
    assert len(files) > 2000 and with_entries > 500 and with_items > 50
