"""`wiredesk crawl --once` end to end in-process, then reprocessing from the raw archive alone."""

import os
import subprocess
import sys

import pytest
from index_support import closed_port  # noqa: F401

from pipeline.ingest.crawl import crawl_once
from pipeline.ingest.reprocess import reprocess_outdated
from pipeline.ops.replay import DEMO_ROOT, ReplayServer
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


def test_crawl_once_writes_a_poll_and_an_ingest_run_record(crawled, es):
    from pipeline.store.runs import recent_runs, runs_index

    settings, summary = crawled
    es.indices.refresh(index=runs_index(settings))
    records = {r["kind"]: r for r in recent_runs(es, settings)}
    assert sorted(records) == ["ingest", "poll"]
    assert {(r["dag_id"], r["run_id"]) for r in records.values()} == {("crawl", summary["run_id"])}
    assert records["poll"]["counts"] == {"feeds": 1, "new": summary["poll"]["new_count"], "failed": 0}
    assert records["ingest"]["counts"]["indexed"] == summary["ingest"]["indexed"]
    assert records["poll"]["started_at"] <= records["ingest"]["started_at"]


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


def test_reprocess_keeps_attempts_and_fetch_facts(crawled, es):
    """Reprocessing is not an attempt and fetches nothing: attempts, fetched_at and final_url stay."""
    settings, _ = crawled
    hit = es.search(index=settings.articles_alias, size=1, query={"term": {"status": "indexed"}})["hits"]["hits"][0]
    es.update(index=settings.articles_alias, id=hit["_id"], doc={"pipeline_version": "0"}, refresh=True)
    assert reprocess_outdated(es, settings)["reprocessed"] == 1
    rebuilt = es.get(index=settings.articles_alias, id=hit["_id"])["_source"]
    kept = ("attempts", "fetched_at", "final_url", "discovered_at", "raw_path")
    assert {k: rebuilt.get(k) for k in kept} == {k: hit["_source"][k] for k in kept}


@pytest.mark.parametrize("command", [["crawl", "--once"], ["feeds", "list"], ["search", "x"]])
def test_elasticsearch_down_is_one_clear_line(command, closed_port, tmp_path):
    url = f"http://127.0.0.1:{closed_port}"
    env = {**os.environ, "WIREDESK_ES_URL": url, "WIREDESK_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", *command], env=env, capture_output=True,
                          text=True, timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert lines[0].startswith(f"wiredesk {command[0]}: ") and url in lines[0]
