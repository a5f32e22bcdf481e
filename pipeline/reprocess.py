"""Re-extract and re-enrich indexed articles from the raw archive (never refetching)."""

from __future__ import annotations

import logging

from pipeline import PIPELINE_VERSION
from pipeline.errors import WiredeskError
from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)

KEEP_FIELDS = ["url", "canonical_url", "guid", "feed", "source", "tags", "discovered_at", "title", "summary",
               "authors", "published_at", "attempts", "fetched_at"]


def outdated_query(since: str | None, until: str | None, source: str | None) -> dict:
    """Indexed documents of another pipeline version, optionally in a date range or one source."""
    filters: list[dict] = [{"term": {"status": "indexed"}}]
    if since or until:
        filters.append({"range": {"published_at": {k: v for k, v in (("gte", since), ("lte", until)) if v}}})
    if source:
        filters.append({"term": {"source": source}})
    return {"bool": {"filter": filters, "must_not": [{"term": {"pipeline_version": PIPELINE_VERSION}}]}}


def reprocess_doc(hit: dict, settings: Settings) -> dict:
    """One document rebuilt from its archived HTML."""
    from pipeline.archive import load_raw
    from pipeline.ingest import build_from_html

    item = {"_id": hit["_id"], **hit["_source"], "attempts": max(0, int(hit["_source"].get("attempts") or 1) - 1)}
    doc = build_from_html(item, load_raw(hit["_id"], settings), item.get("url"), settings,
                          hit["_source"].get("raw_path"))
    doc["fetched_at"] = hit["_source"].get("fetched_at")
    return doc


def reprocess_outdated(es, settings: Settings, since=None, until=None, source=None, limit: int = 5000) -> dict:
    """Rebuild outdated documents; failures are counted and left as they were."""
    from elasticsearch.helpers import scan

    from pipeline.fingerprint import assign_duplicate_groups
    from pipeline.index import index_articles

    docs, failed = [], {}
    query = {"query": outdated_query(since, until, source), "_source": KEEP_FIELDS + ["raw_path"]}
    for n, hit in enumerate(scan(es, index=settings.articles_alias, query=query)):
        if n >= limit:
            break
        try:
            docs.append(reprocess_doc(hit, settings))
        except WiredeskError as exc:
            LOGGER.warning("cannot reprocess %s: %s", hit["_id"], exc)
            failed[exc.reason] = failed.get(exc.reason, 0) + 1
    assign_duplicate_groups(es, settings, docs)
    result = index_articles(es, settings, docs) if docs else None
    return {"reprocessed": result.succeeded if result else 0, "failed_by_reason": failed,
            "pipeline_version": PIPELINE_VERSION}
