"""Ingest counts each stage an item gets through, against real pages on a local wire and the real Elasticsearch."""

from __future__ import annotations

import pytest

from pipeline.feeds.parse import FeedItem
from pipeline.feeds.poll import write_items
from pipeline.feeds.registry import Feed
from pipeline.ingest.claims import claim_items
from pipeline.ingest.process import process_chunk
from pipeline.ops.replay import DEMO_ROOT, ReplayServer
from pipeline.store.indices import ensure_indices

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STAGES = ("claimed", "fetched", "extracted", "enriched", "indexed", "failed")


@pytest.fixture
def wire():
    with ReplayServer(DEMO_ROOT, seed_path=None) as server:
        server.put("/world/too-short.html", "<html><head><title>Brief</title></head><body><p>Back soon.</p></body></html>",
                   "text/html; charset=utf-8")
        yield server


@pytest.mark.parametrize("path, counts, reasons", [
    ("/world/gone.html", (1, 0, 0, 0, 0, 1), {"http_404": 1}),                  # fetch fails
    ("/world/too-short.html", (1, 1, 0, 0, 0, 1), {"no_article": 1}),          # extraction fails
    ("/world/port-strike-talks.html", (1, 1, 1, 1, 1, 0), {}),                 # every stage
])
def test_each_stage_counts_the_items_that_got_through_it(wire, es, settings, path, counts, reasons):
    ensure_indices(es, settings)
    url = wire.url(path)
    item = FeedItem(url=url, canonical_url=url, guid=url, title="A story", summary="", published_at=None)
    write_items(es, settings, Feed(name="test", url=wire.url("/world.xml"), source="Test Wire"), [item])
    ids = claim_items(es, settings, "run-1")
    result = process_chunk(es, settings, ids, "run-1").to_dict()
    assert tuple(result[stage] for stage in STAGES) == counts
    assert result["failed_by_reason"] == reasons
