"""Migration: next version, every document kept, search answering throughout, the CLI."""

from __future__ import annotations

import json
import threading
import time

import pytest
from index_support import es_client, es_settings, make_articles  # noqa: F401

from pipeline.cli.main import main
from pipeline.errors import PermanentError
from pipeline.feeds.state import save_state
from pipeline.settings import Settings
from pipeline.store import documents
from pipeline.store.bulk import index_articles, now_iso
from pipeline.store.indices import (
    cluster_modules,
    copy_documents,
    copy_recent,
    create_index,
    current_index,
    index_name,
    migrate,
    swap_alias,
)
from pipeline.store import mappings
from pipeline.store.mappings import build_articles_mappings

pytestmark = pytest.mark.integration


class Searcher(threading.Thread):
    """Searches the alias in a loop and records every answer (count) or error."""

    def __init__(self, es, alias):
        super().__init__(daemon=True)
        self.es, self.alias, self.counts, self.errors = es, alias, [], []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                body = self.es.search(index=self.alias, query={"match": {"text": "ministers"}}, size=0, track_total_hits=True)
                self.counts.append(body["hits"]["total"]["value"])
            except Exception as exc:  # recorded; the test asserts there were none
                self.errors.append(exc)


def test_migration_keeps_documents_and_search_answering(es_client, es_settings):
    docs = make_articles(600)
    index_articles(es_client, es_settings, docs, refresh=True)
    searcher = Searcher(es_client, es_settings.articles_alias)
    searcher.start()
    time.sleep(0.2)
    try:
        result = migrate(es_client, es_settings, "articles")
    finally:
        searcher.stop.set()
        searcher.join()
    assert result["to"] == f"{es_settings.index_prefix}-articles-v2"
    assert result["documents"] == 600
    assert searcher.errors == [] and searcher.counts
    assert min(searcher.counts) == 600
    assert current_index(es_client, es_settings, "articles") == result["to"]
    es_client.indices.refresh(index=es_settings.articles_alias)
    assert es_client.count(index=es_settings.articles_alias).body["count"] == 600
    # writes through the alias now land in v2
    extra = make_articles(5, start=1000)
    index_articles(es_client, es_settings, extra, refresh=True)
    assert es_client.count(index=result["to"]).body["count"] == 605


def test_writes_during_copy_are_caught_up(es_client, es_settings):
    index_articles(es_client, es_settings, make_articles(300), refresh=True)
    old = current_index(es_client, es_settings, "articles")
    new = index_name(es_settings, "articles", 2)
    create_index(es_client, new)
    started = now_iso()
    copy_documents(es_client, es_settings, old, new)
    # a write lands in the old index after the copy, before the alias moves
    late = make_articles(1, start=5000)[0]
    changed = dict(make_articles(1)[0], title="Updated headline")
    index_articles(es_client, es_settings, [late, changed], refresh=True)
    swap_alias(es_client, es_settings.articles_alias, old, new)
    assert copy_recent(es_client, old, new, started) == 2
    es_client.indices.refresh(index=new)
    assert es_client.count(index=new).body["count"] == 301
    got = es_client.get(index=new, id=documents.doc_id(changed["canonical_url"])).body["_source"]
    assert got["title"] == "Updated headline"


def test_migrate_feeds_and_cli(es_client, es_settings, monkeypatch, capsys):
    for i in range(4):  # feed state keyed as the poller keys it (feeds.state.state_id)
        save_state(es_client, es_settings, {"url": f"https://news.example.org/f{i}.xml", "name": f"f{i}"})
    es_client.indices.refresh(index=es_settings.feeds_alias)
    monkeypatch.setattr("pipeline.settings.get_settings", lambda: es_settings)
    assert main(["index", "migrate"]) == 0
    moved = json.loads(capsys.readouterr().out)
    assert [(m["to"], m["documents"]) for m in moved] == [
        (f"{es_settings.index_prefix}-articles-v2", 0),
        (f"{es_settings.index_prefix}-feeds-v2", 4),
    ]
    assert main(["index", "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["aliases"][es_settings.feeds_alias] == {"index": f"{es_settings.index_prefix}-feeds-v2", "documents": 4}
    assert main(["index", "setup"]) == 0  # idempotent after a migration: stays on v2
    assert json.loads(capsys.readouterr().out)["feeds"] == f"{es_settings.index_prefix}-feeds-v2"


def test_cluster_modules_reports_no_reindex_on_core_distribution(es_client):
    modules = cluster_modules(es_client)
    assert "transport-netty4" in modules and "reindex" not in modules


def test_migration_that_does_not_fit_leaves_alias(es_client, es_settings, monkeypatch):
    index_articles(es_client, es_settings, make_articles(20), refresh=True)
    original = build_articles_mappings

    def stricter():  # the next version maps word_count as a date: no article fits it
        mappings = original()
        mappings["properties"]["word_count"] = {"type": "date", "format": "yyyy"}
        return mappings

    monkeypatch.setattr(mappings, "build_articles_mappings", stricter)
    with pytest.raises(PermanentError, match="did not fit") as info:
        migrate(es_client, es_settings, "articles")
    assert info.value.reason == "migration_failed"
    assert current_index(es_client, es_settings, "articles") == f"{es_settings.index_prefix}-articles-v1"
    assert es_client.count(index=es_settings.articles_alias).body["count"] == 20


@pytest.mark.parametrize("argv", [["index", "status"], ["index", "setup"], ["search", "anything"]])
def test_cli_reports_unreachable_cluster(tmp_path, monkeypatch, capsys, argv):
    down = Settings(es_url="http://127.0.0.1:9", es_max_retries=0, index_prefix="wdidx-down", data_dir=tmp_path)
    monkeypatch.setattr("pipeline.settings.get_settings", lambda: down)
    assert main(argv) == 1
    assert "not answering" in capsys.readouterr().err
