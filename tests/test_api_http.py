"""The search API served by a real uvicorn server on 127.0.0.1, against the real Elasticsearch."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from index_support import es_client, es_settings, fresh_settings, make_articles  # noqa: F401

from pipeline.search.api import create_app
from pipeline.store import documents
from pipeline.store.bulk import index_articles
from pipeline.store.client import connect
from pipeline.store.indices import delete_indices, ensure_indices

pytestmark = pytest.mark.integration


def serve(app) -> tuple[uvicorn.Server, str]:
    """Start ``app`` on a free loopback port in a thread; returns the server and its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def api(es_url, tmp_path_factory):
    """A served API over a small realistic index; yields (httpx client, settings, docs)."""
    settings = fresh_settings(tmp_path_factory.mktemp("api"), es_url=es_url)
    es = connect(settings)
    ensure_indices(es, settings)
    docs = make_articles(60)
    index_articles(es, settings, docs, refresh=True)
    server, base = serve(create_app(settings))
    with httpx.Client(base_url=base, timeout=30) as client:
        yield client, settings, docs
    server.should_exit = True
    delete_indices(es, settings)


def test_search(api):
    client, _, docs = api
    resp = client.get("/api/search", params={"q": "sanctions", "source": ["Reuters", "AP"], "size": 5})
    assert resp.status_code == 200
    body = resp.json()
    assert body["hits"] and all(h["source"] in ("Reuters", "AP") for h in body["hits"])
    assert all("<mark>sanctions</mark>" in " ".join(h["highlight"].get("text", [])).lower() for h in body["hits"])
    assert {"sources", "people", "organizations", "places", "speakers", "days"} == set(body["facets"])


def test_search_paging_by_cursor(api):
    client, _, _ = api
    first = client.get("/api/search", params={"size": 20, "sort": "date", "collapse": "false"}).json()
    second = client.get("/api/search", params={"size": 20, "sort": "date", "collapse": "false",
                                               "cursor": first["next_cursor"]}).json()
    assert {h["id"] for h in first["hits"]}.isdisjoint(h["id"] for h in second["hits"])
    assert first["hits"][-1]["published_at"] >= second["hits"][0]["published_at"]


def test_quotes(api):
    client, _, _ = api
    body = client.get("/api/quotes", params={"q": "Iran", "speaker": "Momani"}).json()
    assert body["quotes"]
    for quote in body["quotes"]:
        assert quote["speaker"] == "Marwan Momani" and "Iran" in quote["text"] and quote["cue"]
        assert set(quote["article"]) >= {"id", "title", "url", "source", "published_at"}


def test_facets(api):
    client, _, docs = api
    body = client.get("/api/facets", params={"place": "Iran"}).json()
    assert body["total"] == sum("Iran" in [e["name"] for e in d["entities"]] for d in docs)
    assert body["facets"]["places"][0] == {"value": "Iran", "count": body["total"]}


def test_article_and_similar(api):
    client, _, docs = api
    _id = documents.doc_id(docs[5]["canonical_url"])
    body = client.get(f"/api/articles/{_id}", params={"similar": 3}).json()
    assert body["id"] == _id and body["text"] == docs[5]["text"]
    assert 0 < len(body["similar"]) <= 3
    assert client.get("/api/articles/does-not-exist").status_code == 404


def test_health(api):
    client, settings, docs = api
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["cluster"]["version"].startswith("9.")
    assert body["aliases"][settings.articles_alias]["documents"] == len(docs)


@pytest.mark.parametrize(
    "path,params,param,words",
    [
        ("/api/search", {"since": "last tuesday"}, "since", "expected a date"),
        ("/api/search", {"until": "2026-02-30"}, "until", "expected a date"),
        ("/api/search", {"since": "2026-11-09", "until": "2026-11-01"}, "since", "after until"),
        ("/api/search", {"size": 5000}, "size", "less than or equal to 100"),
        ("/api/search", {"sort": "popular"}, "sort", "'relevance' or 'date'"),
        ("/api/search", {"cursor": "garbage!"}, "cursor", "not a cursor"),
        ("/api/quotes", {"size": 101}, "size", "less than or equal"),
        ("/api/quotes", {"since": "soon"}, "since", "expected a date"),
        ("/api/facets", {"facet_size": 0}, "facet_size", "greater than or equal"),
        ("/api/articles/x", {"similar": 1000}, "similar", "less than or equal"),
    ],
)
def test_bad_parameters_are_422(api, path, params, param, words):
    client, _, _ = api
    resp = client.get(path, params=params)
    assert resp.status_code == 422
    [error] = resp.json()["detail"]
    assert error["loc"] == ["query", param] and words in error["msg"]


def test_openapi_schema_lists_endpoints(api):
    client, _, _ = api
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/search", "/api/quotes", "/api/facets", "/api/health", "/api/articles/{article_id}"} <= set(paths)


def test_mounted_under_prefix(es_client, es_settings):
    # The Airflow plugin mounts the same app under /wiredesk.
    outer = FastAPI()
    outer.mount("/wiredesk", create_app(es_settings))
    server, base = serve(outer)
    try:
        resp = httpx.get(f"{base}/wiredesk/api/search", params={"q": "anything"})
        assert resp.status_code == 200 and resp.json()["total"] == 0
    finally:
        server.should_exit = True


def test_missing_index_and_unreachable_cluster_are_503(es_url, tmp_path):
    missing = fresh_settings(tmp_path, es_url=es_url)
    down = fresh_settings(tmp_path, es_url="http://127.0.0.1:9", es_max_retries=0, es_request_timeout=2)
    for settings in (missing, down):
        server, base = serve(create_app(settings))
        try:
            assert httpx.get(f"{base}/api/search", params={"q": "x"}).status_code == 503
            assert httpx.get(f"{base}/api/health").status_code == 503
        finally:
            server.should_exit = True
