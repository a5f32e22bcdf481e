"""Index set-up: templates, aliases, analysis detection, ids, and a round trip through the alias."""

from __future__ import annotations

import threading

import pytest
from index_support import es_client, es_settings, fresh_settings, make_articles  # noqa: F401

from pipeline.store import documents
from pipeline.store.bulk import index_articles
from pipeline.store.client import connect
from pipeline.store.indices import cluster_info, current_index, ensure_indices
from pipeline.store import mappings
from pipeline.store.mappings import TEXT_ANALYZER, build_articles_mappings, build_template, has_english_analysis


def test_doc_id_is_stable_sha1_of_canonical_url():
    url = "https://news.example.org/world/2026/11/01/story"
    assert documents.doc_id(url) == documents.doc_id(url + "  ")
    assert len(documents.doc_id(url)) == 40
    assert documents.doc_id(url) != documents.doc_id(url + "-2")


@pytest.mark.parametrize("english", [True, False])
def test_template_analysis_branches(english, tmp_path):
    body = build_template(fresh_settings(tmp_path), "articles", english)
    analyzer = body["template"]["settings"]["analysis"]["analyzer"][TEXT_ANALYZER]
    if english:
        assert analyzer["type"] == "custom"
        assert {"asciifolding", "lowercase", "wd_english_stemmer", "wd_english_possessive", "wd_english_stop"} <= set(
            analyzer["filter"]
        )
        filters = body["template"]["settings"]["analysis"]["filter"]
        assert filters["wd_english_stemmer"] == {"type": "stemmer", "language": "english"}
    else:
        assert analyzer["type"] == "standard"
    assert body["template"]["mappings"]["dynamic"] is False
    assert body["_meta"]["english_analysis"] is english


def test_mapping_shapes():
    props = build_articles_mappings()["properties"]
    assert props["entities"]["type"] == "nested"
    assert props["quotes"]["type"] == "nested"
    assert props["title"]["fields"]["keyword"]["type"] == "keyword"
    for name in ("people", "organizations", "places", "speakers", "source", "status", "duplicate_group"):
        assert props[name]["type"] == "keyword"
    for name in ("published_at", "claimed_at", "next_attempt_at", "discovered_at"):
        assert props[name]["type"] == "date"
    assert set(props["error"]["properties"]) >= {"reason", "message"}


@pytest.mark.integration
def test_real_cluster_has_no_english_chain_and_accepts_standard(es_client, es_settings):
    # The dev cluster is the core-only distribution: no analysis-common module.
    assert has_english_analysis(es_client) is False
    body = es_client.indices.get_index_template(name=f"{es_settings.index_prefix}-articles").body
    analysis = body["index_templates"][0]["index_template"]["template"]["settings"]["index"]["analysis"]
    assert analysis["analyzer"][TEXT_ANALYZER]["type"] == "standard"


@pytest.mark.integration
def test_cluster_info_reports_version_and_health(es_client):
    info = cluster_info(es_client)
    assert info["version"].count(".") == 2
    assert info["status"] in {"green", "yellow"}


@pytest.mark.integration
def test_ensure_indices_is_idempotent(es_client, es_settings):
    first = current_index(es_client, es_settings, "articles")
    again = ensure_indices(es_client, es_settings)
    assert again == {"articles": f"{es_settings.index_prefix}-articles-v1", "feeds": f"{es_settings.index_prefix}-feeds-v1"}
    assert first == again["articles"]


@pytest.mark.integration
def test_ensure_indices_if_missing_changes_nothing_when_all_exist(es_client, es_settings):
    """A run's first task asks once; templates (cluster-state updates) are left to `wiredesk index setup`."""
    es_client.indices.delete_index_template(name=f"{es_settings.index_prefix}-articles")
    assert ensure_indices(es_client, es_settings, if_missing=True) == {}
    assert not es_client.indices.exists_index_template(name=f"{es_settings.index_prefix}-articles")


@pytest.mark.integration
def test_ensure_indices_if_missing_sets_up_a_fresh_cluster(es, settings):
    created = ensure_indices(es, settings, if_missing=True)
    assert created == {"articles": f"{settings.index_prefix}-articles-v1", "feeds": f"{settings.index_prefix}-feeds-v1"}
    assert es.indices.exists(index=[settings.articles_alias, settings.feeds_alias, f"{settings.index_prefix}-runs"])


@pytest.mark.integration
def test_ensure_indices_concurrent_callers(es_settings):
    clients = [connect(es_settings) for _ in range(4)]
    errors: list[BaseException] = []

    def call(client):
        try:
            ensure_indices(client, es_settings)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    aliases = clients[0].indices.get_alias(name=es_settings.articles_alias).body
    assert list(aliases) == [f"{es_settings.index_prefix}-articles-v1"]


@pytest.mark.integration
def test_round_trip_index_get_search(es_client, es_settings):
    doc = make_articles(1)[0]
    result = index_articles(es_client, es_settings, [doc], refresh=True)
    assert (result.succeeded, result.failed) == (1, 0)
    _id = documents.doc_id(doc["canonical_url"])
    got = es_client.get(index=es_settings.articles_alias, id=_id).body
    assert got["_source"]["title"] == doc["title"]
    assert got["_source"]["people"] == ["Marwan Momani", doc["entities"][1]["name"]]
    assert got["_source"]["speakers"] == [q["speaker"] for q in doc["quotes"]]
    hits = es_client.search(index=es_settings.articles_alias, query={"match": {"text": "output cuts"}}).body
    assert [h["_id"] for h in hits["hits"]["hits"]] == [_id]


@pytest.mark.integration
def test_junk_fields_do_not_pollute_mapping(es_client, es_settings):
    doc = dict(make_articles(1)[0], junk_field="x", another={"deep": 1})
    assert index_articles(es_client, es_settings, [doc], refresh=True).failed == 0
    mapping = es_client.indices.get_mapping(index=es_settings.articles_alias).body
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert "junk_field" not in props and "another" not in props


@pytest.mark.integration
def test_ensure_indices_adds_new_fields_to_existing_index(es_client, es_settings, monkeypatch):
    original = build_articles_mappings

    def with_new_field():
        mappings = original()
        mappings["properties"]["new_keyword"] = {"type": "keyword"}
        return mappings

    monkeypatch.setattr(mappings, "build_articles_mappings", with_new_field)
    ensure_indices(es_client, es_settings)
    mapping = es_client.indices.get_mapping(index=es_settings.articles_alias).body
    assert next(iter(mapping.values()))["mappings"]["properties"]["new_keyword"] == {"type": "keyword"}


@pytest.mark.integration
def test_pipeline_state_fields_are_mapped(es_client, es_settings):
    doc = dict(make_articles(1)[0], status="failed", claimed_by="run-1", claimed_at="2026-11-26T10:00:00Z",
               error={"reason": "http_404", "message": "not found", "retryable": False}, attempts=2,
               next_attempt_at="2026-11-26T11:00:00Z", discovered_at="2026-11-26T09:00:00Z", guid="g-1",
               raw_path="raw/ab/cd.html.gz", tags=["world"], fingerprint_bands=["b1", "b2"])
    index_articles(es_client, es_settings, [doc], refresh=True)
    query = {"bool": {"filter": [{"term": {"status": "failed"}}, {"term": {"error.reason": "http_404"}},
                                 {"range": {"next_attempt_at": {"lte": "2026-11-26T12:00:00Z"}}},
                                 {"terms": {"fingerprint_bands": ["b2"]}}, {"range": {"attempts": {"gte": 2}}}]}}
    assert es_client.count(index=es_settings.articles_alias, query=query).body["count"] == 1
