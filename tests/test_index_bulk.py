"""Bulk writes: idempotence, per-item failure records, 429/503 retries through a faulty proxy."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading

import httpx
import pytest
from index_support import closed_port, es_client, es_settings, make_articles  # noqa: F401

from pipeline.store import documents
from pipeline.store.bulk import BulkResult, BulkWriteError, index_articles, update_documents
from pipeline.store.client import connect

pytestmark = pytest.mark.integration


def count(es, settings) -> int:
    es.indices.refresh(index=settings.articles_alias)
    return es.count(index=settings.articles_alias).body["count"]


@pytest.mark.parametrize("workers,chunk", [(1, 500), (2, 500), (3, 7)])
def test_same_batch_twice_leaves_same_count(es_client, es_settings, workers, chunk):
    settings = es_settings.model_copy(update={"bulk_workers": workers, "bulk_chunk_docs": chunk})
    docs = make_articles(50)
    first = index_articles(es_client, settings, docs, refresh=True)
    second = index_articles(es_client, settings, docs, refresh=True)
    assert (first.succeeded, second.succeeded, first.failed + second.failed) == (50, 50, 0)
    assert count(es_client, es_settings) == 50


@pytest.mark.parametrize(
    "field,value",
    [("published_at", "not a date"), ("word_count", "many"), ("entities", "not-an-object"), ("attempts", {"x": 1})],
)
def test_malformed_document_is_recorded_failed_rest_land(es_client, es_settings, field, value):
    docs = make_articles(10)
    docs[3][field] = value
    result = index_articles(es_client, es_settings, docs, refresh=True)
    assert result.succeeded == 9
    [failure] = result.failures
    bad_id = documents.doc_id(docs[3]["canonical_url"])
    assert failure["_id"] == bad_id and failure["status"] == 400 and failure["reason"].endswith("_exception")
    assert count(es_client, es_settings) == 10  # the bad item is visible, as failed
    recorded = es_client.get(index=es_settings.articles_alias, id=bad_id).body["_source"]
    assert recorded["status"] == "failed"
    assert recorded["error"]["reason"] == "index_rejected" and recorded["error"]["message"].startswith(failure["reason"])
    assert recorded["canonical_url"] == docs[3]["canonical_url"]


@pytest.mark.parametrize("field,value", [("published_at", "not a date"), ("entities", "not-an-object")])
def test_rejected_document_is_released_from_its_claim(es_client, es_settings, field, value):
    """Ingest's third attempt at a claimed item builds a document Elasticsearch rejects."""
    item = make_articles(1)[0]
    _id = documents.doc_id(item["canonical_url"])
    claimed = {**item, "status": "claimed", "claimed_by": "run-1", "attempts": 2}
    index_articles(es_client, es_settings, [claimed], refresh=True)
    built = {**item, "_id": _id, "attempts": 3, "claimed_by": None, field: value}  # attempts counts this one
    result = index_articles(es_client, es_settings, [built], refresh=True)
    [failure] = result.failures
    recorded = es_client.get(index=es_settings.articles_alias, id=_id).body["_source"]
    assert (recorded["status"], recorded["claimed_by"], recorded["attempts"]) == ("failed", None, 3)
    assert recorded["error"] == {"reason": "index_rejected", "retryable": False,
                                 "message": f"{failure['reason']}: {failure['message']}"}


@pytest.mark.parametrize("workers", [1, 2])
def test_bulk_write_to_a_stopped_cluster_raises_bulk_write_error(es_settings, closed_port, workers):
    down = es_settings.model_copy(update={"es_url": f"http://127.0.0.1:{closed_port}", "es_max_retries": 0,
                                          "bulk_workers": workers})
    with pytest.raises(BulkWriteError) as info:
        index_articles(connect(down), down, make_articles(5))
    assert info.value.reason == "es_unavailable" and info.value.retryable
    assert isinstance(info.value.partial, BulkResult) and info.value.partial.succeeded == 0
    assert f"127.0.0.1:{closed_port}" in str(info.value)


def test_document_without_url_is_reported_not_dropped(es_client, es_settings):
    docs = make_articles(3)
    del docs[1]["url"], docs[1]["canonical_url"]
    result = index_articles(es_client, es_settings, docs, refresh=True)
    assert result.succeeded == 2
    assert [f["reason"] for f in result.failures] == ["missing_url"]


def test_update_documents_changes_status(es_client, es_settings):
    doc = make_articles(1)[0]
    index_articles(es_client, es_settings, [doc], refresh=True)
    _id = documents.doc_id(doc["canonical_url"])
    update = {_id: {"status": "claimed", "claimed_by": "worker-1", "claimed_at": "2026-11-26T10:00:00Z"}}
    result = update_documents(es_client, es_settings, es_settings.articles_alias, update, refresh=True)
    assert result.succeeded == 1
    source = es_client.get(index=es_settings.articles_alias, id=_id).body["_source"]
    assert (source["status"], source["claimed_by"], source["title"]) == ("claimed", "worker-1", doc["title"])


