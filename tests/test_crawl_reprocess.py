"""`wiredesk crawl --once` end to end in-process, then reprocessing from the raw archive alone."""

import pytest

from pipeline.crawl import crawl_once
from pipeline.replay import DEMO_ROOT, ReplayServer
from pipeline.reprocess import reprocess_outdated
from pipeline.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def crawled(settings, es, tmp_path):
    """Settings with a feeds file on a replay wire, after one crawl cycle (the wire is then gone)."""
    with ReplayServer(DEMO_ROOT) as wire:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - {{name: demo-world, url: '{wire.url('/world.xml')}', source: Demo Wire}}\n")
        crawl_settings = Settings(**{**settings.model_dump(), "feeds_file": feeds})
        summary = crawl_once(crawl_settings)
    es.indices.refresh(index=settings.articles_alias)
    return crawl_settings, summary


def test_crawl_once_polls_and_indexes_every_new_item(crawled, es):
    settings, summary = crawled
    assert summary["poll"]["new_count"] >= 4
    assert summary["ingest"]["indexed"] == summary["poll"]["new_count"]
    assert summary["ingest"]["failed"] == 0
    indexed = es.count(index=settings.articles_alias, query={"term": {"status": "indexed"}})["count"]
    assert indexed == summary["poll"]["new_count"]


def test_reprocess_rebuilds_outdated_documents_from_the_archive(crawled, es):
    settings, summary = crawled
    hit = es.search(index=settings.articles_alias, size=1, query={"term": {"status": "indexed"}})["hits"]["hits"][0]
    es.update(index=settings.articles_alias, id=hit["_id"], doc={"pipeline_version": "0", "text": ""},
              refresh=True)
    result = reprocess_outdated(es, settings)  # the replay wire is stopped: only the archive can serve
    assert result["reprocessed"] == 1
    rebuilt = es.get(index=settings.articles_alias, id=hit["_id"])["_source"]
    assert rebuilt["text"] == hit["_source"]["text"]
    assert rebuilt["pipeline_version"] == hit["_source"]["pipeline_version"]
