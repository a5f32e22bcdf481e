"""Polling against the real replay wire and the real Elasticsearch: conditional GET, failures,
moves, dedup across feeds, and durability when the process dies between items and feed state."""

from __future__ import annotations

import argparse
import gzip
import time
import tracemalloc
import uuid
from datetime import timedelta

import pytest
from elastic_transport import ConnectionError as TransportConnectionError
from feeds_support import rss, stories, with_registry, write_registry
from test_fetch_page import drip, drip_headers
from test_fetch_server import Reply, site  # noqa: F401 (the fixture)

from pipeline.cli.feeds import run_feeds_command
from pipeline.errors import RetryableError
from pipeline.feeds.health import HEALTH_LABELS, feed_health_report
from pipeline.feeds.poll import due_feeds, interleave_by_host, poll_feed, poll_feeds, summarize_polls
from pipeline.feeds.registry import Feed, load_feeds
from pipeline.feeds.state import iso, load_states, merge_config, parse_iso, save_state, utcnow
from pipeline.ops.replay import DEMO_ROOT, ReplayServer
from pipeline.settings import Settings
from pipeline.store.client import connect
from pipeline.store.documents import doc_id
from pipeline.store.indices import delete_indices, ensure_indices
from pipeline.store.runs import build_run_record

pytestmark = pytest.mark.integration


@pytest.fixture
def wire():
    with ReplayServer(DEMO_ROOT, seed_path=None) as server:
        yield server


@pytest.fixture(scope="module")
def shared_indices(es_url, tmp_path_factory):
    """One set of indices for the module: creating them per test costs seconds on a busy cluster."""
    settings = Settings(es_url=es_url, index_prefix=f"wdtest-feeds-{uuid.uuid4().hex[:10]}",
                        data_dir=tmp_path_factory.mktemp("data"), allow_private_addresses=True, per_host_delay=0.0)
    client = connect(settings)
    ensure_indices(client, settings)
    yield settings, client
    delete_indices(client, settings)
    client.close()


@pytest.fixture
def settings(shared_indices):
    """This module's settings (shared indices); every document is removed after each test."""
    settings, client = shared_indices
    yield settings
    wipe(client, settings)


@pytest.fixture
def es(shared_indices):
    return shared_indices[1]


@pytest.fixture
def ready(es, settings):
    return es


def wipe(client, settings) -> None:
    """Delete every document of both aliases (no delete-by-query on a core-only cluster)."""
    aliases = [settings.articles_alias, settings.feeds_alias]
    client.indices.refresh(index=aliases)
    hits = client.search(index=aliases, size=10000, source=False).body["hits"]["hits"]
    if hits:
        client.bulk(operations=[{"delete": {"_index": h["_index"], "_id": h["_id"]}} for h in hits], refresh=True)


def feed_at(wire, path="/test.xml", name="test", **kw) -> Feed:
    return Feed(name=name, url=wire.url(path), source="Test Wire", **kw)


