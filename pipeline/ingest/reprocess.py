"""Re-extract and re-enrich indexed articles from the raw archive (never refetching)."""

from __future__ import annotations

import logging

from pipeline import PIPELINE_VERSION
from pipeline.errors import WiredeskError
from pipeline.settings import Settings
from pipeline.store.client import es_boundary
from pipeline.store.documents import FETCH_FIELDS, KEEP_FIELDS

LOGGER = logging.getLogger(__name__)


def outdated_query(since: str | None, until: str | None, source: str | None) -> dict:
    """Indexed documents of another pipeline version, optionally in a date range or one source."""
    filters: list[dict] = [{"term": {"status": "indexed"}}]
    if since or until:
        filters.append({"range": {"published_at": {k: v for k, v in (("gte", since), ("lte", until)) if v}}})
    if source:
        filters.append({"term": {"source": source}})
    return {"bool": {"filter": filters, "must_not": [{"term": {"pipeline_version": PIPELINE_VERSION}}]}}


def reprocess_doc(hit: dict, settings: Settings) -> dict:
    """One document rebuilt from its archived HTML: same attempts, same fetch facts, new extraction."""
    from pipeline.ingest.process import build_from_html
    from pipeline.store.archive import load_raw

    stored = hit["_source"]
    fetched = {name: stored.get(name) for name in FETCH_FIELDS}
    return build_from_html({"_id": hit["_id"], **stored}, load_raw(hit["_id"], settings), settings,
                           stored.get("raw_path"), fetched, new_attempt=False)


@es_boundary
def reprocess_outdated(es, settings: Settings, since=None, until=None, source=None, limit: int = 5000) -> dict:
    """Rebuild outdated documents; failures are counted and left as they were."""
    from elasticsearch.helpers import scan

    from pipeline.ingest.duplicates import assign_duplicate_groups
    from pipeline.store.bulk import index_articles

    docs, failed = [], {}
    query = {"query": outdated_query(since, until, source), "_source": list(KEEP_FIELDS)}
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
