"""Claims: which items an ingest run takes, the claims of dead runs released, items counted by status.

Claims use optimistic concurrency (``if_seq_no``/``if_primary_term``), so two runs never process
the same item; pending items, retry-due failures and stale claims are claimable.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from pipeline.settings import Settings
from pipeline.store.client import es_boundary
from pipeline.store.documents import CLAIM_FIELDS, MAX_ATTEMPTS, claim_update, release_update

LOGGER = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=30)  # a claim older than this belongs to a dead run


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def claimable_query(now: datetime) -> dict:
    """Pending items, retry-due failures and stale claims."""
    stale = (now - STALE_CLAIM).isoformat()
    return {"bool": {"minimum_should_match": 1, "should": [
        {"term": {"status": "pending"}},
        {"bool": {"filter": [
            {"term": {"status": "failed"}}, {"term": {"error.retryable": True}},
            {"range": {"next_attempt_at": {"lte": now.isoformat()}}},
            {"range": {"attempts": {"lt": MAX_ATTEMPTS}}},
        ]}},
        {"bool": {"filter": [{"term": {"status": "claimed"}}, {"range": {"claimed_at": {"lt": stale}}}]}},
    ]}}


@es_boundary
def claim_items(es, settings: Settings, run_id: str, limit: int = 200) -> list[str]:
    """Claim up to ``limit`` items for this run; ids another run claimed first are left to it."""
    now = utcnow()
    # Pending items written a moment ago (crawl --once polls then claims at once) must be visible.
    es.indices.refresh(index=settings.articles_alias)
    resp = es.search(index=settings.articles_alias, query=claimable_query(now), size=limit,
                     sort=[{"discovered_at": {"order": "asc", "unmapped_type": "date"}}],
                     seq_no_primary_term=True, source=False)
    hits = resp["hits"]["hits"]
    if not hits:
        return []
    ops = []
    for hit in hits:
        ops.append({"update": {"_index": hit["_index"], "_id": hit["_id"], "if_seq_no": hit["_seq_no"],
                               "if_primary_term": hit["_primary_term"]}})
        ops.append({"doc": claim_update(run_id, now)})
    result = es.bulk(operations=ops, refresh="wait_for")
    claimed = [item["update"]["_id"] for item in result["items"] if item["update"].get("status") == 200]
    LOGGER.info("claimed %d of %d claimable items for %s", len(claimed), len(hits), run_id)
    return claimed


def chunked(ids: list[str], size: int) -> list[list[str]]:
    """Split ids into chunks for mapped tasks."""
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def load_claimed(es, settings: Settings, ids: list[str], run_id: str) -> list[dict]:
    """The claimed documents that still belong to this run."""
    resp = es.mget(index=settings.articles_alias, ids=ids, source_includes=list(CLAIM_FIELDS))
    docs = []
    for found in resp["docs"]:
        src = found.get("_source")
        if found.get("found") and src and src.get("claimed_by") == run_id and src.get("status") == "claimed":
            docs.append({"_id": found["_id"], **src})
    return docs


@es_boundary
def release_stale_claims(es, settings: Settings) -> int:
    """Put items whose claim is older than STALE_CLAIM back to pending (their run died)."""
    stale = (utcnow() - STALE_CLAIM).isoformat()
    query = {"bool": {"filter": [{"term": {"status": "claimed"}}, {"range": {"claimed_at": {"lt": stale}}}]}}
    resp = es.search(index=settings.articles_alias, query=query, size=1000, source=False)
    ids = [hit["_id"] for hit in resp["hits"]["hits"]]
    if ids:
        from pipeline.store.bulk import update_documents

        update_documents(es, settings, settings.articles_alias, {i: release_update() for i in ids})
    return len(ids)


@es_boundary
def status_counts(es, settings: Settings) -> dict[str, int]:
    """Article documents by pipeline status."""
    resp = es.search(index=settings.articles_alias, size=0, aggs={"s": {"terms": {"field": "status", "size": 20}}})
    return {b["key"]: b["doc_count"] for b in resp["aggregations"]["s"]["buckets"]}


@es_boundary
def count_retry_due(es, settings: Settings) -> int:
    """Failed items whose backoff has passed and that the next ingest run will claim."""
    query = {"bool": {"filter": [{"term": {"status": "failed"}}, {"term": {"error.retryable": True}},
                                 {"range": {"next_attempt_at": {"lte": "now"}}}]}}
    return es.count(index=settings.articles_alias, query=query)["count"]
