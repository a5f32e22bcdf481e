"""Feed and item health: failing, silent and slow feeds; items by status; retry-due failures."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.esclient import es_boundary
from pipeline.feed_state import SILENT_HOURS, health_of
from pipeline.settings import Settings


@es_boundary
def feed_health_report(es, settings: Settings, silent_hours: float = SILENT_HOURS) -> dict:
    """Every feed's health row plus counts by health."""
    resp = es.search(index=settings.feeds_alias, size=10000, query={"match_all": {}})
    now = datetime.now(UTC)
    rows = []
    for hit in resp["hits"]["hits"]:
        state = hit["_source"]
        health = health_of(state, settings, now, silent_hours)
        rows.append({"name": state.get("name"), "url": state.get("url"), "health": health,
                     "consecutive_failures": state.get("consecutive_failures", 0),
                     "last_status": state.get("last_status"), "last_poll_at": state.get("last_poll_at"),
                     "error": (state.get("error") or {}).get("message")})
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["health"]] = counts.get(row["health"], 0) + 1
    return {"feeds": sorted(rows, key=lambda r: (r["health"] == "ok", r["name"] or "")), "by_health": counts}


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