def stored(es, settings) -> dict[str, dict]:
    es.indices.refresh(index=settings.articles_alias)
    hits = es.search(index=settings.articles_alias, size=1000).body["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def state_of(es, settings, name="test") -> dict:
    es.indices.refresh(index=settings.feeds_alias)
    return load_states(es, settings)[name]


def test_new_items_become_pending_documents(wire, ready, settings):
    wire.put("/test.xml", rss(stories(wire.base_url, "world", 3)))
    result = poll_feed(feed_at(wire), ready, settings)
    assert (result.status, result.http_status, result.new_count) == ("new", 200, 3)
    docs = stored(ready, settings)
    assert set(docs) == set(result.new_ids)
    doc = docs[doc_id(f"{wire.base_url}/world/story-0.html")]
    assert doc["status"] == "pending" and doc["attempts"] == 0 and doc["feed"] == "test"
    assert doc["source"] == "Test Wire" and doc["title"] == "world story 0" and doc["published_at"]
    assert {"url", "canonical_url", "guid", "summary", "authors", "tags", "discovered_at", "pipeline_version"} <= set(doc)


def test_conditional_headers_sent_and_304_is_cheap(wire, ready, settings):
    wire.put("/test.xml", rss(stories(wire.base_url, "world", 2)))
    poll_feed(feed_at(wire), ready, settings)
    first = [r for r in wire.requests if r.path == "/test.xml"][-1]
    assert "If-None-Match" not in first.headers
    second = poll_feed(feed_at(wire), ready, settings)
    sent = [r for r in wire.requests if r.path == "/test.xml"][-1].headers
    assert sent["If-None-Match"] and sent["If-Modified-Since"]
    assert (second.status, second.http_status, second.new_count) == ("not_modified", 304, 0)
    state = state_of(ready, settings)
    assert state["last_status"] == "not_modified" and state["consecutive_failures"] == 0
    assert state["etag"] == sent["If-None-Match"]


def test_second_full_poll_of_the_same_items_creates_nothing(wire, ready, settings):
    items = stories(wire.base_url, "world", 3)
    wire.put("/test.xml", rss(items, title="Edition 1"))
    poll_feed(feed_at(wire), ready, settings)
    wire.put("/test.xml", rss(items, title="Edition 2"))  # new ETag, same stories: a full 200
    result = poll_feed(feed_at(wire), ready, settings)
    assert (result.status, result.http_status, result.items_seen, result.new_count) == ("ok", 200, 3, 0)
    assert len(stored(ready, settings)) == 3


def test_second_poll_of_changed_feed_creates_only_the_new_story(wire, ready, settings):
    items = stories(wire.base_url, "world", 3)
    wire.put("/test.xml", rss(items))
    poll_feed(feed_at(wire), ready, settings)
    wire.put("/test.xml", rss([("breaking", f"{wire.base_url}/world/breaking.html"), *items]))
    result = poll_feed(feed_at(wire), ready, settings)
    assert (result.status, result.items_seen, result.new_count) == ("new", 4, 1)
    assert result.new_ids == [doc_id(f"{wire.base_url}/world/breaking.html")]
    assert len(stored(ready, settings)) == 4


def test_dedup_across_feeds_with_tracking_parameters(wire, ready, settings, tmp_path):
    story = f"{wire.base_url}/world/shared-story.html"
    wire.put("/a.xml", rss([("Shared", story + "?utm_source=a&utm_medium=rss")]))
    wire.put("/b.xml", rss([("Shared", story + "?fbclid=xyz#top"), ("Only B", f"{wire.base_url}/world/b.html")]))
    registry = write_registry(tmp_path / "feeds.yaml", {"a": wire.url("/a.xml"), "b": wire.url("/b.xml")})
    results = {r.feed: r for r in poll_feeds(ready, with_registry(settings, registry))}
    assert results["a"].new_count + results["b"].new_count == 2
    docs = stored(ready, settings)
    assert len(docs) == 2 and docs[doc_id(story)]["canonical_url"] == story


@pytest.mark.parametrize(
    "kind, value, reason",
    [
        ("status", 500, "http_5xx"),
        ("status", 404, "http_404"),
        ("slow", 3, "timeout"),
        ("garbage", None, "not_a_feed"),
        ("html", None, "html_not_feed"),
        ("empty", None, "empty_body"),
    ],
)
def test_bad_answers_are_recorded_not_raised(wire, ready, settings, kind, value, reason):
    wire.put("/test.xml", rss(stories(wire.base_url, "world", 2)))
    wire.fail("/test.xml", kind, value)
    fast = settings.model_copy(update={"read_timeout": 0.5})
    result = poll_feed(feed_at(wire), ready, fast)
    assert result.status == "failed" and result.error["reason"] == reason and result.new_count == 0
    state = state_of(ready, settings)
    assert state["consecutive_failures"] == 1 and state["health"] == "failing"
    assert state["error"]["reason"] == reason and state["counts"]["errors"] == 1
    assert parse_iso(state["next_poll_at"]) > utcnow()
    wire.clear_faults()
    assert poll_feed(feed_at(wire), ready, settings).new_count == 2  # nothing lost: it recovers


@pytest.mark.parametrize("status, reason", [(408, "http_408"), (425, "http_425"), (429, "http_429"),
                                            (503, "http_5xx")])
def test_transient_statuses_are_retryable(wire, ready, settings, status, reason):
    wire.fail("/test.xml", "status", status)
    result = poll_feed(feed_at(wire), ready, settings)
    assert (result.status, result.http_status) == ("failed", status)
    assert result.error["reason"] == reason and result.error["retryable"] is True


@pytest.mark.parametrize("route", [drip_headers, drip], ids=["trickled-headers", "trickled-body"])
def test_trickling_feed_fails_with_timeout_within_the_total_budget(site, ready, settings, route):
    site.add("/feed.xml", route)  # each read is in time (0.3 s < read_timeout); the whole would take 9-12 s
    budget = settings.model_copy(update={"total_timeout": 1.0, "read_timeout": 0.5})
    started = time.monotonic()
    result = poll_feed(Feed(name="test", url=site.url("/feed.xml")), ready, budget)
    assert result.status == "failed" and result.error["reason"] == "timeout" and result.error["retryable"]
    assert time.monotonic() - started < 3.0


def test_gzip_bomb_feed_fails_too_large_without_inflating(site, ready, settings):
    inflated = 32 * 1024 * 1024
    bomb = gzip.compress(b"\0" * inflated, 9)  # about 32 KB on the wire
    site.add("/feed.xml", Reply(200, bomb, {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}))
    capped = settings.model_copy(update={"max_bytes": 256 * 1024})
    tracemalloc.start()
    try:
        result = poll_feed(Feed(name="test", url=site.url("/feed.xml")), ready, capped)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.status == "failed" and result.error["reason"] == "too_large"
    assert peak < inflated // 4, f"peak {peak} bytes: the bomb was inflated"


def test_empty_feed_is_a_quiet_success(wire, ready, settings):
    wire.fail("/test.xml", "empty_feed")
    result = poll_feed(feed_at(wire), ready, settings)
    assert (result.status, result.new_count, result.error) == ("ok", 0, None)


def test_backoff_grows_and_feed_turns_unhealthy_but_is_retried(wire, ready, settings):
    wire.fail("/test.xml", "status", 503)
    feed = feed_at(wire, interval_minutes=10)
    waits = []
    for _ in range(settings.unhealthy_after_failures):
        before = utcnow()
        poll_feed(feed, ready, settings)
        waits.append((parse_iso(state_of(ready, settings)["next_poll_at"]) - before).total_seconds() / 60)
    assert all(b > a for a, b in zip(waits, waits[1:]))  # exponential backoff
    state = state_of(ready, settings)
    assert state["health"] == "unhealthy" and state["consecutive_failures"] == settings.unhealthy_after_failures
    assert waits[-1] <= settings.feed_max_backoff_minutes + 1  # still retried, slowly


def test_retry_after_is_respected(wire, ready, settings):
    wire.fail("/test.xml", "throttle", 7200)
    result = poll_feed(feed_at(wire), ready, settings)
    assert result.status == "failed" and result.error["reason"] == "http_429"
    next_poll = parse_iso(state_of(ready, settings)["next_poll_at"])
    assert next_poll >= utcnow() + timedelta(seconds=7100)


def test_permanent_move_updates_the_stored_url(wire, ready, settings):
    wire.put("/new-home.xml", rss(stories(wire.base_url, "world", 2)))
    wire.fail("/test.xml", "moved", "/new-home.xml")
    result = poll_feed(feed_at(wire), ready, settings)
    assert result.new_count == 2 and result.url == wire.url("/new-home.xml")
    state = state_of(ready, settings)
    assert state["url"] == wire.url("/new-home.xml") and state["moved_from"] == wire.url("/test.xml")
    hits_before = wire.hits("/test.xml")
    assert poll_feed(feed_at(wire), ready, settings).status == "not_modified"
    assert wire.hits("/test.xml") == hits_before  # the next poll goes straight to the new URL


def test_gone_disables_the_feed_with_a_reason(wire, ready, settings, tmp_path):
    wire.fail("/test.xml", "gone")
    result = poll_feed(feed_at(wire), ready, settings)
    assert result.status == "disabled" and result.error["reason"] == "http_410"
    state = state_of(ready, settings)
    assert state["disabled_reason"] == "http_410" and state["health"] == "disabled"
    registry = write_registry(tmp_path / "feeds.yaml", {"test": wire.url("/test.xml")})
    assert due_feeds(ready, with_registry(settings, registry), now=utcnow() + timedelta(days=30)) == []
    assert poll_feed(feed_at(wire), ready, settings).status == "disabled"


def test_robots_disallow_is_a_recorded_failure(wire, ready, settings):
    wire.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    wire.put("/private/feed.xml", rss(stories(wire.base_url, "x", 1)))
    result = poll_feed(feed_at(wire, "/private/feed.xml"), ready, settings)
    assert result.status == "failed" and result.error["reason"] == "robots_disallowed"
    assert wire.hits("/private/feed.xml") == 0


class FeedStateWriteFails:
    """The real client, except that saving feed state fails once: a crash after the items were written."""

    def __init__(self, es, settings):
        self._es, self._alias, self.failed = es, settings.feeds_alias, False

    def __getattr__(self, name):
        return getattr(self._es, name)

    def index(self, **kwargs):
        if kwargs.get("index") == self._alias and not self.failed:
            self.failed = True
            raise TransportConnectionError("injected: connection lost before feed state was saved")
        return self._es.index(**kwargs)


def test_crash_between_items_and_feed_state_repolls_without_loss(wire, ready, settings):
    wire.put("/test.xml", rss(stories(wire.base_url, "world", 3)))
    flaky = FeedStateWriteFails(ready, settings)
    with pytest.raises(RetryableError) as info:
        poll_feed(feed_at(wire), flaky, settings)
    assert info.value.reason == "es_unavailable"
    assert len(stored(ready, settings)) == 3  # the items were durable before the crash
    wire.put("/test.xml", rss([("late", f"{wire.base_url}/world/late.html"), *stories(wire.base_url, "world", 3)]))
    result = poll_feed(feed_at(wire), ready, settings)
    sent = [r for r in wire.requests if r.path == "/test.xml"][-1].headers
    assert "If-None-Match" not in sent  # no validators were saved, so the feed is fetched in full
    assert (result.http_status, result.new_count) == (200, 1)
    assert len(stored(ready, settings)) == 4


def test_due_feeds_follow_the_schedule(wire, ready, settings, tmp_path):
    wire.put("/test.xml", rss(stories(wire.base_url, "world", 1), ttl=60))
    registry = with_registry(settings, write_registry(tmp_path / "feeds.yaml", {"test": wire.url("/test.xml")}))
    assert [f.name for f in due_feeds(ready, registry)] == ["test"]
    poll_feeds(ready, registry)
    ready.indices.refresh(index=settings.feeds_alias)
    assert due_feeds(ready, registry) == []
    state = state_of(ready, settings)
    assert state["interval_minutes"] >= 60  # the feed's ttl is a floor
    assert [f.name for f in due_feeds(ready, registry, now=utcnow() + timedelta(hours=2))] == ["test"]


def test_quiet_feed_slows_down_and_news_resets_it(wire, ready, settings):
    wire.put("/test.xml", rss(stories(wire.base_url, "world", 1)))
    feed = feed_at(wire, interval_minutes=10)
    poll_feed(feed, ready, settings)
    assert state_of(ready, settings)["interval_minutes"] == 10
    poll_feed(feed, ready, settings)
    assert state_of(ready, settings)["interval_minutes"] == 15
    wire.put("/test.xml", rss(stories(wire.base_url, "news", 1)))
    poll_feed(feed, ready, settings)
    assert state_of(ready, settings)["interval_minutes"] == 10


def test_feeds_command_poll_and_list_on_the_demo_wire(wire, es, settings, tmp_path, capsys):
    registry = write_registry(tmp_path / "feeds.yaml", {"demo-world": wire.url("/world.xml"),
                                                        "demo-canada": wire.url("/canada.xml")})
    demo = with_registry(settings, registry)
    assert run_feeds_command(argparse.Namespace(action="poll", feed=None, file=None), demo) == 0
    out = capsys.readouterr().out
    assert "7 new pending item(s)" in out
    es.indices.refresh(index=[settings.feeds_alias, settings.articles_alias])
    assert run_feeds_command(argparse.Namespace(action="list", feed=None, file=None), demo) == 0
    listing = capsys.readouterr().out
    assert "demo-world" in listing and health_cell(listing, "demo-world") == "ok"
    hits = es.search(index=settings.articles_alias, query={"match": {"title": "glaciers"}}).body["hits"]["hits"]
    assert hits and hits[0]["_source"]["status"] == "pending"


def test_skipped_entries_are_counted_by_reason_in_summary_and_run_record(wire, ready, settings):
    entries = stories(wire.base_url, "world", 2) + [("No link", ""), ("Mail", "mailto:desk@wire.example"),
                                                      ("Script", "javascript:alert(1)")]
    wire.put("/test.xml", rss(entries))
    summary = summarize_polls([poll_feed(feed_at(wire), ready, settings).to_dict()])
    assert summary["new_count"] == 2 and summary["skipped"] == 3
    assert summary["skipped_by_reason"] == {"no_link": 1, "bad_link": 2}
    record = build_run_record("wiredesk_poll_feeds", "scheduled__1", "poll", summary)
    assert record["skipped_by_reason"] == {"no_link": 1, "bad_link": 2}


def test_first_poll_on_a_fresh_cluster_creates_the_indices(wire, es, settings):
    wire.put("/test.xml", rss(stories(wire.base_url, "world", 2)))
    fresh = settings.model_copy(update={"index_prefix": f"wdtest-fresh-{uuid.uuid4().hex[:10]}"})
    try:
        result = poll_feed(feed_at(wire), es, fresh)  # no ensure_indices beforehand
        assert result.new_count == 2
        assert es.indices.exists_alias(name=fresh.articles_alias) and es.indices.exists_alias(name=fresh.feeds_alias)
    finally:
        delete_indices(es, fresh)


def test_private_addresses_are_refused_unless_allowed(wire, ready, settings):
    wire.put("/test.xml", rss(stories(wire.base_url, "world", 1)))
    strict = settings.model_copy(update={"allow_private_addresses": False})
    result = poll_feed(feed_at(wire), ready, strict)
    assert result.status == "failed" and result.error["reason"] == "blocked_address"
    assert wire.hits("/test.xml") == 0


def test_interleave_by_host_spreads_one_hosts_feeds():
    feeds = [Feed(name=f"f{i}", url=f"https://{host}.example/{i}.xml") for i, host in enumerate("aaabc")]
    order = [f.url.split("//")[1][0] for f in interleave_by_host(feeds)]
    assert order == ["a", "b", "c", "a", "a"]


@pytest.mark.parametrize("location", ["ftp://files.example/feed.xml", "http://127.0.0.1:99999/x"])
def test_bad_redirect_targets_are_recorded(wire, ready, settings, location):
    wire.fail("/test.xml", "moved", location)
    result = poll_feed(feed_at(wire), ready, settings)
    assert result.status == "failed" and result.error["reason"] in ("bad_scheme", "bad_url")


def hours_ago(hours: float) -> str:
    """An ISO time ``hours`` before now, as feed states store it."""
    return iso(utcnow() - timedelta(hours=hours))


FEED_STATES = {  # each health label and stored state fields that earn it
    "ok": {"last_poll_at": hours_ago(0), "last_new_at": hours_ago(1), "last_duration": 0.4},
    "failing": {"last_poll_at": hours_ago(0), "consecutive_failures": 2, "last_status": "failed"},
    "unhealthy": {"last_poll_at": hours_ago(0), "consecutive_failures": Settings().unhealthy_after_failures},
    "disabled": {"last_poll_at": hours_ago(0), "disabled_reason": "http_410", "enabled": False},
    "silent": {"last_poll_at": hours_ago(0), "last_new_at": hours_ago(72), "last_duration": 0.4},
    "slow": {"last_poll_at": hours_ago(0), "last_new_at": hours_ago(1), "last_duration": 30.0},
    "never_polled": {},
}


def health_cell(listing: str, name: str) -> str:
    """The health column of a feed's row in the ``wiredesk feeds list`` table."""
    row = next(line for line in listing.splitlines() if f" {name} " in line)
    return [cell.strip() for cell in row.split("│")][5]


def test_every_health_label_has_a_state():
    assert set(FEED_STATES) == set(HEALTH_LABELS)


@pytest.mark.parametrize("label", FEED_STATES)
def test_feeds_list_and_feed_health_page_give_the_same_label(label, es, settings, tmp_path, capsys):
    listed = with_registry(settings, write_registry(tmp_path / "feeds.yaml", {"watched": "https://news.example.org/rss"}))
    save_state(es, settings, {**merge_config(load_feeds(listed)[0], {}), **FEED_STATES[label]})
    es.indices.refresh(index=settings.feeds_alias)
    assert run_feeds_command(argparse.Namespace(action="list", feed=None, file=None), listed) == 0
    assert health_cell(capsys.readouterr().out, "watched") == label.replace("_", " ")
    assert [row["health"] for row in feed_health_report(es, settings)["feeds"]] == [label]  # the page's rows