class FaultyProxy(http.server.ThreadingHTTPServer):
    """Forwards to Elasticsearch, failing on purpose: whole bulk requests answered with ``statuses``,
    then ``reject_items`` bulk requests whose first item is rejected with a per-item 429."""

    def __init__(self, upstream: str, statuses: list[int], reject_items: int = 0):
        self.upstream, self.statuses, self.reject_items = upstream, list(statuses), reject_items
        self.bulk_calls, self.bulk_items, self.bulk_bytes = 0, [], []
        super().__init__(("127.0.0.1", 0), ProxyHandler)


def reject_first_item(lines: list[bytes]) -> tuple[list[bytes], dict]:
    """The bulk body without its first action, and the 429 item to report for it."""
    action = json.loads(lines[0])
    op, meta = next(iter(action.items()))
    item = {op: {"_index": meta.get("_index"), "_id": meta.get("_id"), "status": 429,
                 "error": {"type": "es_rejected_execution_exception", "reason": "rejected by the test proxy"}}}
    return lines[2:], item  # index/create/update actions are two lines


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def forward(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        server: FaultyProxy = self.server  # type: ignore[assignment]
        rejected = None
        if "_bulk" in self.path:
            server.bulk_calls += 1
            lines = [line for line in body.split(b"\n") if line.strip()]
            server.bulk_items.append(len(lines) // 2)
            server.bulk_bytes.append(len(body))
            if server.statuses:
                status = server.statuses.pop(0)
                payload = b'{"error":{"type":"es_rejected_execution_exception","reason":"queue full"},"status":%d}' % status
                return self.reply(status, payload, "application/json")
            if server.reject_items:
                server.reject_items -= 1
                lines, rejected = reject_first_item(lines)
                body = b"\n".join(lines) + b"\n"
        if rejected and not lines:  # nothing left to forward
            return self.reply(200, json.dumps({"took": 0, "errors": True, "items": [rejected]}).encode(), "application/json")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
        resp = httpx.request(self.command, self.server.upstream + self.path, content=body, headers=headers)
        payload = resp.content
        if rejected:
            answer = resp.json()
            answer["errors"], answer["items"] = True, [rejected, *answer["items"]]
            payload = json.dumps(answer).encode()
        self.reply(resp.status_code, payload, resp.headers.get("content-type", "application/json"))

    def reply(self, status, payload, ctype):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = forward


@contextlib.contextmanager
def through_proxy(settings, statuses=(), reject_items=0, **overrides):
    """Settings and a client that reach Elasticsearch through a FaultyProxy (no client-level retries)."""
    proxy = FaultyProxy(settings.effective_es_url, list(statuses), reject_items)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    update = {"es_url": f"http://127.0.0.1:{proxy.server_port}", "es_max_retries": 0, "bulk_initial_backoff": 0.02}
    via_proxy = settings.model_copy(update={**update, **overrides})
    try:
        yield proxy, via_proxy, connect(via_proxy)
    finally:
        proxy.shutdown()


@pytest.mark.parametrize("statuses", [[429], [503, 429], [429, 429, 503]])
def test_bulk_retries_rejected_requests_with_backoff(es_client, es_settings, statuses):
    with through_proxy(es_settings, statuses) as (proxy, via_proxy, client):
        result = index_articles(client, via_proxy, make_articles(20), refresh=True)
    assert (result.succeeded, result.failed) == (20, 0)
    assert proxy.bulk_calls == len(statuses) + 1
    assert count(es_client, es_settings) == 20


@pytest.mark.parametrize("rejections", [1, 3])
def test_bulk_retries_rejected_items(es_client, es_settings, rejections):
    with through_proxy(es_settings, reject_items=rejections) as (proxy, via_proxy, client):
        result = index_articles(client, via_proxy, make_articles(10), refresh=True)
    assert (result.succeeded, result.failed) == (10, 0)
    assert proxy.bulk_items == [10, 1, 1, 1][: rejections + 1]  # only the rejected item is sent again
    assert count(es_client, es_settings) == 10


@pytest.mark.parametrize(
    "overrides,check",
    [
        ({"bulk_chunk_docs": 4}, lambda p: p.bulk_items == [4, 4, 4, 4, 4]),
        ({"bulk_chunk_bytes": 8_000}, lambda p: len(p.bulk_items) > 2 and max(p.bulk_bytes) <= 8_000),
    ],
)
def test_bulk_chunks_by_count_and_bytes(es_client, es_settings, overrides, check):
    with through_proxy(es_settings, **overrides) as (proxy, via_proxy, client):
        result = index_articles(client, via_proxy, make_articles(20))
    assert result.succeeded == 20 and check(proxy), (proxy.bulk_items, proxy.bulk_bytes)


def test_rejections_beyond_retries_are_reported(es_client, es_settings):
    with through_proxy(es_settings, [429] * 3, bulk_max_retries=2) as (proxy, via_proxy, client):
        result = index_articles(client, via_proxy, make_articles(5))
    assert result.succeeded == 0
    assert [f["status"] for f in result.failures] == [429] * 5
    assert count(es_client, es_settings) == 0  # retryable failures are reported, not recorded as failed items
